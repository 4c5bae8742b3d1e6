/** A table result (application/vnd.quire.table+json): schema header, one page of rows, and paging. */
import { h } from '../lib/dom';
import type { Reply, TableColumn, TablePage } from '../protocol';

export const TABLE_MIME = 'application/vnd.quire.table+json';

export type { TableColumn };

export interface TableData extends TablePage {
  /** The kernel's handle on the whole table, for asking for other pages. */
  ref?: string;
}

/** Fetches another page of a table the kernel still holds. */
export type TablePager = (ref: string, offset: number, pageSize: number) => Promise<Reply<TablePage>>;

export function isTableData(value: unknown): value is TableData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Array.isArray(v.schema) &&
    v.schema.every((c: unknown) => typeof c === 'object' && c !== null && typeof (c as TableColumn).name === 'string') &&
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

export function tableSummary(page: Pick<TablePage, 'rows' | 'total_rows' | 'offset'>): string {
  const shown = page.rows.length;
  const first = (page.offset ?? 0) + 1;
  return shown === page.total_rows
    ? `showing ${shown} of ${page.total_rows} rows`
    : `showing ${shown} of ${page.total_rows} rows (${first}–${first + shown - 1})`;
}

export function TableView(table: TableData, pager?: TablePager, explore?: (ref: string) => void): HTMLElement {
  const head = h(
    'tr',
    {},
    ...table.schema.map((column) =>
      h('th', { attrs: { scope: 'col' } }, h('span', { text: column.name }), h('small', { className: 'column-type', text: String(column.type ?? '') })),
    ),
  );
  const body = h('tbody', {});
  const summary = h('span', { className: 'table-summary', testId: 'table-summary' });
  const problem = h('span', { className: 'table-problem', attrs: { role: 'alert' } });
  const prev = h('button', { className: 'button subtle', testId: 'table-prev', text: '‹ Previous', attrs: { type: 'button' } });
  const next = h('button', { className: 'button subtle', testId: 'table-next', text: 'Next ›', attrs: { type: 'button' } });
  const pageSize = table.page_size || table.rows.length || 1;
  let offset = table.offset ?? 0;

  const show = (page: TablePage): void => {
    offset = page.offset;
    body.replaceChildren(
      ...page.rows.map((row) => h('tr', {}, ...row.map((value) => h('td', { className: value === null ? 'null' : '', text: cellText(value) })))),
    );
    summary.textContent = tableSummary(page);
    prev.disabled = offset <= 0;
    next.disabled = offset + page.rows.length >= page.total_rows;
  };
  show({ ...table, offset, page_size: pageSize });

  const ref = table.ref;
  const pageable = Boolean(ref && pager) && table.total_rows > table.rows.length;
  prev.hidden = next.hidden = !pageable;
  problem.hidden = true;
  const go = async (target: number): Promise<void> => {
    if (!ref || !pager) return;
    prev.disabled = next.disabled = true;
    const reply = await pager(ref, Math.max(0, target), pageSize);
    if (reply.ok) {
      problem.hidden = true;
      show(reply.value);
    } else {
      problem.textContent = reply.message;
      problem.hidden = false;
      prev.disabled = offset <= 0;
      next.disabled = false;
    }
  };
  prev.addEventListener('click', () => void go(offset - pageSize));
  next.addEventListener('click', () => void go(offset + pageSize));
  const exploreButton = h('button', {
    className: 'button subtle',
    testId: 'table-explore',
    text: 'Explore',
    attrs: { type: 'button', title: 'Schema, sorting, filtering, summaries and plots' },
  });
  exploreButton.hidden = !(ref && explore);
  exploreButton.addEventListener('click', () => ref && explore?.(ref));

  return h(
    'div',
    { className: 'output-table', testId: 'output-table' },
    h('div', { className: 'table-scroll' }, h('table', {}, h('thead', {}, head), body)),
    h('p', { className: 'table-footer' }, prev, summary, next, exploreButton, problem),
  );
}
