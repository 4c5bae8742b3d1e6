/**
 * The quick inspector: a table-like value's schema as a tree with its row count (or "Count" when counting runs a
 * query) and the table view / plot buttons; nested data as a collapsible tree; anything else as paged text.
 */
import { h } from '../lib/dom';
import type { Explorer, Inspection, SchemaField, TreeNode } from '../explore';

export interface InspectorActions {
  tableView: () => void;
  /** Absent when the value is bound to no symbol, which a saved chart would have to name. */
  plot?: () => void;
}

function schemaTree(fields: readonly SchemaField[]): HTMLElement {
  return h(
    'ul',
    { className: 'schema-tree' },
    ...fields.map((field) =>
      h(
        'li',
        { testId: 'schema-field' },
        h('span', { className: 'schema-name', text: field.name }),
        ' ',
        h('span', { className: 'schema-type', text: field.type }),
        field.nullable ? h('span', { className: 'schema-nullable muted', text: ' nullable' }) : null,
        field.children?.length ? schemaTree(field.children) : null,
      ),
    ),
  );
}

// Levels of a value tree shown open at first.
const OPEN_LEVELS = 1;

export function valueTree(node: TreeNode, depth = 0): HTMLElement {
  const label = h(
    'span',
    {},
    node.label ? h('span', { className: 'tree-label', text: `${node.label}: ` }) : null,
    h('span', { className: 'tree-summary', text: node.summary }),
    ' ',
    h('span', { className: 'tree-type muted', text: node.type }),
  );
  if (!node.children) {
    const leaf = h('div', { className: 'tree-leaf', testId: 'tree-node' }, label);
    if (node.more) leaf.append(h('span', { className: 'muted', text: ` (${node.more} parts not shown)` }));
    return leaf;
  }
  const details = h(
    'details',
    { className: 'tree-branch', testId: 'tree-node' },
    h('summary', {}, label),
    ...node.children.map((child) => valueTree(child, depth + 1)),
    node.more ? h('div', { className: 'tree-more muted', text: `… ${node.more} more` }) : null,
  );
  details.open = depth < OPEN_LEVELS;
  return details;
}

function textPager(explorer: Explorer, first: Extract<Inspection, { kind: 'text' }>): HTMLElement {
  const text = h('pre', { className: 'inspector-value', testId: 'inspector-text' });
  const where = h('span', { className: 'muted', testId: 'inspector-text-where' });
  const problem = h('span', { className: 'table-problem', attrs: { role: 'alert' } });
  const prev = h('button', { className: 'button subtle', text: '‹ Previous', attrs: { type: 'button' } });
  const next = h('button', { className: 'button subtle', testId: 'inspector-text-next', text: 'Next ›', attrs: { type: 'button' } });
  let page = first;
  const show = (shown: typeof first): void => {
    page = shown;
    text.textContent = shown.text;
    const end = shown.offset + shown.text.length;
    where.textContent = shown.total_chars > shown.text.length ? `characters ${shown.offset + 1}–${end} of ${shown.total_chars}` : '';
    prev.hidden = next.hidden = shown.total_chars <= shown.page_chars;
    prev.disabled = shown.offset <= 0;
    next.disabled = end >= shown.total_chars;
  };
  const go = async (offset: number): Promise<void> => {
    const reply = await explorer.inspect(Math.max(0, offset));
    if (reply.ok && reply.value.kind === 'text') {
      problem.textContent = '';
      show(reply.value);
    } else problem.textContent = reply.ok ? 'the value changed: inspect it again' : reply.message;
  };
  prev.addEventListener('click', () => void go(page.offset - page.page_chars));
  next.addEventListener('click', () => void go(page.offset + page.page_chars));
  show(first);
  return h('div', {}, text, h('p', { className: 'table-footer' }, prev, where, next, problem));
}

function tableSummary(explorer: Explorer, inspection: Extract<Inspection, { kind: 'table' }>, actions: InspectorActions): HTMLElement {
  const rows = h('span', { testId: 'inspector-rows' });
  const problem = h('span', { className: 'table-problem', attrs: { role: 'alert' } });
  const count = h('button', { className: 'button subtle', testId: 'inspector-count', text: 'Count rows', attrs: { type: 'button' } });
  const showCount = (n: number): void => {
    rows.textContent = `${n.toLocaleString('en')} row${n === 1 ? '' : 's'}`;
    count.hidden = true;
  };
  if (inspection.row_count !== null) showCount(inspection.row_count);
  else rows.textContent = 'rows not counted yet (counting runs a query)';
  count.addEventListener('click', () => {
    count.disabled = true;
    rows.textContent = 'counting…';
    void explorer.count().then((reply) => {
      count.disabled = false;
      if (reply.ok) showCount(reply.value);
      else {
        rows.textContent = 'rows not counted';
        problem.textContent = reply.message;
      }
    });
  });
  const tableButton = h('button', { className: 'button', testId: 'inspector-table-view', text: 'Table view', attrs: { type: 'button' } });
  tableButton.addEventListener('click', actions.tableView);
  const plotButton = h('button', { className: 'button', testId: 'inspector-plot', text: 'Plot', attrs: { type: 'button' } });
  if (actions.plot) plotButton.addEventListener('click', actions.plot);
  else {
    plotButton.disabled = true;
    plotButton.title = 'A chart names the value it draws: bind this table to a name in its cell to plot it.';
  }
  return h(
    'div',
    { className: 'inspector-table' },
    h('p', { className: 'inspector-rows' }, rows, ' ', count, problem),
    h('p', { className: 'inspector-actions' }, tableButton, ' ', plotButton),
    h('h4', { text: 'Schema' }),
    schemaTree(inspection.schema),
  );
}

/** The inspector's body for one inspection. */
export function InspectorView(explorer: Explorer, inspection: Inspection, actions: InspectorActions): HTMLElement {
  const body =
    inspection.kind === 'table'
      ? tableSummary(explorer, inspection, actions)
      : inspection.kind === 'tree'
        ? h('div', { className: 'value-tree', testId: 'value-tree' }, valueTree(inspection.tree))
        : textPager(explorer, inspection);
  return h('div', { className: 'inspector-body', testId: 'inspector-body', dataset: { kind: inspection.kind } }, body);
}
