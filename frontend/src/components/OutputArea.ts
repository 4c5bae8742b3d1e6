/** A cell's outputs, in order: streams, rich results and errors. */
import { h } from '../lib/dom';
import { fillAnsi } from '../lib/ansi';
import { applyCarriageReturns, mimeText, stripAnsi } from '../lib/text';
import type { Output } from '../protocol';
import { ErrorView } from './ErrorView';
import { MimeView, type OutputContext } from './MimeView';
import { PagedOutput } from './PagedOutput';
import { TruncatedText } from './TruncatedText';

/** One output whole: what the server sent, or what was loaded of it. */
export function OutputView(output: Output, context: OutputContext = {}): HTMLElement {
  switch (output.output_type) {
    case 'stream':
      return TruncatedText(applyCarriageReturns(output.text), `output-stream output-${output.name}`, fillAnsi);
    case 'display_data':
    case 'execute_result':
      return h('div', { className: `output-${output.output_type}` }, MimeView(output.data, context, output.metadata ?? {}));
    case 'error':
      return ErrorView(output);
  }
}

/** What "Copy output" puts on the clipboard: each output as text (plain text of rich results), colours removed. */
export function outputsText(outputs: readonly Output[]): string {
  return outputs
    .map((output) => {
      switch (output.output_type) {
        case 'stream':
          return applyCarriageReturns(stripAnsi(output.text));
        case 'display_data':
        case 'execute_result':
          return mimeText(output.data['text/plain']) ?? '';
        case 'error':
          return stripAnsi([`${output.ename}: ${output.evalue}`, ...output.traceback].join('\n'));
        default:
          return '';
      }
    })
    .filter((text) => text !== '')
    .map((text) => text.replace(/\n$/, ''))
    .join('\n');
}

interface Shown {
  output: Output;
  node: HTMLElement;
  paged: PagedOutput | null;
}

export interface OutputsState {
  /** How many outputs the cell has; past `outputs`, the snapshot's budget left them out. */
  total?: number;
  running?: boolean;
}

export class OutputArea {
  readonly element = h('div', { className: 'output-area', testId: 'cell-output' });
  // Outputs are immutable values and lists only grow or restart, so everything up to the first
  // changed output stays in the DOM untouched: a growing stream re-renders one <pre>, and
  // iframes above it are not moved (moving an iframe reloads it).
  private shown: Shown[] = [];
  private omitted: HTMLElement | null = null;
  private loaded: HTMLElement[] = [];
  private running = false;

  constructor(private readonly context: OutputContext = {}) {}

  render(outputs: readonly Output[], state: OutputsState = {}): void {
    this.running = state.running ?? false;
    let keep = 0;
    while (keep < outputs.length && keep < this.shown.length && this.shown[keep]?.output === outputs[keep]) keep++;
    const unchanged = keep === outputs.length && keep === this.shown.length;
    // Outputs loaded on demand belong after the last one shown: they stay while the list does.
    if (!unchanged) {
      for (const node of this.loaded) node.remove();
      this.loaded = [];
    }
    for (const stale of this.shown.slice(keep)) stale.node.remove();
    this.omitted?.remove();
    this.omitted = null;
    const added = outputs.slice(keep).map((output) => this.view(output));
    this.element.append(...added.map((entry) => entry.node));
    this.shown = [...this.shown.slice(0, keep), ...added];
    for (const entry of this.shown) entry.paged?.setRunning(this.running);
    // Outputs arriving live count themselves; `total` counts what a snapshot left out.
    const total = Math.max(state.total ?? 0, outputs.length);
    if (total > outputs.length + this.loaded.length && this.loaded.length === 0 && this.context.outputPage) {
      this.omitted = this.omittedNotice(outputs.length, total);
      this.element.append(this.omitted);
    }
    this.element.hidden = total === 0;
  }

  private view(output: Output): Shown {
    const pager = this.context.outputPage;
    if (output.more && pager) {
      const paged = new PagedOutput(output, pager, (whole) => OutputView(whole, this.context));
      return { output, node: paged.element, paged };
    }
    return { output, node: OutputView(output, this.context), paged: null };
  }

  /** The outputs the snapshot left out, and a button that loads them one by one, each as a head if it is large. */
  private omittedNotice(from: number, total: number): HTMLElement {
    const count = total - from;
    const load = h('button', {
      className: 'button subtle', testId: 'output-load-omitted', text: 'Load them', attrs: { type: 'button' },
    }) as HTMLButtonElement;
    const notice = h(
      'div',
      { className: 'output-more-notice', testId: 'output-omitted' },
      `${count} more output${count === 1 ? '' : 's'} not shown. `,
      load,
    );
    const pager = this.context.outputPage;
    load.addEventListener('click', () => {
      if (!pager || this.running) return;
      load.disabled = true;
      void (async () => {
        try {
          for (let n = from; n < total; n++) {
            const page = await pager(n, 0);
            const output: Output =
              page.output ??
              ({
                output_type: 'stream',
                name: page.name ?? 'stdout',
                text: page.text ?? '',
                ...(page.next_offset === null ? {} : { more: { n, chars: page.total } }),
              } as Output);
            const entry = this.view(output);
            notice.before(entry.node);
            this.loaded.push(entry.node);
          }
          notice.remove();
        } catch (error: unknown) {
          notice.textContent = `Could not load the other outputs: ${error instanceof Error ? error.message : String(error)}`;
        }
      })();
    });
    return notice;
  }
}
