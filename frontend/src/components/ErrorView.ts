/** A cell's error: "ename: evalue", the traceback with ANSI colours stripped, and source positions. */
import { h } from '../lib/dom';
import { stripAnsi } from '../lib/text';
import type { ErrorOutput } from '../protocol';

export function ErrorView(error: ErrorOutput): HTMLElement {
  const lines = [`${error.ename}: ${error.evalue}`, ...error.traceback.map(stripAnsi)];
  const positions = (error.positions ?? []).map((p) =>
    h('li', { text: `line ${p.line}, column ${p.column}: ${p.message}` }),
  );
  return h(
    'div',
    { className: 'output-error' },
    h('pre', { text: stripAnsi(lines.join('\n')) }),
    positions.length > 0 && h('ul', { className: 'error-positions' }, ...positions),
  );
}
