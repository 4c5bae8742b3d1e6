/** A Vega or Vega-Lite chart, drawn by the bundled vega-embed (loaded when the first chart appears). */
import { h } from '../lib/dom';

export function VegaChart(spec: unknown, mode: 'vega' | 'vega-lite'): HTMLElement {
  const element = h('div', { className: 'output-vega', testId: 'vega-chart' }, h('p', { className: 'muted', text: 'Drawing chart…' }));
  void import('vega-embed')
    .then(({ default: embed }) =>
      // No actions menu: its "open in editor" links would leave for vega.github.io. `ast`: expressions are
      // interpreted (vega-interpreter) instead of compiled with Function(), which the page's CSP forbids.
      embed(element, structuredClone(spec) as never, { mode, actions: false, renderer: 'svg', ast: true }),
    )
    .then(
      () => element.querySelector('p.muted')?.remove(),
      (error: unknown) => {
        element.replaceChildren(
          h('p', { className: 'output-error', text: `Could not draw the chart: ${(error as Error).message ?? String(error)}` }),
          h('details', {}, h('summary', { text: 'Specification' }), h('pre', { text: JSON.stringify(spec, null, 2) })),
        );
      },
    );
  return element;
}
