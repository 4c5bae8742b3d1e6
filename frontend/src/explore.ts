/**
 * Data exploration as the kernel answers it (`explore` in docs/protocol.md): an inspection, table pages sorted
 * and filtered by the kernel, column summaries, counts, CSV and plot previews, read into typed values.
 */
import type { ExploreOp, Reply, TablePage } from './protocol';

type Json = Record<string, unknown>;

export interface SchemaField {
  name: string;
  type: string;
  nullable: boolean;
  children?: SchemaField[];
}

export interface TreeNode {
  label: string;
  type: string;
  summary: string;
  children?: TreeNode[];
  /** How many parts the value has, and how many of them are not shown. */
  size?: number;
  more?: number;
}

interface InspectionBase {
  type: string;
  /** The symbol the value is bound to (a saved plot names it); null for a table output of no symbol. */
  symbol: string | null;
}

export type Inspection =
  | (InspectionBase & { kind: 'table'; schema: SchemaField[]; row_count: number | null })
  | (InspectionBase & { kind: 'tree'; tree: TreeNode })
  | (InspectionBase & { kind: 'text'; text: string; offset: number; total_chars: number; page_chars: number });

export interface Bucket {
  start: number;
  end: number;
  count: number;
}

export interface ColumnSummary {
  column: string;
  type: string;
  rows: number;
  nulls: number;
  distinct: number;
  distinct_approximate?: boolean;
  numeric: boolean;
  min?: unknown;
  max?: unknown;
  mean?: number | null;
  histogram?: Bucket[];
  top?: { value: string; count: number }[];
}

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'contains', 'is_null', 'not_null'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  column: string;
  op: FilterOp;
  value?: string;
}

export interface Sort {
  column: string;
  descending: boolean;
}

export interface TableQuery {
  sort: Sort[];
  filters: Filter[];
}

export type ExploreCall = (op: ExploreOp, args: Json) => Promise<Reply<Json>>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isInteger(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function parseField(raw: unknown): SchemaField | null {
  if (!isObject(raw) || typeof raw.name !== 'string') return null;
  const field: SchemaField = { name: raw.name, type: str(raw.type), nullable: raw.nullable === true };
  if (Array.isArray(raw.children)) field.children = raw.children.map(parseField).filter((f): f is SchemaField => f !== null);
  return field;
}

function parseNode(raw: unknown): TreeNode | null {
  if (!isObject(raw)) return null;
  const node: TreeNode = { label: str(raw.label), type: str(raw.type), summary: str(raw.summary) };
  if (Array.isArray(raw.children)) node.children = raw.children.map(parseNode).filter((n): n is TreeNode => n !== null);
  if (isInt(raw.size)) node.size = raw.size;
  if (isInt(raw.more)) node.more = raw.more;
  return node;
}

export function parseInspection(raw: Json): Inspection | null {
  const base = { type: str(raw.type), symbol: typeof raw.symbol === 'string' ? raw.symbol : null };
  if (raw.kind === 'table' && Array.isArray(raw.schema)) {
    const schema = raw.schema.map(parseField).filter((f): f is SchemaField => f !== null);
    return { ...base, kind: 'table', schema, row_count: isInt(raw.row_count) ? raw.row_count : null };
  }
  if (raw.kind === 'tree') {
    const tree = parseNode(raw.tree);
    return tree ? { ...base, kind: 'tree', tree } : null;
  }
  if (raw.kind === 'text' && typeof raw.text === 'string' && isInt(raw.offset) && isInt(raw.total_chars)) {
    return { ...base, kind: 'text', text: raw.text, offset: raw.offset, total_chars: raw.total_chars, page_chars: isInt(raw.page_chars) ? raw.page_chars : raw.text.length };
  }
  return null;
}

function parsePage(raw: Json): TablePage | null {
  if (!Array.isArray(raw.schema) || !Array.isArray(raw.rows) || !isInt(raw.total_rows)) return null;
  return {
    schema: raw.schema.filter(isObject).map((c) => ({ name: str(c.name), type: str(c.type) })),
    rows: raw.rows.filter(Array.isArray) as unknown[][],
    total_rows: raw.total_rows,
    offset: isInt(raw.offset) ? raw.offset : 0,
    page_size: isInt(raw.page_size) ? raw.page_size : raw.rows.length,
  };
}

function parseSummary(raw: Json): ColumnSummary | null {
  if (typeof raw.column !== 'string' || !isInt(raw.rows) || !isInt(raw.nulls) || !isInt(raw.distinct)) return null;
  return raw as unknown as ColumnSummary;
}

/**
 * A filter typed into a column's box: `> 5`, `<= 2024-01-01`, `= a`, `!= a`, `null`, `!null`; anything else is
 * "contains". Empty text is no filter.
 */
export function parseFilter(column: string, text: string): Filter | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  if (trimmed === 'null') return { column, op: 'is_null' };
  if (trimmed === '!null') return { column, op: 'not_null' };
  const match = /^(<=|>=|!=|=|<|>)\s*(.+)$/.exec(trimmed);
  if (match) return { column, op: match[1] as FilterOp, value: (match[2] ?? '').trim() };
  return { column, op: 'contains', value: trimmed };
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function parsed<T>(reply: Reply<Json>, parse: (raw: Json) => T | null, what: string): Reply<T> {
  if (!reply.ok) return reply;
  const value = parse(reply.value);
  return value === null ? { ok: false, code: 'malformed', message: `the kernel's ${what} could not be read` } : { ok: true, value };
}

/** One value's exploration: every request names the same target. */
export class Explorer {
  constructor(
    private readonly call: ExploreCall,
    /** What the value is called on screen (its symbol, or "table"). */
    readonly label: string,
  ) {}

  async inspect(offset = 0): Promise<Reply<Inspection>> {
    return parsed(await this.call('inspect', { offset }), parseInspection, 'inspection');
  }

  async page(query: TableQuery, offset: number, pageSize: number): Promise<Reply<TablePage>> {
    return parsed(await this.call('page', { ...query, offset, page_size: pageSize }), parsePage, 'page');
  }

  async summary(column: string, query: TableQuery): Promise<Reply<ColumnSummary>> {
    return parsed(await this.call('summary', { column, filters: query.filters }), parseSummary, 'summary');
  }

  async count(query: TableQuery = { sort: [], filters: [] }): Promise<Reply<number>> {
    return parsed(await this.call('count', { filters: query.filters }), (raw) => (isInt(raw.rows) ? raw.rows : null), 'count');
  }

  async csv(query: TableQuery): Promise<Reply<{ csv: string; truncated: boolean }>> {
    return parsed(
      await this.call('csv', { ...query }),
      (raw) => (typeof raw.csv === 'string' ? { csv: raw.csv, truncated: raw.truncated === true } : null),
      'CSV',
    );
  }

  async parquet(query: TableQuery): Promise<Reply<{ data: Uint8Array; truncated: boolean }>> {
    return parsed(
      await this.call('parquet', { ...query }),
      (raw) => (typeof raw.parquet === 'string' ? { data: fromBase64(raw.parquet), truncated: raw.truncated === true } : null),
      'Parquet file',
    );
  }

  async plot(spec: Json): Promise<Reply<{ spec: Json; notes: string[] }>> {
    return parsed(
      await this.call('plot', { spec }),
      (raw) => (isObject(raw.spec) ? { spec: raw.spec, notes: Array.isArray(raw.notes) ? raw.notes.map(String) : [] } : null),
      'chart',
    );
  }
}
