/**
 * The table view: pages sorted and filtered by the kernel, column types, per-column summaries on demand, a cell
 * copied with a double click, and the rows (filtered and sorted) downloaded as CSV.
 */
import { h } from '../lib/dom';
import { type ColumnSummary, type Explorer, type Filter, type Sort, type TableQuery, parseFilter } from '../explore';
import type { TablePage } from '../protocol';
import { tableSummary } from './TableView';

export const DATA_PAGE_SIZE = 50;
// A filter is sent once typing pauses, not on every key.
const FILTER_DELAY_MS = 300;

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The next sort when a column's header is clicked: ascending, descending, then unsorted. */
export function nextSort(current: readonly Sort[], column: string): Sort[] {
  const now = current.find((s) => s.column === column);
  if (!now) return [{ column, descending: false }];
  if (!now.descending) return [{ column, descending: true }];
  return [];
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en') : value.toPrecision(6).replace(/\.?0+$/, '');
  return cellText(value);
}

export function summaryView(summary: ColumnSummary): HTMLElement {
  const facts: [string, string][] = [
    ['rows', formatValue(summary.rows)],
    ['nulls', formatValue(summary.nulls)],
    [summary.distinct_approximate ? 'distinct (approx.)' : 'distinct', formatValue(summary.distinct)],
  ];
  if (summary.min !== undefined) facts.push(['min', formatValue(summary.min)]);
  if (summary.max !== undefined) facts.push(['max', formatValue(summary.max)]);
  if (summary.mean !== undefined && summary.mean !== null) facts.push(['mean', formatValue(summary.mean)]);
  const bars = summary.histogram ?? summary.top?.map((t) => ({ label: t.value, count: t.count })) ?? [];
  const highest = Math.max(1, ...bars.map((b) => b.count));
  const chart = h(
    'div',
    { className: 'column-bars', testId: 'column-bars' },
    ...bars.map((bar) => {
      const label = 'label' in bar ? bar.label : `${formatValue(bar.start)} – ${formatValue(bar.end)}`;
      const fill = h('span', { className: 'column-bar-fill' });
      fill.style.width = `${(100 * bar.count) / highest}%`;
      return h(
        'div',
        { className: 'column-bar', attrs: { title: `${label}: ${bar.count}` } },
        h('span', { className: 'column-bar-label', text: label }),
        h('span', { className: 'column-bar-track' }, fill),
        h('span', { className: 'column-bar-count', text: formatValue(bar.count) }),
      );
    }),
  );
  return h(
    'section',
    { className: 'column-summary', testId: 'column-summary', dataset: { column: summary.column } },
    h('h4', { text: `${summary.column} (${summary.type})` }),
    h('dl', {}, ...facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
    bars.length ? h('p', { className: 'muted', text: summary.histogram ? 'histogram' : 'top values' }) : null,
    chart,
  );
}

/** Saves a file the kernel made (CSV text or Parquet bytes). */
export type Download = (name: string, data: string | Uint8Array, type: string) => void;

export function DataTable(explorer: Explorer, options: { download?: Download } = {}): HTMLElement {
  let query: TableQuery = { sort: [], filters: [] };
  let offset = 0;
  let columns: TablePage['schema'] = [];
  let request = 0;
  const filterTexts = new Map<string, string>();
  const head = h('thead', {});
  const body = h('tbody', {});
  const summary = h('span', { className: 'table-summary', testId: 'table-summary' });
  const status = h('span', { className: 'muted', attrs: { role: 'status' } });
  const problem = h('span', { className: 'table-problem', testId: 'data-table-problem', attrs: { role: 'alert' } });
  const prev = h('button', { className: 'button subtle', testId: 'table-prev', text: '‹ Previous', attrs: { type: 'button' } });
  const next = h('button', { className: 'button subtle', testId: 'table-next', text: 'Next ›', attrs: { type: 'button' } });
  const csv = h('button', { className: 'button subtle', testId: 'table-csv', text: 'Download CSV', attrs: { type: 'button' } });
  const parquet = h('button', { className: 'button subtle', testId: 'table-parquet', text: 'Download Parquet', attrs: { type: 'button' } });
  const summaries = h('div', { className: 'column-summaries' });

  const header = (): void => {
    const sortOf = (name: string): Sort | undefined => query.sort.find((s) => s.column === name);
    const titles = h(
      'tr',
      {},
      ...columns.map((column) => {
        const sort = sortOf(column.name);
        const button = h('button', {
          className: 'column-sort',
          testId: 'column-sort',
          text: column.name + (sort ? (sort.descending ? ' ▼' : ' ▲') : ''),
          attrs: { type: 'button', title: 'Sort by this column' },
        });
        button.addEventListener('click', () => {
          query = { ...query, sort: nextSort(query.sort, column.name) };
          void load(0);
        });
        const sum = h('button', { className: 'button subtle column-summary-button', testId: 'column-summary-button', text: 'Σ', attrs: { type: 'button', title: `Summarise ${column.name}`, 'aria-label': `Summarise ${column.name}` } });
        sum.addEventListener('click', () => void summarise(column.name));
        const th = h('th', { attrs: { scope: 'col', 'aria-sort': sort ? (sort.descending ? 'descending' : 'ascending') : 'none' } }, button, sum, h('small', { className: 'column-type', text: column.type }));
        return th;
      }),
    );
    let timer: ReturnType<typeof setTimeout> | null = null;
    const filters = h(
      'tr',
      { className: 'filter-row' },
      ...columns.map((column) => {
        const input = h('input', {
          className: 'column-filter',
          testId: 'column-filter',
          attrs: { type: 'search', placeholder: 'filter', 'aria-label': `Filter ${column.name}`, title: 'text (contains), = a, != a, > 5, <= 2024-01-01, null, !null' },
        });
        input.value = filterTexts.get(column.name) ?? '';
        input.addEventListener('input', () => {
          filterTexts.set(column.name, input.value);
          if (timer) clearTimeout(timer);
          timer = setTimeout(() => {
            query = { ...query, filters: [...filterTexts].map(([c, text]) => parseFilter(c, text)).filter((f): f is Filter => f !== null) };
            void load(0);
          }, FILTER_DELAY_MS);
        });
        return h('th', {}, input);
      }),
    );
    head.replaceChildren(titles, filters);
  };

  const show = (page: TablePage): void => {
    const changed = page.schema.map((c) => c.name).join('\u0000') !== columns.map((c) => c.name).join('\u0000');
    columns = page.schema;
    if (changed || !head.firstChild) header();
    else {
      // Only the sort marks change: keep the filter boxes (and the one being typed in) as they are.
      const marks = head.querySelectorAll<HTMLButtonElement>('button.column-sort');
      columns.forEach((column, i) => {
        const sort = query.sort.find((s) => s.column === column.name);
        const mark = marks[i];
        if (!mark) return;
        mark.textContent = column.name + (sort ? (sort.descending ? ' ▼' : ' ▲') : '');
        mark.closest('th')?.setAttribute('aria-sort', sort ? (sort.descending ? 'descending' : 'ascending') : 'none');
      });
    }
    offset = page.offset;
    body.replaceChildren(
      ...page.rows.map((row) =>
        h('tr', {}, ...row.map((value) => {
          const td = h('td', { className: value === null ? 'null' : '', text: cellText(value), attrs: { title: 'Double-click to copy' } });
          td.addEventListener('dblclick', () => {
            void navigator.clipboard?.writeText(cellText(value)).then(
              () => (status.textContent = 'copied'),
              () => (status.textContent = 'could not copy: the browser refused the clipboard'),
            );
          });
          return td;
        })),
      ),
    );
    summary.textContent = page.total_rows === 0 ? 'no rows match' : tableSummary(page);
    prev.disabled = offset <= 0;
    next.disabled = offset + page.rows.length >= page.total_rows;
  };

  const load = async (at: number): Promise<void> => {
    const mine = ++request;
    status.textContent = 'loading…';
    prev.disabled = next.disabled = true;
    const reply = await explorer.page(query, Math.max(0, at), DATA_PAGE_SIZE);
    if (mine !== request) return; // a newer sort or filter was asked for meanwhile
    status.textContent = '';
    if (reply.ok) {
      problem.textContent = '';
      show(reply.value);
    } else {
      problem.textContent = reply.message;
      prev.disabled = offset <= 0;
      next.disabled = false;
    }
  };

  const summarise = async (column: string): Promise<void> => {
    status.textContent = `summarising ${column}…`;
    const reply = await explorer.summary(column, query);
    status.textContent = '';
    if (!reply.ok) {
      problem.textContent = reply.message;
      return;
    }
    for (const shown of summaries.querySelectorAll<HTMLElement>('[data-testid="column-summary"]')) if (shown.dataset.column === column) shown.remove();
    summaries.prepend(summaryView(reply.value));
  };

  csv.addEventListener('click', () => {
    csv.disabled = true;
    status.textContent = 'preparing CSV…';
    void explorer.csv(query).then((reply) => {
      csv.disabled = false;
      status.textContent = '';
      if (!reply.ok) {
        problem.textContent = reply.message;
        return;
      }
      (options.download ?? saveFile)(`${explorer.label}.csv`, reply.value.csv, 'text/csv');
      if (reply.value.truncated) status.textContent = 'The CSV was cut to its first rows (20 MB at most; Spark: 200,000 rows).';
    });
  });
  parquet.addEventListener('click', () => {
    parquet.disabled = true;
    status.textContent = 'preparing Parquet…';
    void explorer.parquet(query).then((reply) => {
      parquet.disabled = false;
      status.textContent = '';
      if (!reply.ok) {
        problem.textContent = reply.message;
        return;
      }
      (options.download ?? saveFile)(`${explorer.label}.parquet`, reply.value.data, 'application/vnd.apache.parquet');
      if (reply.value.truncated) status.textContent = 'The Parquet file was cut to its first rows (20 MB at most; Spark: 200,000 rows).';
    });
  });
  prev.addEventListener('click', () => void load(offset - DATA_PAGE_SIZE));
  next.addEventListener('click', () => void load(offset + DATA_PAGE_SIZE));
  void load(0);

  return h(
    'div',
    { className: 'output-table data-table', testId: 'data-table' },
    h('div', { className: 'table-scroll' }, h('table', {}, head, body)),
    h('p', { className: 'table-footer' }, prev, summary, next, ' ', csv, ' ', parquet, ' ', status, problem),
    summaries,
  );
}

function saveFile(name: string, data: string | Uint8Array, type: string): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type }));
  const link = h('a', { attrs: { href: url, download: name } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
