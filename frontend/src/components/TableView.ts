/** A table result (application/vnd.quire.table+json): schema header, one page of rows, row count. */
import { h } from '../lib/dom';

export const TABLE_MIME = 'application/vnd.quire.table+json';

export interface TableColumn {
  name: string;
  type: string;
}

export interface TableData {
  schema: TableColumn[];
  rows: unknown[][];
  total_rows: number;
  offset: number;
  page_size: number;
}

export function isTableData(value: unknown): value is TableData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Array.isArray(v.schema) &&
    v.schema.every(
      (c: unknown) =>
        typeof c === 'object' && c !== null && typeof (c as TableColumn).name === 'string',
    ) &&
    Array.isArray(v.rows) &&
    v.rows.every(Array.isArray) &&
    typeof v.total_rows === 'number'
  );
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function TableView(table: TableData): HTMLElement {
  const head = h(
    'tr',
    {},
    ...table.schema.map((column) =>
      h('th', { attrs: { scope: 'col' } }, h('span', { text: column.name }), h('small', { className: 'column-type', text: String(column.type ?? '') })),
    ),
  );
  const body = table.rows.map((row) =>
    h(
      'tr',
      {},
      ...row.map((value) => h('td', { className: value === null ? 'null' : '', text: cellText(value) })),
    ),
  );
  const shown = table.rows.length;
  const first = (table.offset ?? 0) + 1;
  const summary =
    shown === table.total_rows
      ? `showing ${shown} of ${table.total_rows} rows`
      : `showing ${shown} of ${table.total_rows} rows (${first}–${first + shown - 1})`;
  return h(
    'div',
    { className: 'output-table' },
    h('div', { className: 'table-scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, ...body))),
    h('p', { className: 'table-summary', text: summary }),
  );
}
