import { describe, expect, it } from 'vitest';
import { ErrorView } from '../src/components/ErrorView';
import { JsonTree } from '../src/components/JsonTree';
import { MimeView, OUTPUT_FRAME_URL } from '../src/components/MimeView';
import { OutputView } from '../src/components/OutputArea';
import { ansiSegments } from '../src/lib/ansi';
import { renderLatex } from '../src/markdownHtml';

const ESC = '\u001b';

describe('ANSI colours', () => {
  it('cuts text where its style changes and drops other escapes', () => {
    const segments = ansiSegments(`plain ${ESC}[1;31mbold red${ESC}[0m ${ESC}[2Kback ${ESC}[38;5;196mx${ESC}[38;2;1;2;3my`);
    expect(segments).toEqual([
      { text: 'plain ', style: {} },
      { text: 'bold red', style: { bold: true, fg: 'red' } },
      { text: ' back ', style: {} },
      { text: 'x', style: { fg: 'rgb(255,0,0)' } },
      { text: 'y', style: { fg: 'rgb(1,2,3)' } },
    ]);
  });

  it('colours streams and tracebacks with spans, never markup from the text', () => {
    const stream = OutputView({ output_type: 'stream', name: 'stdout', text: `${ESC}[32mok${ESC}[0m <b>not bold</b>\n` });
    expect(stream.querySelector('span.ansi-green-fg')?.textContent).toBe('ok');
    expect(stream.querySelector('b')).toBeNull();
    expect(stream.textContent).toBe('ok <b>not bold</b>\n');
    const error = ErrorView({ output_type: 'error', ename: 'ValueError', evalue: 'bad', traceback: [`${ESC}[0;31mValueError${ESC}[0m: bad`] });
    expect(error.querySelector('span.ansi-red-fg')?.textContent).toBe('ValueError');
    expect(error.textContent).not.toContain(ESC);
  });
});

describe('application/json', () => {
  it('is a tree whose top levels are open and deeper ones folded', () => {
    const tree = JsonTree({ name: 'q', items: [1, { deep: { deeper: true } }], none: null });
    const details = [...tree.querySelectorAll('details')];
    expect(details.map((d) => d.open)).toEqual([true, true, false, false]);
    expect(tree.querySelector('.json-key')?.textContent).toBe('"name": ');
    expect(tree.querySelector('.json-null')?.textContent).toBe('null');
    expect(MimeView({ 'application/json': [1, 2], 'text/plain': '[1, 2]' }).dataset.mime).toBe('application/json');
  });
});

describe('markdown and LaTeX outputs', () => {
  it('render through the sanitizer once the renderer has loaded', async () => {
    const markdown = MimeView({ 'text/markdown': '**bold** <img src=x onerror="alert(1)">', 'text/plain': 'x' });
    await expect.poll(() => markdown.querySelector('strong')?.textContent).toBe('bold');
    expect(markdown.querySelector('img')?.getAttribute('onerror')).toBeNull();
    const latex = MimeView({ 'text/latex': '$$x^2$$', 'text/plain': 'x' });
    await expect.poll(() => latex.querySelector('.katex-display')).not.toBeNull();
  });

  it('accepts one formula in any delimiters, a bare environment, or prose with formulas', () => {
    for (const source of ['$x$', '\\(x\\)', '\\[x\\]', '\\begin{aligned}a&=b\\end{aligned}', 'where $x$ is']) {
      expect(renderLatex(source)).toContain('katex');
    }
  });
});

describe('images', () => {
  it('are shown at the size their metadata asks for, as a retina figure does', () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const img = MimeView({ 'image/png': png }, {}, { 'image/png': { width: 300, height: 200 } });
    expect([img.getAttribute('width'), img.getAttribute('height')]).toEqual(['300', '200']);
    expect(MimeView({ 'image/png': png }, {}, { 'image/png': { width: 'x' } }).hasAttribute('width')).toBe(false);
  });
});

describe('HTML and JavaScript outputs', () => {
  it('run in the platform frame, sandboxed to scripts without the page origin', () => {
    for (const bundle of [{ 'text/html': '<script>1</script>' }, { 'application/javascript': 'console.log(1)' }]) {
      const frame = MimeView(bundle) as HTMLIFrameElement;
      expect(frame.tagName).toBe('IFRAME');
      expect(frame.getAttribute('sandbox')).toBe('allow-scripts');
      expect(frame.getAttribute('src')).toBe(OUTPUT_FRAME_URL);
      expect(frame.srcdoc).toBe('');
    }
  });
});
