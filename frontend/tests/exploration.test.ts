import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataTable, nextSort } from '../src/components/DataTable';
import { InspectorView } from '../src/components/Inspector';
import { PlotConstructor, buildSpec, missing } from '../src/components/PlotConstructor';
import { SymbolTable } from '../src/components/SymbolTable';
import { Explorer, type ExploreCall, type Inspection, type SchemaField, parseFilter, parseInspection } from '../src/explore';
import type { Reply } from '../src/protocol';

type Json = Record<string, unknown>;

/** A kernel that answers explore requests from a table of rows, recording what it was asked. */
function fakeKernel(answers: Partial<Record<string, (args: Json) => Json | Reply<Json>>>) {
  const calls: { op: string; args: Json }[] = [];
  const call: ExploreCall = async (op, args) => {
    calls.push({ op, args });
    const answer = answers[op];
    if (!answer) return { ok: false, code: 'kernel', message: `no ${op}` };
    const value = answer(args);
    return 'ok' in value && typeof value.ok === 'boolean' ? (value as Reply<Json>) : { ok: true, value: value as Json };
  };
  return { calls, explorer: new Explorer(call, 'df') };
}

const SCHEMA: SchemaField[] = [
  { name: 'kind', type: 'object', nullable: true },
  { name: 'ms', type: 'float64', nullable: false },
  { name: 'when', type: 'datetime64[ns]', nullable: false },
  { name: 'address', type: 'struct', nullable: true, children: [{ name: 'city', type: 'string', nullable: true }] },
];
const TABLE_INSPECTION: Inspection = { kind: 'table', type: 'DataFrame', symbol: 'df', schema: SCHEMA, row_count: null };
const flush = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe('filters typed into a column', () => {
  it.each([
    ['> 5', { op: '>', value: '5' }],
    ['<=2024-01-01', { op: '<=', value: '2024-01-01' }],
    ['!= a', { op: '!=', value: 'a' }],
    ['null', { op: 'is_null' }],
    ['!null', { op: 'not_null' }],
    ['Oslo', { op: 'contains', value: 'Oslo' }],
  ])('%s', (text, expected) => {
    expect(parseFilter('c', text)).toEqual({ column: 'c', ...expected });
  });
  it('empty text is no filter', () => expect(parseFilter('c', '  ')).toBeNull());
});

describe('sorting cycles ascending, descending, none', () => {
  it('cycles', () => {
    expect(nextSort([], 'a')).toEqual([{ column: 'a', descending: false }]);
    expect(nextSort([{ column: 'a', descending: false }], 'a')).toEqual([{ column: 'a', descending: true }]);
    expect(nextSort([{ column: 'a', descending: true }], 'a')).toEqual([]);
    expect(nextSort([{ column: 'a', descending: true }], 'b')).toEqual([{ column: 'b', descending: false }]);
  });
});

describe('the inspector', () => {
  it('shows a schema tree, counts on demand and offers the table view and plot', async () => {
    const { explorer, calls } = fakeKernel({ count: () => ({ rows: 10_000_000 }) });
    const tableView = vi.fn();
    const plot = vi.fn();
    const view = InspectorView(explorer, TABLE_INSPECTION, { tableView, plot });
    document.body.append(view);
    const fields = [...view.querySelectorAll('[data-testid="schema-field"]')].map((f) => f.firstChild?.textContent);
    expect(fields).toEqual(['kind', 'ms', 'when', 'address', 'city']);
    expect(view.querySelector('[data-testid="inspector-rows"]')?.textContent).toContain('not counted');
    (view.querySelector('[data-testid="inspector-count"]') as HTMLButtonElement).click();
    await flush();
    expect(calls.at(-1)?.op).toBe('count');
    expect(view.querySelector('[data-testid="inspector-rows"]')?.textContent).toBe('10,000,000 rows');
    (view.querySelector('[data-testid="inspector-table-view"]') as HTMLButtonElement).click();
    (view.querySelector('[data-testid="inspector-plot"]') as HTMLButtonElement).click();
    expect(tableView).toHaveBeenCalledOnce();
    expect(plot).toHaveBeenCalledOnce();
  });

  it('a table bound to no symbol cannot be plotted, and says why', () => {
    const { explorer } = fakeKernel({});
    const view = InspectorView(explorer, { ...TABLE_INSPECTION, symbol: null }, { tableView: () => undefined });
    const plot = view.querySelector('[data-testid="inspector-plot"]') as HTMLButtonElement;
    expect(plot.disabled).toBe(true);
    expect(plot.title).toContain('bind this table to a name');
  });

  it('shows nested data as a collapsible tree that says how much is not shown', () => {
    const raw = {
      kind: 'tree', type: 'Person', symbol: 'ann',
      tree: { label: '', type: 'Person', summary: 'Person(ann,31)', size: 2, more: 0, children: [
        { label: 'name', type: 'String', summary: 'ann' },
        { label: 'tags', type: 'List[String]', summary: 'List(a, b)', size: 300, more: 200, children: [{ label: '0', type: 'String', summary: 'a' }] },
      ] },
    };
    const inspection = parseInspection(raw);
    expect(inspection?.kind).toBe('tree');
    const view = InspectorView(fakeKernel({}).explorer, inspection as Inspection, { tableView: () => undefined });
    expect(view.textContent).toContain('name: ann');
    expect(view.textContent).toContain('List(a, b)');
    expect(view.textContent).toContain('… 200 more');
    expect(view.querySelectorAll('details').length).toBe(2);
  });

  it('pages long text instead of garbling it', async () => {
    const text = (offset: number): Json => ({ kind: 'text', type: 'str', symbol: 's', text: 'x'.repeat(offset >= 4000 ? 1000 : 4000), offset, total_chars: 5000, page_chars: 4000 });
    const { explorer, calls } = fakeKernel({ inspect: (args) => text(Number(args.offset)) });
    const view = InspectorView(explorer, parseInspection(text(0)) as Inspection, { tableView: () => undefined });
    expect(view.querySelector('[data-testid="inspector-text-where"]')?.textContent).toBe('characters 1–4000 of 5000');
    (view.querySelector('[data-testid="inspector-text-next"]') as HTMLButtonElement).click();
    await flush();
    expect(calls.at(-1)).toEqual({ op: 'inspect', args: { offset: 4000 } });
    expect(view.querySelector('[data-testid="inspector-text-where"]')?.textContent).toBe('characters 4001–5000 of 5000');
  });
});

describe('the table view asks the kernel to sort, filter and summarise', () => {
  const page = (args: Json): Json => ({
    schema: [{ name: 'kind', type: 'object' }, { name: 'ms', type: 'float64' }],
    rows: [['a', 1.5], ['b', null]],
    total_rows: 2,
    offset: args.offset,
    page_size: 50,
  });

  it('sorts by a clicked header and filters by typed text', async () => {
    vi.useFakeTimers();
    const { explorer, calls } = fakeKernel({ page });
    const view = DataTable(explorer);
    document.body.append(view);
    await vi.runAllTimersAsync();
    expect(calls[0]).toEqual({ op: 'page', args: { sort: [], filters: [], offset: 0, page_size: 50 } });
    (view.querySelectorAll('[data-testid="column-sort"]')[1] as HTMLButtonElement).click();
    await vi.runAllTimersAsync();
    expect(calls.at(-1)?.args.sort).toEqual([{ column: 'ms', descending: false }]);
    expect(view.querySelectorAll('th')[1]?.getAttribute('aria-sort')).toBe('ascending');
    const filter = view.querySelectorAll<HTMLInputElement>('[data-testid="column-filter"]')[1] as HTMLInputElement;
    filter.value = '> 1';
    filter.dispatchEvent(new Event('input'));
    await vi.runAllTimersAsync();
    expect(calls.at(-1)?.args).toMatchObject({ sort: [{ column: 'ms', descending: false }], filters: [{ column: 'ms', op: '>', value: '1' }] });
    expect(view.querySelector('td.null')?.textContent).toBe('null');
  });

  it('summarises a column and downloads the rows as CSV', async () => {
    const summary = (): Json => ({ column: 'ms', type: 'float64', rows: 2, nulls: 1, distinct: 1, numeric: true, min: 1.5, max: 1.5, mean: 1.5, histogram: [{ start: 1.5, end: 1.5, count: 1 }] });
    const { explorer, calls } = fakeKernel({ page, summary, csv: () => ({ csv: 'kind,ms\na,1.5\n', truncated: false }), parquet: () => ({ parquet: btoa('PAR1'), truncated: false }) });
    const download = vi.fn();
    const view = DataTable(explorer, { download });
    document.body.append(view);
    await flush();
    (view.querySelectorAll('[data-testid="column-summary-button"]')[1] as HTMLButtonElement).click();
    await flush();
    expect(calls.at(-1)).toEqual({ op: 'summary', args: { column: 'ms', filters: [] } });
    expect(view.querySelector('[data-testid="column-summary"]')?.textContent).toContain('nulls1');
    (view.querySelector('[data-testid="table-csv"]') as HTMLButtonElement).click();
    await flush();
    expect(download).toHaveBeenCalledWith('df.csv', 'kind,ms\na,1.5\n', 'text/csv');
    (view.querySelector('[data-testid="table-parquet"]') as HTMLButtonElement).click();
    await flush();
    expect(calls.at(-1)?.op).toBe('parquet');
    expect(download).toHaveBeenLastCalledWith('df.parquet', new Uint8Array([80, 65, 82, 49]), 'application/vnd.apache.parquet');
  });

  it('shows the kernel\'s refusal', async () => {
    const { explorer } = fakeKernel({ page: () => ({ ok: false, code: 'kernel', message: 'ExploreError: ms holds numbers; \'x\' is not one' }) });
    const view = DataTable(explorer);
    await flush();
    expect(view.querySelector('[data-testid="data-table-problem"]')?.textContent).toContain('ms holds numbers');
  });
});

describe('the plot constructor', () => {
  it('writes Vega-Lite that names the symbol and leaves aggregation and bins to the kernel', () => {
    const histogram = buildSpec('df', SCHEMA, { chart: 'histogram', x: 'ms', aggregate: 'none', bin: false, maxbins: 30 });
    expect(histogram).toMatchObject({
      data: { name: 'df' },
      mark: { type: 'bar' },
      encoding: { x: { field: 'ms', bin: { maxbins: 30 }, type: 'quantitative' }, y: { aggregate: 'count', type: 'quantitative' } },
    });
    const bar = buildSpec('df', SCHEMA, { chart: 'bar', x: 'kind', y: 'ms', color: 'kind', facet: 'kind', aggregate: 'median', bin: false, maxbins: 10 });
    expect(bar.encoding).toEqual({
      x: { field: 'kind', type: 'nominal' },
      y: { aggregate: 'median', field: 'ms', type: 'quantitative' },
      color: { field: 'kind', type: 'nominal' },
      facet: { field: 'kind', type: 'nominal', columns: 3 },
    });
    const line = buildSpec('df', SCHEMA, { chart: 'line', x: 'when', y: 'ms', aggregate: 'none', bin: false, maxbins: 10 });
    expect((line.encoding as Json).x).toEqual({ field: 'when', type: 'temporal' });
    const daily = buildSpec('df', SCHEMA, { chart: 'line', x: 'when', y: 'ms', aggregate: 'sum', bin: true, maxbins: 10, timeUnit: 'yearmonth' });
    expect((daily.encoding as Json).x).toEqual({ field: 'when', timeUnit: 'yearmonth', type: 'temporal' });
    const heat = buildSpec('df', SCHEMA, { chart: 'heatmap', x: 'ms', y: 'kind', aggregate: 'count', bin: false, maxbins: 10 });
    expect(heat).toMatchObject({ mark: { type: 'rect' }, encoding: { color: { aggregate: 'count' }, y: { field: 'kind', type: 'nominal' } } });
  });

  it('says what is missing', () => {
    expect(missing({ chart: 'bar', aggregate: 'none', bin: false, maxbins: 10 })).toBe('Choose a field for x.');
    expect(missing({ chart: 'heatmap', x: 'ms', aggregate: 'count', bin: false, maxbins: 10 })).toContain('needs a field for y');
    expect(missing({ chart: 'bar', x: 'kind', aggregate: 'count', bin: false, maxbins: 10 })).toBeNull();
  });

  it('previews what the kernel filled and saves the spec as a cell', async () => {
    vi.useFakeTimers();
    const { explorer, calls } = fakeKernel({ plot: (args) => ({ spec: { ...(args.spec as Json), data: { values: [] } }, notes: ['df has 10,000,000 rows; aggregated on the server'] }) });
    const saved = vi.fn();
    const view = PlotConstructor(explorer, 'df', SCHEMA, { saveAsCell: saved });
    document.body.append(view);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls[0]?.op).toBe('plot');
    expect(view.querySelector('[data-testid="plot-notes"]')?.textContent).toContain('aggregated on the server');
    const chart = view.querySelector('[data-testid="plot-chart"]') as HTMLSelectElement;
    chart.value = 'histogram';
    chart.dispatchEvent(new Event('change'));
    const x = view.querySelector('[data-testid="plot-x"]') as HTMLSelectElement;
    x.value = 'ms';
    x.dispatchEvent(new Event('change'));
    await vi.advanceTimersByTimeAsync(300);
    expect((calls.at(-1)?.args.spec as Json).encoding).toMatchObject({ x: { field: 'ms', bin: { maxbins: 20 } } });
    (view.querySelector('[data-testid="plot-save"]') as HTMLButtonElement).click();
    const source = JSON.parse(saved.mock.calls[0]?.[0] as string) as Json;
    expect(source.data).toEqual({ name: 'df' });
    expect(source.encoding).toMatchObject({ x: { field: 'ms', bin: { maxbins: 20 } }, y: { aggregate: 'count' } });
  });

  it('takes a field dragged onto a channel', async () => {
    vi.useFakeTimers();
    const { explorer, calls } = fakeKernel({ plot: (args) => ({ spec: args.spec as Json, notes: [] }) });
    const view = PlotConstructor(explorer, 'df', SCHEMA, {});
    document.body.append(view);
    const drop = new Event('drop', { cancelable: true }) as Event & { dataTransfer: unknown };
    drop.dataTransfer = { getData: () => 'kind' };
    view.querySelector('[data-channel="color"]')?.dispatchEvent(drop);
    await vi.advanceTimersByTimeAsync(300);
    expect((view.querySelector('[data-testid="plot-color"]') as HTMLSelectElement).value).toBe('kind');
    expect(((calls.at(-1)?.args.spec as Json).encoding as Json).color).toEqual({ field: 'kind', type: 'nominal' });
  });

  it('cannot save without the editor role', () => {
    const view = PlotConstructor(fakeKernel({}).explorer, 'df', SCHEMA);
    const save = view.querySelector('[data-testid="plot-save"]') as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    expect(save.title).toContain('editor role');
  });
});

describe('the symbol table inspects through the kernel', () => {
  const symbol = { name: 'df', language: 'python', type: 'DataFrame', repr: 'name value n 0 a 1.5 1 1 ....5 2 2 c' };

  it('shows the inspection, not the one-line repr', async () => {
    const { explorer } = fakeKernel({ inspect: () => ({ kind: 'table', type: 'DataFrame', symbol: 'df', schema: [{ name: 'n', type: 'int64', nullable: false }], row_count: 3 }) });
    const table = new SymbolTable({ explorer: () => explorer, actions: () => ({ tableView: () => undefined }) });
    table.inspect(symbol);
    await flush();
    const inspector = table.element.querySelector('[data-testid="inspector"]') as HTMLElement;
    expect(inspector.querySelector('[data-testid="inspector-rows"]')?.textContent).toBe('3 rows');
    expect(inspector.textContent).not.toContain('....5');
  });

  it('says why when the kernel cannot answer', async () => {
    const { explorer } = fakeKernel({ inspect: () => ({ ok: false, code: 'not_running', message: 'The kernel is not running: run the cell that makes this value, then try again.' }) });
    const table = new SymbolTable({ explorer: () => explorer, actions: () => ({ tableView: () => undefined }) });
    table.inspect(symbol);
    await flush();
    expect(table.element.querySelector('[data-testid="inspector-problem"]')?.textContent).toContain('The kernel is not running');
  });
});

describe('a table output opens in the Explore panel', () => {
  const table = { schema: [{ name: 'a', type: 'int64' }], rows: [[1]], total_rows: 1, offset: 0, page_size: 50, ref: 'c1:1' };

  it('has an Explore button when the kernel holds the table', async () => {
    const { TableView } = await import('../src/components/TableView');
    const explore = vi.fn();
    const view = TableView(table, undefined, explore);
    const button = view.querySelector('[data-testid="table-explore"]') as HTMLButtonElement;
    expect(button.hidden).toBe(false);
    button.click();
    expect(explore).toHaveBeenCalledWith('c1:1');
    expect((TableView({ ...table, ref: undefined }, undefined, explore).querySelector('[data-testid="table-explore"]') as HTMLElement).hidden).toBe(true);
  });
});
