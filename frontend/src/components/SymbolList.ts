/** The values a cell defined, from its last run: name, type and a short preview. */
import { h } from '../lib/dom';
import type { SymbolInfo } from '../protocol';

export class SymbolList {
  readonly element = h('dl', { className: 'symbol-list', testId: 'cell-symbols' });
  private shown: readonly SymbolInfo[] | null = null;

  render(symbols: readonly SymbolInfo[]): void {
    if (symbols === this.shown) return;
    this.shown = symbols;
    this.element.replaceChildren(
      ...symbols.map((symbol) =>
        h(
          'div',
          { className: 'symbol', dataset: { language: symbol.language } },
          h('dt', {}, h('span', { className: 'symbol-name', text: symbol.name }), h('span', { className: 'symbol-type', text: symbol.type })),
          h('dd', { className: 'symbol-repr', text: symbol.repr }),
        ),
      ),
    );
    this.element.hidden = symbols.length === 0;
  }
}
