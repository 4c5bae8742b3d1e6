/**
 * Markdown with LaTeX ($…$ inline, $$…$$ display) to sanitized HTML, for text cells.
 * Loaded lazily (marked + KaTeX + DOMPurify are the biggest part of a text cell's cost).
 */
import DOMPurify from 'dompurify';
import katex from 'katex';
import 'katex/dist/katex.min.css';
import { Marked, type TokenizerAndRendererExtension, type Tokens } from 'marked';
import TurndownService from 'turndown';
import { gfm } from 'turndown-plugin-gfm';

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

// ------------------------------------------------------------------ rich-text editing

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A formula as the rich-text editor holds it: rendered, not editable in place, its TeX kept beside it. */
export function mathIsland(text: string, display: boolean): string {
  const tag = display ? 'div' : 'span';
  return `<${tag} class="math-island" contenteditable="false" data-tex="${escapeAttribute(text)}" data-display="${display}">${tex(text, display)}</${tag}>`;
}

const editingMarked = new Marked({
  gfm: true,
  breaks: false,
  extensions: [
    { ...blockMath, renderer: (token) => `${mathIsland((token as MathToken).text, true)}\n` },
    { ...inlineMath, renderer: (token) => mathIsland((token as MathToken).text, (token as MathToken).display) },
  ],
});

/** A text cell's Markdown as the rich-text editor's HTML (sanitized like any rendering; formulas as islands). */
export function markdownForEditing(source: string): string {
  return DOMPurify.sanitize(editingMarked.parse(source, { async: false }), {
    ADD_ATTR: ['target', 'contenteditable'],
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'],
  });
}

const turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-', emDelimiter: '*' });
turndown.use(gfm);
// Turndown's own list items pad the marker to four columns ("-   one"); Markdown as people write it has one space.
turndown.addRule('listItem', {
  filter: 'li',
  replacement: (content, node, options) => {
    const parent = node.parentNode as HTMLElement | null;
    let prefix = `${options.bulletListMarker} `;
    if (parent?.nodeName === 'OL') {
      const start = parent.getAttribute('start');
      const index = Array.prototype.indexOf.call(parent.children, node);
      prefix = `${start ? Number(start) + index : index + 1}. `;
    }
    const body = content.replace(/^\n+/, '').replace(/\n+$/, '\n').replace(/\n/gm, `\n${' '.repeat(prefix.length)}`);
    return prefix + body + (node.nextSibling && !/\n$/.test(body) ? '\n' : '');
  },
});
turndown.addRule('math', {
  filter: (node) => node instanceof HTMLElement && node.classList.contains('math-island'),
  replacement: (_content, node) => {
    const element = node as HTMLElement;
    const source = element.dataset.tex ?? '';
    return element.dataset.display === 'true' ? `\n\n$$\n${source}\n$$\n\n` : `$${source}$`;
  },
});

/** What the rich-text editor holds, back to Markdown: the text cell's source stays standard Markdown. */
export function markdownFromHtml(root: HTMLElement): string {
  // contenteditable types a space at a line's end or before a formula as U+00A0; Markdown means a space.
  return turndown.turndown(root.innerHTML).replace(/\u00a0/g, ' ').replace(/\n{3,}/g, '\n\n').trim();
}
