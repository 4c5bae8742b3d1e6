import { afterEach, describe, expect, it, vi } from 'vitest';
import { KernelStatus, kernelStatusColour } from '../src/components/KernelStatus';
import { MimeView } from '../src/components/MimeView';
import { OutputView } from '../src/components/OutputArea';
import { stripAnsi } from '../src/lib/text';
import type { ErrorOutput } from '../src/protocol';

// A tiny valid PNG (1x1) as base64.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const TABLE = {
  schema: [
    { name: 'city', type: 'string' },
    { name: 'sales', type: 'bigint' },
  ],
  rows: [
    ['Oslo', 12],
    ['Lima', null],
  ],
  total_rows: 1500,
  offset: 0,
  page_size: 2,
};

/** Puts a rendered output into the page, as the notebook would. */
function show(element: HTMLElement): HTMLElement {
  document.body.append(element);
  return element;
}

afterEach(() => {
  document.body.replaceChildren();
  delete (window as unknown as { pwned?: unknown }).pwned;
});

describe('MimeView picks the richest type it can show', () => {
  it('prefers the table over everything else', () => {
    const view = MimeView({ 'text/plain': 'DataFrame[city, sales]', 'text/html': '<table></table>', 'image/png': PNG, 'application/vnd.quire.table+json': TABLE });
    expect(view.dataset.mime).toBe('application/vnd.quire.table+json');
  });

  it.each([
    [{ 'text/plain': 'x', 'text/html': '<b>x</b>', 'image/png': PNG }, 'image/png'],
    [{ 'text/plain': 'x', 'text/html': '<b>x</b>', 'application/vnd.vegalite+json': { mark: 'bar' } }, 'application/vnd.vegalite+json'],
    [{ 'text/plain': 'x', 'application/vnd.vegalite+json': { mark: 'bar' } }, 'application/vnd.vegalite+json'],
    [{ 'text/plain': 'x', 'application/json': { a: 1 } }, 'application/json'],
    [{ 'text/plain': 'x', 'text/markdown': '*x*' }, 'text/markdown'],
    // altair 6's mimetype renderer; plotly's figure JSON before the HTML that would load plotly.js from a CDN.
    [{ 'text/plain': '<VegaLite 6 object>', 'application/vnd.vegalite.v6.json': { mark: 'bar' } }, 'application/vnd.vegalite.v6.json'],
    [{ 'text/plain': 'x', 'application/vnd.vega.v6.json': { marks: [] } }, 'application/vnd.vega.v6.json'],
    [{ 'text/plain': 'x', 'text/html': '<script src="https://cdn"></script>', 'application/vnd.plotly.v1+json': { data: [], layout: {} } }, 'application/vnd.plotly.v1+json'],
    // A widget's view: its drawing (the kernel adds it), not the view the page has no manager for.
    [{ 'text/plain': 'bar', 'text/html': '<progress></progress>', 'application/vnd.jupyter.widget-view+json': { model_id: 'm' } }, 'text/html'],
  ])('bundle %# shows as %s', (bundle, mime) => {
    expect(MimeView(bundle).dataset.mime).toBe(mime);
  });

  it('falls back to the next type when a richer value is unusable', () => {
    expect(MimeView({ 'application/vnd.plotly.v1+json': { layout: {} }, 'text/plain': 'x' }).dataset.mime).toBe('text/plain');
    expect(MimeView({ 'application/vnd.quire.table+json': { rows: 'nope' }, 'text/plain': 'x' }).dataset.mime).toBe('text/plain');
    expect(MimeView({ 'image/png': '<svg onload=alert(1)>', 'text/plain': 'x' }).dataset.mime).toBe('text/plain');
  });

  it('says so when no type can be shown', () => {
    expect(MimeView({ 'application/x-mystery': 1 }).textContent).toContain('application/x-mystery');
  });
});

describe('each MIME type', () => {
  it('shows a table with the schema as header and how many rows are shown', () => {
    const view = show(MimeView({ 'application/vnd.quire.table+json': TABLE }));
    const headers = [...view.querySelectorAll('th')].map((th) => th.textContent);
    expect(headers).toEqual(['citystring', 'salesbigint']);
    const rows = [...view.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(rows).toEqual([
      ['Oslo', '12'],
      ['Lima', 'null'],
    ]);
    expect(view.textContent).toContain('showing 2 of 1500 rows');
  });

  it('shows a PNG as an image from its base64 data', () => {
    const img = MimeView({ 'image/png': `${PNG.slice(0, 40)}\n${PNG.slice(40)}` });
    expect(img.tagName).toBe('IMG');
    expect(img.getAttribute('src')).toBe(`data:image/png;base64,${PNG}`);
  });

  it('draws a Vega-Lite spec with the bundled vega-embed', async () => {
    const view = show(MimeView({ 'application/vnd.vegalite+json': { mark: 'bar', data: { values: [{ a: 1 }] }, encoding: { x: { field: 'a', type: 'quantitative' } } } }));
    expect(view.dataset.testid).toBe('vega-chart');
    // vega-embed's first load compiles a large bundle: slow on a busy machine, so the wait is generous.
    await vi.waitFor(() => expect(view.querySelector('svg')).not.toBeNull(), { timeout: 20_000 });
  }, 30_000);

  it('shows plain text as text, never as markup', () => {
    const view = show(MimeView({ 'text/plain': ['<b id="bold">', 'not bold</b>'] }));
    expect(view.tagName).toBe('PRE');
    expect(view.textContent).toBe('<b id="bold">not bold</b>');
    expect(document.getElementById('bold')).toBeNull();
  });

  it('shows table values as text, never as markup', () => {
    const table = { ...TABLE, rows: [['<img id="cellimg" src=x>', 1]] };
    show(MimeView({ 'application/vnd.quire.table+json': table }));
    expect(document.getElementById('cellimg')).toBeNull();
  });
});

describe('HTML output', () => {
  const HOSTILE = '<p id="evil">hi</p><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';

  it('goes into the platform frame, sandboxed to scripts only, never as srcdoc', () => {
    const view = show(MimeView({ 'text/html': HOSTILE }));
    expect(view.tagName).toBe('IFRAME');
    const frame = view as HTMLIFrameElement;
    expect(frame.getAttribute('sandbox')).toBe('allow-scripts');
    expect(frame.srcdoc).toBe('');
  });

  it('never reaches the page DOM', () => {
    const view = show(OutputView({ output_type: 'display_data', data: { 'text/html': HOSTILE }, metadata: {} }));
    expect(document.getElementById('evil')).toBeNull();
    expect(document.querySelector('script')).toBeNull();
    expect(view.querySelector('img')).toBeNull();
    expect((window as unknown as { pwned?: unknown }).pwned).toBeUndefined();
  });
});

describe('error output', () => {
  const error: ErrorOutput = {
    output_type: 'error',
    ename: 'ZeroDivisionError',
    evalue: 'division by zero',
    traceback: ['\u001b[0;31mZeroDivisionError\u001b[0m Traceback', '\u001b[1;32m----> 1\u001b[0m 1/0'],
    positions: [{ line: 1, column: 1, end_line: 1, end_column: 4, message: 'division by zero' }],
  };

  it('shows "ename: evalue" and the traceback with its ANSI colours as spans, no escape codes, in a red pre', () => {
    const view = show(OutputView(error));
    const pre = view.querySelector('pre')!;
    expect(view.classList.contains('output-error')).toBe(true);
    expect(pre.textContent).toBe('ZeroDivisionError: division by zero\nZeroDivisionError Traceback\n----> 1 1/0');
    expect(pre.textContent).not.toContain('\u001b');
    expect(view.textContent).toContain('line 1, column 1');
  });

  it("says a Python error once: the traceback's last line is the heading, a position does not repeat it", () => {
    const syntax: ErrorOutput = {
      output_type: 'error',
      ename: 'SyntaxError',
      evalue: "'(' was never closed",
      // As the kernel sends it for `x = (`.
      traceback: ['  File "<cell a>", line 1', '    x = (', '        ^', "SyntaxError: '(' was never closed"],
      positions: [{ line: 1, column: 5, end_line: 1, end_column: 6, message: "'(' was never closed" }],
    };
    const view = show(OutputView(syntax));
    expect(view.textContent!.split("was never closed")).toHaveLength(2);
    expect(view.querySelector('.error-positions')?.textContent).toBe('line 1, column 5');
  });

  it('treats the traceback as text, never markup', () => {
    show(OutputView({ ...error, traceback: ['<i id="tb">x</i>'] }));
    expect(document.getElementById('tb')).toBeNull();
  });
});

describe('stripAnsi', () => {
  it('removes colour, cursor and hyperlink sequences and keeps the text', () => {
    expect(stripAnsi('\u001b[38;5;196mred\u001b[39m \u001b[2Kline \u001b]8;;http://x\u0007link\u001b]8;;\u0007')).toBe('red line link');
  });
});

describe('KernelStatus', () => {
  it.each([
    ['idle', 'green'],
    ['busy', 'yellow'],
    ['starting', 'yellow'],
    ['disconnected', 'grey'],
    ['stopped', 'grey'],
    ['dead', 'red'],
    ['not_started', 'red'],
  ] as const)('shows %s in %s', (state, colour) => {
    const badge = new KernelStatus(state);
    expect(badge.element.textContent).toBe(state);
    expect(badge.element.dataset.colour).toBe(colour);
    expect(kernelStatusColour(state)).toBe(colour);
  });

  it('changes colour when the state changes', () => {
    const badge = new KernelStatus('idle');
    badge.set('busy');
    expect(badge.element.dataset.colour).toBe('yellow');
    expect(badge.element.dataset.testid).toBe('kernel-status');
  });
});
