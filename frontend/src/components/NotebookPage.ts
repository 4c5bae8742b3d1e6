/** The notebook page: title, kernel status, toolbar and the live list of cells. */
import { api, type NotebookDetail } from '../api';
import { h } from '../lib/dom';
import { NotebookModel, type ModelChange } from '../notebookModel';
import { NotebookClient, notebookSocketUrl, type ConnectionStatus } from '../protocol';
import type { CellEditorFactory } from './CellEditor';
import { type CellActions, CellView } from './CellView';
import { ConnectionBanner } from './ConnectionBanner';
import { KernelStatus } from './KernelStatus';

export interface NotebookPageOptions {
  notebookId: number;
  client?: NotebookClient;
  loadNotebook?: (id: number) => Promise<NotebookDetail>;
  createEditor?: CellEditorFactory;
}

const NOTICE_MS = 8000;

export class NotebookPage {
  readonly element: HTMLElement;
  readonly model = new NotebookModel();
  private readonly client: NotebookClient;
  private readonly createEditor: CellEditorFactory | undefined;
  private readonly title = h('h1', { className: 'notebook-title', testId: 'notebook-title', text: 'Loading…' });
  private readonly kernelStatus = new KernelStatus();
  private readonly banner = new ConnectionBanner();
  private readonly notice = h('p', { className: 'notice', testId: 'notice', attrs: { role: 'alert' } });
  private readonly addCellButton = h('button', { className: 'button', testId: 'add-cell', text: 'Add cell', attrs: { type: 'button' } });
  private readonly interruptButton = h('button', { className: 'button', testId: 'interrupt', text: 'Interrupt', attrs: { type: 'button' } });
  private readonly cellList = h('div', { className: 'cells' });
  private readonly views = new Map<string, CellView>();
  private readonly unsubscribe: (() => void)[] = [];
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private focusNextInserted = false;
  private snapshotSeen = false;

  constructor(private readonly options: NotebookPageOptions) {
    this.client = options.client ?? new NotebookClient({ url: notebookSocketUrl(options.notebookId) });
    this.createEditor = options.createEditor;
    this.notice.hidden = true;
    this.banner.set(this.client.connection);

    this.addCellButton.addEventListener('click', () => this.addCell());
    this.interruptButton.addEventListener('click', () => this.client.interrupt());

    this.element = h(
      'main',
      { className: 'notebook-page' },
      this.banner.element,
      h(
        'div',
        { className: 'notebook-header' },
        this.title,
        this.kernelStatus.element,
        h('div', { className: 'toolbar' }, this.addCellButton, this.interruptButton),
      ),
      this.notice,
      this.cellList,
    );

    this.unsubscribe.push(
      this.model.subscribe((change) => this.modelChanged(change)),
      this.client.onAny((message) => {
        if (message.type === 'snapshot') this.snapshotSeen = true;
        this.model.apply(message);
      }),
      this.client.on('error', (error) => this.showNotice(error.message)),
      this.client.onConnection((status) => this.connectionChanged(status)),
    );
    this.applyPermissions();
  }

  /** Loads the notebook over REST for a first view, then goes live over the socket. */
  start(): void {
    this.client.connect();
    (this.options.loadNotebook ?? api.getNotebook)(this.options.notebookId).then(
      (notebook) => {
        if (!this.snapshotSeen) this.model.load(notebook);
      },
      (error: unknown) => {
        if (!this.snapshotSeen) this.showNotice(`Could not load the notebook: ${String((error as Error).message ?? error)}`);
      },
    );
  }

  /** Sends every cell's unsent text, e.g. when the page is being left. */
  flush(): void {
    for (const view of this.views.values()) view.flush();
  }

  dispose(): void {
    for (const stop of this.unsubscribe) stop();
    this.client.close();
    for (const view of this.views.values()) view.dispose();
    this.views.clear();
  }

  private modelChanged(change: ModelChange): void {
    switch (change.kind) {
      case 'reset':
        this.showTitle();
        this.applyPermissions();
        this.renderCells();
        this.renderKernel();
        return;
      case 'cells':
        this.renderCells();
        return;
      case 'cell': {
        const cell = this.model.cell(change.cellId);
        if (cell) this.views.get(change.cellId)?.update(cell, this.model.permissions);
        return;
      }
      case 'title':
        this.showTitle();
        return;
      case 'kernel':
        this.renderKernel();
        return;
    }
  }

  private showTitle(): void {
    this.title.textContent = this.model.title;
    document.title = `${this.model.title} · Quire`;
  }

  /** Reconciles cell views with the model by id, so editors keep their focus and text. */
  private renderCells(): void {
    const cells = this.model.cells;
    const permissions = this.model.permissions;
    const present = new Set(cells.map((cell) => cell.id));
    for (const [id, view] of this.views) {
      if (!present.has(id)) {
        view.dispose();
        this.views.delete(id);
      }
    }
    cells.forEach((cell, index) => {
      let view = this.views.get(cell.id);
      if (view) {
        view.update(cell, permissions);
      } else {
        view = new CellView(cell, { actions: this.actions, permissions, ...(this.createEditor && { createEditor: this.createEditor }) });
        this.views.set(cell.id, view);
        if (this.focusNextInserted && this.snapshotSeen) {
          this.focusNextInserted = false;
          queueMicrotask(() => view?.focus());
        }
      }
      const current = this.cellList.children[index];
      if (current !== view.element) this.cellList.insertBefore(view.element, current ?? null);
    });
    this.cellList.classList.toggle('empty', cells.length === 0);
  }

  private renderKernel(): void {
    const connected = this.client.connection.state === 'open';
    this.kernelStatus.set(connected && this.model.kernel ? this.model.kernel : 'disconnected', this.model.kernelReason);
  }

  private connectionChanged(status: ConnectionStatus): void {
    this.banner.set(status);
    this.renderKernel();
  }

  private applyPermissions(): void {
    const { canRun, canEdit } = this.model.permissions;
    this.addCellButton.hidden = !canEdit;
    this.interruptButton.hidden = !canRun;
    this.element.classList.toggle('read-only', !canEdit);
  }

  private addCell(): void {
    const cells = this.model.cells;
    const language = cells[cells.length - 1]?.language ?? 'python';
    this.focusNextInserted = true;
    this.client.insertCell(cells.length, { language, source: '' });
  }

  private showNotice(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = false;
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.notice.hidden = true;
    }, NOTICE_MS);
  }

  private readonly actions: CellActions = {
    editSource: (cellId, source) => this.model.editSource(cellId, source),
    saveSource: (cellId, source) => this.client.updateCell(cellId, source),
    setLanguage: (cellId, language) => this.client.setLanguage(cellId, language),
    run: (cellId) => this.client.runCell(cellId),
    remove: (cellId) => this.client.deleteCell(cellId),
    move: (cellId, offset) => {
      const index = this.model.cells.findIndex((cell) => cell.id === cellId);
      const target = index + offset;
      if (index >= 0 && target >= 0 && target < this.model.cells.length) this.client.moveCell(cellId, target);
    },
  };
}
