/**
 * A plotly figure from its JSON (application/vnd.plotly.v1+json), drawn by the bundled plotly.js, loaded when the
 * first figure appears. A figure's JSON is data, not script: it is drawn in the page as Vega specs are, with no
 * network (plotly's own HTML output would load its library from a CDN) and no links out (no mode bar logo).
 */
import { h } from '../lib/dom';

interface Figure {
  data?: unknown;
  layout?: unknown;
}

export function isPlotlyFigure(value: unknown): value is Figure {
  return typeof value === 'object' && value !== null && Array.isArray((value as Figure).data);
}

export function PlotlyChart(figure: Figure): HTMLElement {
  const element = h('div', { className: 'output-plotly', testId: 'plotly-chart' }, h('p', { className: 'muted', text: 'Drawing figure…' }));
  const plot = h('div', { className: 'output-plotly-plot' });
  void import('plotly.js-dist-min')
    .then(({ default: Plotly }) => {
      element.replaceChildren(plot);
      // Copies: plotly.js writes its computed defaults into the objects it is given.
      return Plotly.newPlot(plot, structuredClone(figure.data), structuredClone(figure.layout ?? {}), {
        displaylogo: false,
        responsive: true,
        showLink: false,
      });
    })
    .catch((error: unknown) => {
      element.replaceChildren(
        h('p', { className: 'output-error', text: `Could not draw the figure: ${(error as Error).message ?? String(error)}` }),
        h('details', {}, h('summary', { text: 'Figure' }), h('pre', { text: JSON.stringify(figure, null, 2) })),
      );
    });
  return element;
}
