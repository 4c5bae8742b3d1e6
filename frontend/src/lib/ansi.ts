/** ANSI colour and weight codes (SGR) in kernel output as styled spans; every other escape is removed. */
import { stripAnsi } from './text';

export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

/** The 16 terminal colours are classes (ansi-red…), so the stylesheet picks shades that read on the page. */
const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
const CUBE = [0, 95, 135, 175, 215, 255];

function color256(n: number): string | undefined {
  if (n < 0 || n > 255 || !Number.isInteger(n)) return undefined;
  if (n < 8) return NAMES[n];
  if (n < 16) return `bright-${NAMES[n - 8]}`;
  if (n < 232) {
    const i = n - 16;
    return `rgb(${CUBE[Math.floor(i / 36)]},${CUBE[Math.floor(i / 6) % 6]},${CUBE[i % 6]})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey},${grey},${grey})`;
}

/** Reads an extended colour (38;5;n or 38;2;r;g;b) at codes[i]; returns it and how many codes it used. */
function extended(codes: number[], i: number): [string | undefined, number] {
  if (codes[i + 1] === 5) return [color256(codes[i + 2] ?? -1), 3];
  if (codes[i + 1] === 2) {
    const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]];
    const ok = [r, g, b].every((c) => c !== undefined && c >= 0 && c <= 255);
    return [ok ? `rgb(${r},${g},${b})` : undefined, 5];
  }
  return [undefined, 1];
}

function apply(style: AnsiStyle, codes: number[]): AnsiStyle {
  let next = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? 0;
    if (code === 0) next = {};
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 22) next.bold = next.dim = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code >= 30 && code <= 37) next.fg = NAMES[code - 30];
    else if (code >= 90 && code <= 97) next.fg = `bright-${NAMES[code - 90]}`;
    else if (code >= 40 && code <= 47) next.bg = NAMES[code - 40];
    else if (code >= 100 && code <= 107) next.bg = `bright-${NAMES[code - 100]}`;
    else if (code === 39) delete next.fg;
    else if (code === 49) delete next.bg;
    else if (code === 38 || code === 48) {
      const [value, used] = extended(codes, i);
      if (value !== undefined) next[code === 38 ? 'fg' : 'bg'] = value;
      i += used - 1;
    }
  }
  return next;
}

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[([0-9;]*)m/g;

/** The text cut where its style changes; escapes other than SGR are dropped from the text. */
export function ansiSegments(text: string): AnsiSegment[] {
  const segments: AnsiSegment[] = [];
  let style: AnsiStyle = {};
  let at = 0;
  const push = (part: string): void => {
    const clean = stripAnsi(part);
    if (clean) segments.push({ text: clean, style });
  };
  for (const match of text.matchAll(SGR)) {
    push(text.slice(at, match.index));
    const codes = (match[1] ?? '').split(';').map((c) => (c === '' ? 0 : Number(c)));
    style = apply(style, codes);
    at = match.index + match[0].length;
  }
  push(text.slice(at));
  return segments;
}

function colour(span: HTMLElement, value: string, layer: 'fg' | 'bg'): void {
  if (value.startsWith('rgb(')) {
    if (layer === 'fg') span.style.color = value;
    else span.style.backgroundColor = value;
  } else {
    span.classList.add(`ansi-${value}-${layer}`);
  }
}

/** Puts the text into `element` with its colours; unstyled runs stay plain text nodes. */
export function fillAnsi(element: HTMLElement, text: string): void {
  const nodes: Node[] = ansiSegments(text).map(({ text: part, style }) => {
    if (Object.keys(style).length === 0) return document.createTextNode(part);
    const span = document.createElement('span');
    span.textContent = part;
    if (style.fg) colour(span, style.fg, 'fg');
    if (style.bg) colour(span, style.bg, 'bg');
    if (style.bold) span.classList.add('ansi-bold');
    if (style.dim) span.classList.add('ansi-dim');
    if (style.italic) span.classList.add('ansi-italic');
    if (style.underline) span.classList.add('ansi-underline');
    return span;
  });
  element.replaceChildren(...nodes);
}
