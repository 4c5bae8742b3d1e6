/** A cell's error: "ename: evalue", the traceback in its ANSI colours, and source positions. */
import { h } from '../lib/dom';
import { ansiSegments, fillAnsi } from '../lib/ansi';
import type { ErrorOutput } from '../protocol';

/** The text a traceback line shows, without its colour codes. */
function plain(line: string): string {
  return ansiSegments(line)
    .map((segment) => segment.text)
    .join('');
}

/**
 * Each fact once: "ename: evalue" heads the traceback unless the traceback already ends with it (Python's do),
 * and a position repeats its message only when it says more than the error's own.
 */
export function ErrorView(error: ErrorOutput): HTMLElement {
  const header = `${error.ename}: ${error.evalue}`;
  const last = plain(error.traceback.at(-1) ?? '').trim();
  const lines = last === header.trim() ? [...error.traceback] : [header, ...error.traceback];
  const positions = (error.positions ?? []).map((p) =>
    h('li', { text: `line ${p.line}, column ${p.column}${p.message && p.message !== error.evalue ? `: ${p.message}` : ''}` }),
  );
  const pre = h('pre');
  fillAnsi(pre, lines.join('\n'));
  return h(
    'div',
    { className: 'output-error' },
    pre,
    positions.length > 0 && h('ul', { className: 'error-positions' }, ...positions),
  );
}
