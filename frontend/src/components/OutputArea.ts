/** A cell's outputs, in order: streams, rich results and errors. */
import { h } from '../lib/dom';
import { applyCarriageReturns, stripAnsi } from '../lib/text';
import type { Output } from '../protocol';
import { ErrorView } from './ErrorView';
import { MimeView, type OutputContext } from './MimeView';
import { TruncatedText } from './TruncatedText';

export function OutputView(output: Output, context: OutputContext = {}): HTMLElement {
  switch (output.output_type) {
    case 'stream':
      return TruncatedText(applyCarriageReturns(stripAnsi(output.text)), `output-stream output-${output.name}`);
    case 'display_data':
    case 'execute_result':
      return h('div', { className: `output-${output.output_type}` }, MimeView(output.data, context));
    case 'error':
      return ErrorView(output);
  }
}

export class OutputArea {
  readonly element = h('div', { className: 'output-area', testId: 'cell-output' });
  // Outputs are immutable values and lists only grow or restart, so everything up to the first
  // changed output stays in the DOM untouched: a growing stream re-renders one <pre>, and
  // iframes above it are not moved (moving an iframe reloads it).
  private shown: { output: Output; node: HTMLElement }[] = [];

  constructor(private readonly context: OutputContext = {}) {}

  render(outputs: readonly Output[]): void {
    let keep = 0;
    while (keep < outputs.length && keep < this.shown.length && this.shown[keep]?.output === outputs[keep]) keep++;
    for (const stale of this.shown.slice(keep)) stale.node.remove();
    const added = outputs.slice(keep).map((output) => ({ output, node: OutputView(output, this.context) }));
    this.element.append(...added.map((entry) => entry.node));
    this.shown = [...this.shown.slice(0, keep), ...added];
    this.element.hidden = outputs.length === 0;
  }
}
