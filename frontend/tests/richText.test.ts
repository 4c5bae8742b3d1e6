import { describe, expect, it } from 'vitest';
import { markdownForEditing, markdownFromHtml, mathIsland } from '../src/markdownHtml';

function roundTrip(markdown: string): string {
  const root = document.createElement('div');
  root.innerHTML = markdownForEditing(markdown);
  return markdownFromHtml(root);
}

describe('rich-text editing keeps Markdown standard', () => {
  it('turns headings, emphasis, lists, links, code, tables and formulas back into the same Markdown', () => {
    const source = [
      '# Churn',
      '',
      'Customers who **left**, by *region*, with `pandas` and [the docs](https://pandas.pydata.org/).',
      '',
      '- one',
      '- two',
      '',
      '1. first',
      '2. second',
      '',
      '| region | churn |',
      '| --- | --- |',
      '| north | 0.1 |',
      '',
      'Inline $e^{i\\pi} + 1 = 0$ and on its own line:',
      '',
      '$$',
      '\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}',
      '$$',
      '',
      '```python',
      'print(1)',
      '```',
    ].join('\n');
    expect(roundTrip(source)).toBe(source);
  });

  it('holds formulas as islands that keep their TeX, and renders them with KaTeX', () => {
    const root = document.createElement('div');
    root.innerHTML = markdownForEditing('See $x^2$.');
    const island = root.querySelector<HTMLElement>('.math-island')!;
    expect(island.dataset.tex).toBe('x^2');
    expect(island.getAttribute('contenteditable')).toBe('false');
    expect(island.querySelector('.katex')).not.toBeNull();
    expect(mathIsland('a"<b', false)).toContain('data-tex="a&quot;&lt;b"');
  });

  it('never lets markup from the source run', () => {
    const root = document.createElement('div');
    root.innerHTML = markdownForEditing('<img src=x onerror="window.pwned=1"> <script>window.pwned=1</script>');
    expect(root.querySelector('script')).toBeNull();
    expect(root.querySelector('img')?.getAttribute('onerror')).toBeNull();
  });
});
