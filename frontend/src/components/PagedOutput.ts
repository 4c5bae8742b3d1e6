/** An output the server sent only the head of: the head, a notice of how much there is, and buttons that read the
 * rest from the server in pages. */
import { h } from '../lib/dom';
import { applyCarriageReturns, stripAnsi } from '../lib/text';
import type { Output } from '../protocol';
import type { OutputPager } from './MimeView';

/** A size in characters, as people read file sizes. */
export function sizeText(chars: number): string {
  if (chars >= 1024 * 1024) return `${(chars / (1024 * 1024)).toFixed(1)} MB`;
  if (chars >= 1024) return `${Math.round(chars / 1024)} KB`;
  return `${chars} characters`;
}

export class PagedOutput {
  readonly element: HTMLElement;
  private readonly notice = h('div', { className: 'output-more-notice', testId: 'output-more-notice' });
  private readonly buttons: HTMLButtonElement[] = [];
  private running = false;
  private busy = false;

  constructor(
    output: Output,
    private readonly pager: OutputPager,
    private readonly renderWhole: (output: Output) => HTMLElement,
  ) {
    const more = output.more;
    if (output.output_type === 'stream' && more) {
      const pre = h('pre', { className: `output-stream output-${output.name}`, text: output.text });
      let shown = output.text;
      // The server counts characters as code points; a JavaScript string's length counts UTF-16 units.
      let offset = [...output.text].length;
      let total = more.chars ?? null;
      const showNotice = (): void => {
        this.notice.textContent =
          total === null
            ? `Output shown in part (the first ${sizeText(offset)}); the rest can be loaded when the run ends.`
            : `Output shown in part: the first ${sizeText(offset)} of ${sizeText(total)}.`;
      };
      const finish = (): void => {
        this.notice.remove();
        for (const button of this.buttons) button.remove();
      };
      // Pages go by characters of the stored text, which begins with the head already shown.
      const loadPage = async (): Promise<boolean> => {
        const page = await this.pager(more.n, offset);
        shown += page.text ?? '';
        offset = page.next_offset ?? page.total;
        total = page.total;
        pre.textContent = applyCarriageReturns(stripAnsi(shown));
        if (page.next_offset === null) {
          finish();
          return false;
        }
        showNotice();
        return true;
      };
      showNotice();
      this.element = h(
        'div',
        { className: 'paged-output' },
        pre,
        this.notice,
        this.button('Show more', 'output-show-more', loadPage),
        this.button('Load all', 'output-load-all', async () => {
          while (await loadPage()) {
            // one page at a time, each shown as it arrives
          }
          return false;
        }),
      );
      pre.textContent = applyCarriageReturns(stripAnsi(shown));
      return;
    }
    this.notice.textContent = `Output shown in part${more?.chars ? ` (${sizeText(more.chars)} in all)` : ''}.`;
    const head = this.renderWhole({ ...output, more: undefined } as Output);
    this.element = h(
      'div',
      { className: 'paged-output' },
      head,
      this.notice,
      this.button('Load output', 'output-load-all', async () => {
        const page = await this.pager(more?.n ?? 0, 0);
        if (page.output) this.element.replaceChildren(this.renderWhole({ ...page.output, more: undefined } as Output));
        return false;
      }),
    );
  }

  /** While the cell runs, what the server has stored is the previous run: nothing can be loaded yet. */
  setRunning(running: boolean): void {
    this.running = running;
    this.refresh();
  }

  private refresh(): void {
    for (const button of this.buttons) button.disabled = this.running || this.busy;
  }

  private button(text: string, testId: string, action: () => Promise<boolean>): HTMLButtonElement {
    const button = h('button', { className: 'button subtle', testId, text, attrs: { type: 'button' } }) as HTMLButtonElement;
    button.addEventListener('click', () => {
      if (this.busy || this.running) return;
      this.busy = true;
      this.refresh();
      action()
        .catch((error: unknown) => {
          this.notice.textContent = `Could not load the rest of this output: ${error instanceof Error ? error.message : String(error)}`;
        })
        .finally(() => {
          this.busy = false;
          this.refresh();
        });
    });
    this.buttons.push(button);
    return button;
  }
}
