/** Shows a MIME bundle through the richest renderer it supports, found in a priority-ordered registry. */
import type { OutputPage } from '../api';
import { h } from '../lib/dom';
import { fillAnsi } from '../lib/ansi';
import { mimeText } from '../lib/text';
import type { MimeBundle } from '../protocol';
import { JsonTree } from './JsonTree';
import { PlotlyChart, isPlotlyFigure } from './PlotlyChart';
import { TABLE_MIME, type TablePager, TableView, isTableData } from './TableView';
import { TruncatedText } from './TruncatedText';
import { VegaChart } from './VegaChart';

/** What an output may ask of the page, e.g. another page of a table. */
/** Reads page `offset` (in characters) of the cell's output `n` from the server. */
export type OutputPager = (n: number, offset: number) => Promise<OutputPage>;

export interface OutputContext {
  tablePage?: TablePager;
  /** Opens a table output (by its ref) in the Explore panel. */
  explore?: (ref: string) => void;
  outputPage?: OutputPager;
}

/** Returns null when the value is not one this renderer understands, so the next one is tried. */
type MimeRenderer = (value: unknown, context: OutputContext, metadata: unknown) => HTMLElement | null;

/** The size an image asks to be shown at (a retina figure: half its pixels), as <img> attributes. */
function shownSize(metadata: unknown): Record<string, string> {
  const size: Record<string, string> = {};
  if (typeof metadata !== 'object' || metadata === null) return size;
  for (const key of ['width', 'height'] as const) {
    const value = (metadata as Record<string, unknown>)[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) size[key] = String(Math.round(value));
  }
  return size;
}

const base64Image =
  (type: 'png' | 'jpeg'): MimeRenderer =>
  (value, _context, metadata) => {
    const base64 = mimeText(value)?.replace(/\s+/g, '');
    if (!base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
    return h('img', {
      className: 'output-image',
      attrs: { src: `data:image/${type};base64,${base64}`, alt: 'image output', ...shownSize(metadata) },
    });
  };

/** SVG goes through <img>, where its scripts never run. */
function imageSvg(value: unknown): HTMLElement | null {
  const svg = mimeText(value);
  if (svg === null) return null;
  return h('img', { className: 'output-image', attrs: { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt: 'image output' } });
}

/** The page HTML and JavaScript outputs run in (platform/quire/output_frame.py). */
export const OUTPUT_FRAME_URL = '/output-frame/';
// Bounds on the height a frame may ask for: a runaway layout must not make the page miles long.
const MIN_FRAME_PX = 24;
const MAX_FRAME_PX = 4000;

/**
 * HTML (and JavaScript) outputs run in an iframe sandboxed with allow-scripts only: their scripts run,
 * under an opaque origin, so they cannot read the page, its cookies or its session, nor navigate it.
 * The frame's page is the platform's; the output's HTML is posted to it once it has loaded, and
 * the frame reports its height back.
 */
function sandboxedFrame(html: string, title: string): HTMLElement {
  const frame = h('iframe', {
    className: 'output-html', attrs: { sandbox: 'allow-scripts', src: OUTPUT_FRAME_URL, title },
  });
  let sent = false;
  frame.addEventListener('load', () => {
    if (sent) return; // writing the output loads the frame again
    sent = true;
    // The frame's origin is opaque, so no target origin can name it; what is sent is the output itself.
    frame.contentWindow?.postMessage({ quireOutputHtml: html }, '*');
  });
  return frame;
}

window.addEventListener('message', (event: MessageEvent) => {
  const height = (event.data as { quireFrameHeight?: unknown } | null)?.quireFrameHeight;
  if (typeof height !== 'number' || !Number.isFinite(height)) return;
  for (const frame of document.querySelectorAll<HTMLIFrameElement>('iframe.output-html')) {
    if (frame.contentWindow === event.source) {
      frame.style.height = `${Math.min(MAX_FRAME_PX, Math.max(MIN_FRAME_PX, Math.ceil(height) + 2))}px`;
    }
  }
});

function textHtml(value: unknown): HTMLElement | null {
  const html = mimeText(value);
  return html === null ? null : sandboxedFrame(html, 'HTML output');
}

function javascript(value: unknown): HTMLElement | null {
  const code = mimeText(value);
  if (code === null) return null;
  // In the body, so the code finds document.body; "</script" inside it would end its element early.
  return sandboxedFrame(`<body><script>${code.replace(/<\/script/gi, '<\\/script')}</script></body>`, 'JavaScript output');
}

type RenderModule = typeof import('../markdownHtml');
let renderModule: Promise<RenderModule> | null = null;

/** Markdown and LaTeX render once marked and KaTeX have loaded (they are loaded lazily, as for text cells). */
const rendered =
  (kind: 'markdown' | 'latex'): MimeRenderer =>
  (value) => {
    const source = mimeText(value);
    if (source === null) return null;
    const element = h('div', { className: `output-${kind} markdown`, text: source });
    renderModule ??= import('../markdownHtml');
    void renderModule.then(({ renderMarkdown, renderLatex }) => {
      // The one place these outputs become markup: both functions pass it through DOMPurify.
      element.innerHTML = kind === 'markdown' ? renderMarkdown(source) : renderLatex(source);
    });
    return element;
  };

const vega =
  (mode: 'vega' | 'vega-lite'): MimeRenderer =>
  (value) => {
    const spec = typeof value === 'string' ? safeJson(value) : value;
    return typeof spec === 'object' && spec !== null ? VegaChart(spec, mode) : null;
  };

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function plotly(value: unknown): HTMLElement | null {
  const figure = typeof value === 'string' ? safeJson(value) : value;
  return isPlotlyFigure(figure) ? PlotlyChart(figure) : null;
}

function textPlain(value: unknown): HTMLElement | null {
  const text = mimeText(value);
  return text === null ? null : TruncatedText(text, 'output-text', fillAnsi);
}

function json(value: unknown): HTMLElement | null {
  return value === undefined ? null : JsonTree(value);
}

/** Richest first. */
export const MIME_RENDERERS: ReadonlyArray<readonly [mime: string, render: MimeRenderer]> = [
  [TABLE_MIME, (value, context) => (isTableData(value) ? TableView(value, context.tablePage, context.explore) : null)],
  // altair 6 and JupyterLab name Vega-Lite 6 and Vega 6 with ".json".
  ['application/vnd.vegalite.v6.json', vega('vega-lite')],
  ['application/vnd.vegalite.v6+json', vega('vega-lite')],
  ['application/vnd.vegalite.v5+json', vega('vega-lite')],
  ['application/vnd.vegalite.v4+json', vega('vega-lite')],
  ['application/vnd.vegalite+json', vega('vega-lite')],
  ['application/vnd.vega.v6.json', vega('vega')],
  ['application/vnd.vega.v6+json', vega('vega')],
  ['application/vnd.vega.v5+json', vega('vega')],
  ['application/vnd.vega+json', vega('vega')],
  ['application/vnd.plotly.v1+json', plotly],
  ['image/png', base64Image('png')],
  ['image/jpeg', base64Image('jpeg')],
  ['image/svg+xml', imageSvg],
  ['text/html', textHtml],
  ['application/javascript', javascript],
  ['text/markdown', rendered('markdown')],
  ['text/latex', rendered('latex')],
  ['application/json', json],
  ['text/plain', textPlain],
];

export function MimeView(data: MimeBundle, context: OutputContext = {}, metadata: Record<string, unknown> = {}): HTMLElement {
  for (const [mime, render] of MIME_RENDERERS) {
    if (!(mime in data)) continue;
    const element = render(data[mime], context, metadata[mime]);
    if (element) {
      element.dataset.mime = mime;
      return element;
    }
  }
  const types = Object.keys(data).join(', ') || 'none';
  return h('p', { className: 'output-unsupported', text: `No viewer for this output (types: ${types}).` });
}
