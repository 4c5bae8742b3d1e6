/** Shows a MIME bundle through the richest renderer it supports, found in a priority-ordered registry. */
import type { OutputPage } from '../api';
import { h } from '../lib/dom';
import { mimeText, stripAnsi } from '../lib/text';
import type { MimeBundle } from '../protocol';
import { TABLE_MIME, type TablePager, TableView, isTableData } from './TableView';
import { TruncatedText } from './TruncatedText';
import { VegaChart } from './VegaChart';

/** What an output may ask of the page, e.g. another page of a table. */
/** Reads page `offset` (in characters) of the cell's output `n` from the server. */
export type OutputPager = (n: number, offset: number) => Promise<OutputPage>;

export interface OutputContext {
  tablePage?: TablePager;
  outputPage?: OutputPager;
}

/** Returns null when the value is not one this renderer understands, so the next one is tried. */
type MimeRenderer = (value: unknown, context: OutputContext) => HTMLElement | null;

const base64Image =
  (type: 'png' | 'jpeg'): MimeRenderer =>
  (value) => {
    const base64 = mimeText(value)?.replace(/\s+/g, '');
    if (!base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
    return h('img', { className: 'output-image', attrs: { src: `data:image/${type};base64,${base64}`, alt: 'image output' } });
  };

/** SVG goes through <img>, where its scripts never run. */
function imageSvg(value: unknown): HTMLElement | null {
  const svg = mimeText(value);
  if (svg === null) return null;
  return h('img', { className: 'output-image', attrs: { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt: 'image output' } });
}

/**
 * Untrusted HTML goes into an iframe with an empty sandbox: no scripts, no forms, and an opaque
 * origin, so it cannot read the page, its cookies or its session. srcdoc is the one place an
 * untrusted string becomes markup.
 */
function textHtml(value: unknown): HTMLElement | null {
  const html = mimeText(value);
  if (html === null) return null;
  const frame = h('iframe', { className: 'output-html', attrs: { sandbox: '', title: 'HTML output' } });
  frame.srcdoc = html;
  return frame;
}

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

function textPlain(value: unknown): HTMLElement | null {
  const text = mimeText(value);
  return text === null ? null : TruncatedText(stripAnsi(text), 'output-text');
}

/** Richest first. */
export const MIME_RENDERERS: ReadonlyArray<readonly [mime: string, render: MimeRenderer]> = [
  [TABLE_MIME, (value, context) => (isTableData(value) ? TableView(value, context.tablePage) : null)],
  ['application/vnd.vegalite.v5+json', vega('vega-lite')],
  ['application/vnd.vegalite.v4+json', vega('vega-lite')],
  ['application/vnd.vegalite+json', vega('vega-lite')],
  ['application/vnd.vega.v5+json', vega('vega')],
  ['application/vnd.vega+json', vega('vega')],
  ['image/png', base64Image('png')],
  ['image/jpeg', base64Image('jpeg')],
  ['image/svg+xml', imageSvg],
  ['text/html', textHtml],
  ['text/plain', textPlain],
];

export function MimeView(data: MimeBundle, context: OutputContext = {}): HTMLElement {
  for (const [mime, render] of MIME_RENDERERS) {
    if (!(mime in data)) continue;
    const element = render(data[mime], context);
    if (element) {
      element.dataset.mime = mime;
      return element;
    }
  }
  const types = Object.keys(data).join(', ') || 'none';
  return h('p', { className: 'output-unsupported', text: `No viewer for this output (types: ${types}).` });
}
