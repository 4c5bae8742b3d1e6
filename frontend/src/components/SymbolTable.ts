/**
 * The symbol table for the selected cell: what it defined above a line, what it sees from the
 * cells above below it. Clicking a symbol opens the inspector.
 */
import { h } from '../lib/dom';
import type { Explorer, Inspection } from '../explore';
import type { CellScope, SymbolInfo } from '../protocol';
import { InspectorView, type InspectorActions } from './Inspector';

/** How the inspector asks the kernel about a symbol, and where its table view and plot open. */
export interface SymbolExplore {
  /** An explorer for the symbol as the selected cell sees it; null when no cell is selected. */
  explorer: (symbol: SymbolInfo) => Explorer | null;
  actions: (explorer: Explorer, inspection: Inspection) => InspectorActions;
}

/** What a cell sees when the server cannot say: later definitions above it win, as in the kernel. */
export function scopeFromCells(cells: ReadonlyArray<{ id: string; symbols: readonly SymbolInfo[] }>, cellId: string): CellScope {
  const index = cells.findIndex((cell) => cell.id === cellId);
  const visible = new Map<string, SymbolInfo>();
  for (const cell of cells.slice(0, Math.max(0, index))) for (const symbol of cell.symbols) visible.set(symbol.name, symbol);
  return { defined: [...(cells[index]?.symbols ?? [])], visible: [...visible.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

export class SymbolTable {
  readonly element: HTMLElement;
  private readonly title = h('span', { className: 'muted' });
  private readonly defined = h('tbody', { testId: 'symbols-defined' });
  private readonly visible = h('tbody', { testId: 'symbols-visible' });
  private readonly inspector = h('div', { className: 'inspector', testId: 'inspector', attrs: { role: 'dialog', 'aria-label': 'Inspector' } });

  private inspecting = 0;

  constructor(private readonly explore?: SymbolExplore) {
    this.inspector.hidden = true;
    const table = h(
      'table',
      { className: 'symbol-table' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { text: 'Type' }), h('th', { text: 'Value' }))),
      this.defined,
      h('tbody', { className: 'scope-divider' }, h('tr', {}, h('td', { attrs: { colspan: '3' } }, h('span', { text: 'from cells above' })))),
      this.visible,
    );
    this.element = h(
      'section',
      { className: 'panel symbol-panel', testId: 'symbol-table', attrs: { 'aria-label': 'Symbols' } },
      h('header', { className: 'panel-header' }, h('h2', { text: 'Symbols' }), this.title),
      table,
      this.inspector,
    );
  }

  render(cellLabel: string | null, scope: CellScope): void {
    this.title.textContent = cellLabel ?? 'no cell selected';
    this.defined.replaceChildren(...this.rows(scope.defined, 'Nothing defined yet.'));
    this.visible.replaceChildren(...this.rows(scope.visible, 'Nothing from above.'));
  }

  private rows(symbols: readonly SymbolInfo[], empty: string): HTMLElement[] {
    if (symbols.length === 0) return [h('tr', { className: 'empty' }, h('td', { className: 'muted', text: empty, attrs: { colspan: '3' } }))];
    return symbols.map((symbol) => {
      const row = h(
        'tr',
        { className: 'symbol-row', testId: 'symbol-row', attrs: { tabindex: '0', title: 'Inspect' } },
        h('td', { className: 'symbol-name', text: symbol.name }),
        h('td', { className: 'symbol-type', text: symbol.type }),
        h('td', { className: 'symbol-repr', text: symbol.repr.length > 60 ? `${symbol.repr.slice(0, 59)}…` : symbol.repr }),
      );
      const open = (): void => this.inspect(symbol);
      row.addEventListener('click', open);
      row.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') open();
      });
      return row;
    });
  }

  inspect(symbol: SymbolInfo): void {
    const close = h('button', { className: 'button subtle', text: '×', attrs: { type: 'button', 'aria-label': 'Close inspector' } });
    close.addEventListener('click', () => (this.inspector.hidden = true));
    const body = h('div', { className: 'inspector-content' });
    this.inspector.replaceChildren(
      h('header', { className: 'panel-header' }, h('h3', { text: symbol.name }), close),
      h('dl', {}, h('dt', { text: 'Type' }), h('dd', { text: symbol.type }), h('dt', { text: 'Language' }), h('dd', { text: symbol.language })),
      body,
    );
    this.inspector.hidden = false;
    const explorer = this.explore?.explorer(symbol) ?? null;
    if (!explorer || !this.explore) {
      body.replaceChildren(h('pre', { className: 'inspector-value', text: symbol.repr }));
      return;
    }
    const explore = this.explore;
    const mine = ++this.inspecting;
    body.replaceChildren(h('p', { className: 'muted', text: 'inspecting…' }));
    void explorer.inspect().then((reply) => {
      if (mine !== this.inspecting) return;
      if (reply.ok) body.replaceChildren(InspectorView(explorer, reply.value, explore.actions(explorer, reply.value)));
      else
        // The kernel cannot say (not running, the value is gone): the recorded summary, and why it is all there is.
        body.replaceChildren(
          h('p', { className: 'table-problem', testId: 'inspector-problem', attrs: { role: 'alert' }, text: reply.message }),
          h('pre', { className: 'inspector-value', text: symbol.repr }),
        );
    });
  }
}
