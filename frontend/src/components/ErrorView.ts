/** A cell's error: "ename: evalue", the traceback in its ANSI colours, and source positions. */
import { h } from '../lib/dom';
import { fillAnsi } from '../lib/ansi';
import type { ErrorOutput } from '../protocol';

export function ErrorView(error: ErrorOutput): HTMLElement {
  const lines = [`${error.ename}: ${error.evalue}`, ...error.traceback];
  const positions = (error.positions ?? []).map((p) =>
    h('li', { text: `line ${p.line}, column ${p.column}: ${p.message}` }),
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
