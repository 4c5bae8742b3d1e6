/** Shows a MIME bundle through the richest renderer it supports, found in a priority-ordered registry. */
import { h } from '../lib/dom';
import { mimeText, stripAnsi } from '../lib/text';
import type { MimeBundle } from '../protocol';
import { TABLE_MIME, TableView, isTableData } from './TableView';

/** Returns null when the value is not one this renderer understands, so the next one is tried. */
type MimeRenderer = (value: unknown) => HTMLElement | null;

function imagePng(value: unknown): HTMLElement | null {
  const base64 = mimeText(value)?.replace(/\s+/g, '');
  if (!base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return null;
  return h('img', { className: 'output-image', attrs: { src: `data:image/png;base64,${base64}`, alt: 'image output' } });
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

/** A placeholder until charts are drawn with the bundled vega-embed. */
function vegaLite(value: unknown): HTMLElement | null {
  if (typeof value !== 'object' || value === null) return null;
  return h(
    'div',
    { className: 'output-vega' },
    h('p', { text: 'Vega chart' }),
    h('details', {}, h('summary', { text: 'Specification' }), h('pre', { text: JSON.stringify(value, null, 2) })),
  );
}

function textPlain(value: unknown): HTMLElement | null {
  const text = mimeText(value);
  return text === null ? null : h('pre', { className: 'output-text', text: stripAnsi(text) });
}

/** Richest first. */
export const MIME_RENDERERS: ReadonlyArray<readonly [mime: string, render: MimeRenderer]> = [
  [TABLE_MIME, (value) => (isTableData(value) ? TableView(value) : null)],
  ['image/png', imagePng],
  ['text/html', textHtml],
  ['application/vnd.vegalite+json', vegaLite],
  ['text/plain', textPlain],
];

export function MimeView(data: MimeBundle): HTMLElement {
  for (const [mime, render] of MIME_RENDERERS) {
    if (!(mime in data)) continue;
    const element = render(data[mime]);
    if (element) {
      element.dataset.mime = mime;
      return element;
    }
  }
  const types = Object.keys(data).join(', ') || 'none';
  return h('p', { className: 'output-unsupported', text: `No viewer for this output (types: ${types}).` });
}
