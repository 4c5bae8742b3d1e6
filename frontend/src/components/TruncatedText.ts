/** Long text output cut to a readable head, with a button to show the rest. */
import { h } from '../lib/dom';

export const MAX_LINES = 400;
export const MAX_CHARS = 40_000;

/** The head to show first, or null when the text is short enough to show whole. */
export function truncate(text: string, maxLines = MAX_LINES, maxChars = MAX_CHARS): { head: string; hiddenLines: number } | null {
  let cut = Math.min(text.length, maxChars);
  let lines = 0;
  for (let i = 0; i < cut; i++) {
    if (text.charCodeAt(i) === 10 && ++lines >= maxLines) {
      cut = i + 1;
      break;
    }
  }
  if (cut >= text.length) return null;
  const rest = text.slice(cut);
  return { head: text.slice(0, cut), hiddenLines: rest.split('\n').length - (rest.endsWith('\n') ? 1 : 0) };
}

/** How text goes into its <pre>: as plain text, or with its ANSI colours (fillAnsi). */
export type Fill = (element: HTMLElement, text: string) => void;

const plain: Fill = (element, text) => {
  element.textContent = text;
};

export function TruncatedText(text: string, className: string, fill: Fill = plain): HTMLElement {
  const cut = truncate(text);
  const pre = h('pre', { className });
  fill(pre, cut ? cut.head : text);
  if (!cut) return pre;
  const more = h('button', {
    className: 'button subtle show-more',
    testId: 'show-more',
    text: `Show ${cut.hiddenLines} more line${cut.hiddenLines === 1 ? '' : 's'} (${Math.round(text.length / 1024)} KB in all)`,
    attrs: { type: 'button' },
  });
  const wrapper = h('div', { className: 'truncated-output' }, pre, more);
  more.addEventListener('click', () => {
    fill(pre, text);
    more.remove();
  });
  return wrapper;
}
