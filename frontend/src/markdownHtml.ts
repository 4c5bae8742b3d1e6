/**
 * Markdown with LaTeX ($…$ inline, $$…$$ display) to sanitized HTML, for text cells.
 * Loaded lazily (marked + KaTeX + DOMPurify are the biggest part of a text cell's cost).
 */
import DOMPurify from 'dompurify';
import katex from 'katex';
import 'katex/dist/katex.min.css';
import { Marked, type TokenizerAndRendererExtension, type Tokens } from 'marked';

interface MathToken extends Tokens.Generic {
  text: string;
  display: boolean;
}

function tex(text: string, display: boolean): string {
  // throwOnError false: a typo shows as red source text, not a broken cell.
  return katex.renderToString(text, { displayMode: display, throwOnError: false, trust: false, output: 'htmlAndMathml' });
}

const blockMath: TokenizerAndRendererExtension = {
  name: 'blockMath',
  level: 'block',
  start: (src) => src.match(/^ {0,3}\$\$/m)?.index,
  tokenizer(src) {
    const match = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/.exec(src);
    if (match) return { type: 'blockMath', raw: match[0], text: (match[1] ?? '').trim(), display: true } as MathToken;
    return undefined;
  },
  renderer: (token) => `${tex((token as MathToken).text, true)}\n`,
};

const inlineMath: TokenizerAndRendererExtension = {
  name: 'inlineMath',
  level: 'inline',
  start: (src) => {
    const index = src.indexOf('$');
    return index < 0 ? undefined : index;
  },
  tokenizer(src) {
    const display = /^\$\$((?:\\.|[^$\\])+?)\$\$/.exec(src);
    if (display) return { type: 'inlineMath', raw: display[0], text: (display[1] ?? '').trim(), display: true } as MathToken;
    // Jupyter's rule: no space just inside the dollars, so "$5 and $6" stays text.
    const inline = /^\$(?!\s)((?:\\.|[^$\\\n])+?)(?<!\s)\$(?!\d)/.exec(src);
    if (inline) return { type: 'inlineMath', raw: inline[0], text: inline[1] ?? '', display: false } as MathToken;
    return undefined;
  },
  renderer: (token) => tex((token as MathToken).text, (token as MathToken).display),
};

const marked = new Marked({ gfm: true, breaks: false, extensions: [blockMath, inlineMath] });

function sanitize(html: string): string {
  return DOMPurify.sanitize(html, { ADD_ATTR: ['target'], FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'] });
}

/** The HTML for a text cell or a text/markdown output; nothing in it can run script (DOMPurify removes it). */
export function renderMarkdown(source: string): string {
  return sanitize(marked.parse(source, { async: false }));
}

/**
 * The HTML for a text/latex output: one formula in $…$, $$…$$, \(…\) or \[…\], a bare environment
 * (\begin{align}…), or prose with formulas in it (rendered as Markdown is).
 */
export function renderLatex(source: string): string {
  const text = source.trim();
  const display = /^\$\$([\s\S]*)\$\$$/.exec(text) ?? /^\\\[([\s\S]*)\\\]$/.exec(text);
  if (display) return sanitize(tex(display[1] ?? '', true));
  const inline = /^\$([^$]*)\$$/.exec(text) ?? /^\\\(([\s\S]*)\\\)$/.exec(text);
  if (inline) return sanitize(tex(inline[1] ?? '', false));
  if (text.includes('$')) return renderMarkdown(text);
  return sanitize(tex(text, true));
}
