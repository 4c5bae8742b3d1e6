/** The Kernels panel: every kernel the user started (notebook, state, memory, CPU, since when), each with Shut down. */
import { api, type RunningKernel, type RunningKernels } from '../api';
import { h } from '../lib/dom';
import { Drawer } from './Drawer';

export interface KernelsApi {
  listKernels(): Promise<RunningKernels>;
  shutdownKernel(id: string): Promise<{ stopping: boolean }>;
}

/** While open, the list is read again this often: memory and CPU change with every host heartbeat (2 s). */
export const KERNELS_POLL_MS = 5000;
/** While a kernel it asked to stop is still listed, sooner: its host stops it within a second or so. */
export const STOPPING_POLL_MS = 1000;

function megabytes(bytes: number | null): string {
  return bytes === null ? '—' : `${Math.round(bytes / 1_000_000)} MB`;
}

function cpu(seconds: number | null): string {
  return seconds === null ? '—' : `${seconds.toFixed(1)} s CPU`;
}

/** "since 14:05" today, or the date and time for an older kernel. */
export function since(iso: string, now: Date = new Date()): string {
  const when = new Date(iso);
  const time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return when.toDateString() === now.toDateString() ? `since ${time}` : `since ${when.toLocaleDateString()} ${time}`;
}

export class KernelsPanel {
  readonly drawer = new Drawer('Kernels', 'kernels-panel');
  private readonly api: KernelsApi;
  private readonly why = h('p', { className: 'form-error', testId: 'kernels-why', attrs: { role: 'alert' } });
  private readonly summary = h('p', { className: 'muted', testId: 'kernels-summary' });
  private readonly list = h('ul', { className: 'kernel-list', testId: 'kernel-list' });
  private readonly error = h('p', { className: 'form-error', attrs: { role: 'alert' } });
  private timer: ReturnType<typeof setInterval> | null = null;
  private stoppingTimer: ReturnType<typeof setTimeout> | null = null;
  /** Kernels asked to stop that were still listed at the last read. */
  private readonly stopping = new Set<string>();

  constructor(options: { api?: KernelsApi } = {}) {
    this.api = options.api ?? api;
    this.why.hidden = true;
    this.error.hidden = true;
    this.drawer.body.append(this.why, this.summary, this.error, this.list);
    this.drawer.whenOpened(() => {
      void this.refresh();
      this.timer ??= setInterval(() => {
        if (this.drawer.isOpen) void this.refresh();
        else this.stopPolling();
      }, KERNELS_POLL_MS);
    });
  }

  get element(): HTMLElement {
    return this.drawer.element;
  }

  /** Opens the panel saying why a kernel could not start (the quota is full), above the kernels to choose from. */
  showQuotaFull(message: string): void {
    this.why.textContent = `${message.charAt(0).toUpperCase()}${message.slice(1)}`;
    this.why.hidden = false;
    this.drawer.open();
  }

  dispose(): void {
    this.stopPolling();
  }

  async refresh(): Promise<void> {
    try {
      this.render(await this.api.listKernels());
      this.error.hidden = true;
    } catch (error) {
      this.showError(`Could not list your kernels: ${(error as Error).message}`);
    }
  }

  private stopPolling(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.stoppingTimer !== null) clearTimeout(this.stoppingTimer);
    this.timer = this.stoppingTimer = null;
  }

  private render(running: RunningKernels): void {
    const count = running.results.length;
    this.summary.textContent = `${count} of ${running.max_kernels} kernel${running.max_kernels === 1 ? '' : 's'} your quota allows ${count === 1 ? 'is' : 'are'} running.`;
    if (count < running.max_kernels) this.why.hidden = true;
    const listed = new Set(running.results.map((kernel) => kernel.id));
    for (const id of [...this.stopping]) if (!listed.has(id)) this.stopping.delete(id);
    if (this.stopping.size > 0 && this.stoppingTimer === null) {
      this.stoppingTimer = setTimeout(() => {
        this.stoppingTimer = null;
        void this.refresh();
      }, STOPPING_POLL_MS);
    }
    this.list.replaceChildren(...running.results.map((kernel) => this.row(kernel)));
    if (count === 0) this.list.append(h('li', { className: 'muted', text: 'No kernel of yours is running.' }));
  }

  private row(kernel: RunningKernel): HTMLElement {
    const stop = h('button', {
      className: 'button',
      testId: 'kernel-shutdown',
      text: this.stopping.has(kernel.id) ? 'Stopping…' : 'Shut down',
      attrs: { type: 'button', 'aria-label': `Shut down the kernel of ${kernel.notebook_title}` },
    });
    stop.disabled = this.stopping.has(kernel.id);
    stop.addEventListener('click', () => void this.shutdown(kernel, stop));
    const link = h('a', { text: kernel.notebook_title, attrs: { href: `/notebooks/${kernel.notebook_id}/` } });
    return h(
      'li',
      { className: 'kernel-row', testId: 'kernel-row', dataset: { kernelId: kernel.id, state: kernel.state } },
      h('span', { className: 'kernel-notebook' }, link),
      h('span', { className: 'kernel-state', testId: 'kernel-row-state', text: kernel.state, attrs: kernel.reason ? { title: kernel.reason } : {} }),
      h('span', { className: 'muted', text: megabytes(kernel.memory_bytes) }),
      h('span', { className: 'muted', text: cpu(kernel.cpu_seconds) }),
      h('span', { className: 'muted', text: since(kernel.started_at) }),
      stop,
    );
  }

  private async shutdown(kernel: RunningKernel, button: HTMLButtonElement): Promise<void> {
    this.stopping.add(kernel.id);
    button.disabled = true;
    button.textContent = 'Stopping…';
    try {
      await this.api.shutdownKernel(kernel.id);
    } catch (error) {
      this.stopping.delete(kernel.id);
      this.showError(`Could not shut down the kernel of ${kernel.notebook_title}: ${(error as Error).message}`);
    }
    await this.refresh();
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }
}
