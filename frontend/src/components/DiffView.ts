/** A cell-by-cell diff of two versions: what was added, removed, moved or edited, with line changes. */
import type { DiffCell, NotebookDiff } from '../api';
import { h } from '../lib/dom';
import { lineDiff } from '../lib/lineDiff';

const CHANGE_LABELS: Record<DiffCell['change'], string> = {
  added: 'added',
  removed: 'removed',
  moved: 'moved',
  source: 'edited',
  outputs: 'outputs changed',
  metadata: 'settings changed',
  unchanged: 'unchanged',
};

function place(cell: DiffCell): string {
  if (cell.change === 'added') return `cell ${(cell.to_index ?? 0) + 1}`;
  if (cell.change === 'removed') return `was cell ${(cell.from_index ?? 0) + 1}`;
  if (cell.from_index !== cell.to_index && cell.from_index !== null && cell.to_index !== null) {
    return `cell ${cell.from_index + 1} → ${cell.to_index + 1}`;
  }
  return `cell ${(cell.to_index ?? cell.from_index ?? 0) + 1}`;
}

function SourceDiff(cell: DiffCell): HTMLElement | null {
  const before = cell.from_source ?? '';
  const after = cell.to_source ?? '';
  if (cell.change === 'unchanged' || (before === after && cell.change !== 'added' && cell.change !== 'removed')) return null;
  return h(
    'pre',
    { className: 'source-diff' },
    ...lineDiff(before, after).map((line) =>
      h('div', { className: `diff-line diff-${line.kind}`, text: `${line.kind === 'added' ? '+' : line.kind === 'removed' ? '-' : ' '} ${line.text}` }),
    ),
  );
}

export function DiffView(diff: NotebookDiff, { showUnchanged = false } = {}): HTMLElement {
  const changed = diff.cells.filter((cell) => showUnchanged || cell.change !== 'unchanged');
  const unchanged = diff.cells.length - changed.length;
  return h(
    'div',
    { className: 'diff-view', testId: 'diff-view' },
    changed.length === 0 && !diff.config_changed && h('p', { className: 'muted', text: 'No differences.' }),
    ...changed.map((cell) =>
      h(
        'section',
        { className: 'diff-cell', testId: 'diff-cell', dataset: { change: cell.change, cellId: cell.cell_id } },
        h(
          'header',
          { className: 'diff-cell-header' },
          h('span', { className: `change-badge change-${cell.change}`, text: CHANGE_LABELS[cell.change] }),
          h('span', { className: 'muted', text: place(cell) }),
          cell.from_language && cell.to_language && cell.from_language !== cell.to_language
            ? h('span', { className: 'muted', text: `${cell.from_language} → ${cell.to_language}` })
            : null,
        ),
        SourceDiff(cell),
      ),
    ),
    unchanged > 0 && h('p', { className: 'muted', text: `${unchanged} unchanged cell${unchanged === 1 ? '' : 's'} not shown.` }),
    diff.config_changed &&
      h(
        'section',
        { className: 'diff-cell', dataset: { change: 'config' } },
        h('header', { className: 'diff-cell-header' }, h('span', { className: 'change-badge change-source', text: 'configuration changed' })),
        h('pre', { className: 'source-diff' }, ...lineDiff(JSON.stringify(diff.config.from, null, 2), JSON.stringify(diff.config.to, null, 2)).map((line) => h('div', { className: `diff-line diff-${line.kind}`, text: line.text }))),
      ),
  );
}
