/** The notebook page: header, toolbar, the live list of cells, and the side panels (tasks, symbols). */
import { api, type NotebookDetail, type NotebookSummary, type OutputPage } from '../api';
import { type Command, CommandKeys } from '../commandMode';
import { h } from '../lib/dom';
import { NotebookModel, type ModelChange } from '../notebookModel';
import { type NoticeKind, noticeKind } from '../notices';
import { CollabSources, REFUSED_EDIT_NOTICE } from '../collab';
import { CaretSender, RemoteCarets } from '../cursors';
import { type Cell, type ConnectionStatus, ENVIRONMENT_LABELS, type ExploreTarget, type Language, NotebookClient, notebookSocketUrl, type Role, type ServerMessage } from '../protocol';
import type { CellEditorFactory, EditorAssist } from './CellEditor';
import { type CellActions, CellView } from './CellView';
import { type ConfigApi, ConfigPanel } from './ConfigPanel';
import { ConnectionBanner } from './ConnectionBanner';
import { type HistoryApi, HistoryPanel } from './HistoryPanel';
import { type KernelsApi, KernelsPanel } from './KernelsPanel';
import { KernelStatus } from './KernelStatus';
import { PresenceList } from './PresenceList';
import { type ShareApi, ShareDialog } from './ShareDialog';
import { ShortcutSheet } from './ShortcutSheet';
import { SymbolTable, scopeFromCells } from './SymbolTable';
import { ExplorePanel } from './ExplorePanel';
import { NotebookSidebar } from './NotebookSidebar';
import { Explorer } from '../explore';
import { TaskList } from './TaskList';

export interface NotebookPageOptions {
  notebookId: number;
  client?: NotebookClient;
  loadNotebook?: (id: number) => Promise<NotebookDetail>;
  createEditor?: CellEditorFactory;
  historyApi?: HistoryApi;
  shareApi?: ShareApi;
  configApi?: ConfigApi;
  kernelsApi?: KernelsApi;
  /** Reads a page of a cell's output (the REST API's, unless a test gives its own). */
  outputPage?: (notebookId: number, cellId: string, n: number, offset: number) => Promise<OutputPage>;
  /** The sidebar's notebooks whose title contains a query (the REST list, unless a test gives its own). */
  listNotebooks?: (query: string) => Promise<NotebookSummary[]>;
  /** Goes to another page (the browser's location, unless a test gives its own). */
  go?: (href: string) => void;
  /** Renames and deletes the notebook (the REST API's, unless a test gives its own). */
  renameNotebook?: (id: number, title: string) => Promise<unknown>;
  deleteNotebook?: (id: number) => Promise<unknown>;
}

const NOTICE_MS = 8000;
/** How long leaving for another notebook waits for the server to take the text just sent. */
const LEAVE_WAIT_MS = 5000;
const WRAP_KEY = 'quire.wrapLines';

function readWrapPreference(): boolean {
  try {
    return localStorage.getItem(WRAP_KEY) === '1';
  } catch {
    return false;
  }
}
const SCOPE_DELAY_MS = 250;


/** What the page says when this person's role here changes while it is open. */
const ROLE_NOTICE: Record<Role, string> = {
  viewer: 'You can now only view this notebook.',
  runner: 'You can now run this notebook\'s cells, but not edit them.',
  editor: 'You can now edit this notebook.',
  owner: 'You now own this notebook.',
};

/** Kernel states in which a kernel process is up (kernels.models.LIVE_STATES). */
const LIVE_KERNEL_STATES: ReadonlySet<string> = new Set(['starting', 'idle', 'busy']);
export class NotebookPage {
  readonly element: HTMLElement;
  readonly model = new NotebookModel();
  readonly client: NotebookClient;
  private readonly createEditor: CellEditorFactory | undefined;
  private readonly title = h('h1', { className: 'notebook-title', testId: 'notebook-title', text: 'Loading…' });
  private readonly kernelStatus = new KernelStatus();
  private readonly banner = new ConnectionBanner();
  private readonly presence = new PresenceList();
  private readonly notice = h('p', { className: 'notice', testId: 'notice', attrs: { role: 'alert' } });
  private readonly resyncBanner = h('div', {
    className: 'connection-banner',
    testId: 'resync-banner',
    text: 'Resyncing: catching up with changes this page missed…',
    attrs: { role: 'status' },
  });
  /** Why the kernel is still starting (it waits for a free kernel host), for as long as it does. */
  private readonly kernelNote = h('p', { className: 'notice', testId: 'kernel-note', attrs: { role: 'status' } });
  private readonly addCellButton = this.toolButton('+ Cell', 'add-cell', 'Add a cell at the end (B in command mode)', () => this.addCell());
  private readonly runAllButton = this.toolButton('Run all', 'run-all', 'Run every cell, top to bottom', () => {
    this.flush();
    this.client.runAll();
  });
  private readonly runStaleButton = this.toolButton('Run stale', 'run-stale', 'Run the cells marked stale', () => {
    this.flush();
    this.client.runStale();
  });
  private readonly clearOutputsButton = this.toolButton('Clear outputs', 'clear-outputs', 'Clear every cell\'s output, for everyone', () =>
    this.client.clearOutputs(),
  );
  private readonly interruptButton = this.toolButton('Interrupt', 'interrupt', 'Interrupt the running cell (I, I)', () => this.client.interrupt());
  private readonly restartButton = this.toolButton('Restart', 'restart', 'Restart the kernel: every value is forgotten', () => this.restart());
  private readonly shutdownButton = this.toolButton('Shut down', 'shutdown', 'Stop the kernel and free its memory and your kernel quota', () =>
    this.shutdown(),
  );
  private wrapLines = readWrapPreference();
  private readonly wrapButton = this.toolButton('Wrap lines', 'wrap-lines', 'Wrap long lines in every editor (kept for you in this browser)', () =>
    this.setWrap(!this.wrapLines),
  );
  private readonly cellList = h('div', { className: 'cells' });
  private readonly tasks = new TaskList(
    () => this.client.interrupt(),
    (cellId) => this.select(cellId, { scroll: true }),
  );
  private readonly explorePanel = new ExplorePanel(() => ({
    saveAsCell: this.model.permissions.canEdit
      ? (cellId, source) => this.actions.insertBelow?.(cellId, { language: 'vega', source }, false)
      : undefined,
  }));
  private readonly symbols = new SymbolTable({
    explorer: (symbol) => {
      const cellId = this.selected;
      return cellId ? this.explorerFor(cellId, { name: symbol.name }, symbol.name) : null;
    },
    actions: (explorer, inspection) => this.explorePanel.actions(explorer, inspection, this.selected ?? ''),
  });
  private readonly history: HistoryPanel;
  private readonly share: ShareDialog;
  readonly config: ConfigPanel;
  readonly kernels: KernelsPanel;
  private readonly origin = h('span', { className: 'origin-note muted', testId: 'origin-note' });
  private readonly historyButton = this.toolButton('History', 'open-history', 'Versions, diffs, restore and forks', () => this.history.drawer.toggle());
  private readonly saveVersionButton = this.toolButton('Save version', 'open-save-version', 'Save the notebook as a new version', () => this.history.openToSave());
  private readonly configButton = this.toolButton('Configuration', 'open-config', 'Packages, dependencies, Spark settings and environment variables', () =>
    this.config.drawer.toggle(),
  );
  private readonly shareButton = this.toolButton('Share', 'open-share', 'Share with people and teams', () => this.share.drawer.toggle());
  private readonly renameButton = this.toolButton('Rename', 'rename-notebook', 'Give the notebook a new title', () => void this.rename());
  private readonly deleteButton = this.toolButton('Delete', 'delete-notebook', 'Delete the notebook (a site admin can bring it back)', () =>
    void this.deleteNotebook(),
  );
  private readonly kernelsButton = this.toolButton('Kernels', 'open-kernels', 'Every kernel you started, with its memory and CPU: shut down what you no longer need', () =>
    this.kernels.drawer.toggle(),
  );
  private readonly sidebar: NotebookSidebar;
  /** The sidebar's list is read once the live notebook (the snapshot) shows, so it never delays its loading. */
  private sidebarLoading = false;
  private detail: NotebookDetail | null = null;
  private readonly views = new Map<string, CellView>();
  /** The cells' sources as a shared document, once the snapshot brought one. */
  readonly collab: CollabSources;
  private readonly detachText = new Map<string, () => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly keys = new CommandKeys();
  private readonly shortcuts = new ShortcutSheet(() => {
    if (this.selected) this.views.get(this.selected)?.focusCell();
  });
  /** Cells deleted from this page, last on top, for `z`: where each was, and what it held. */
  private readonly deleted: { index: number; language: Language; source: string }[] = [];
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The cell this page inserted and will select once it arrives: its editor focused, or the cell (command mode). */
  private focusOnInsert: { cellId: string; edit: boolean } | null = null;
  private snapshotSeen = false;
  private selected: string | null = null;
  private announcedFocus: string | null | undefined = undefined;
  private scopeRequest = 0;
  private scopeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The other editors' carets, and this page's own as it is sent to them. */
  private readonly carets = new RemoteCarets();
  private readonly caretSender: CaretSender;
  /** Cells whose carets are drawn again in the next microtask (null: every cell). */
  private caretCells: Set<string> | null = new Set();
  private caretsDue = false;
  /** Cells whose editors draw carets now. */
  private readonly caretsDrawn = new Set<string>();
  private presenceCount = 0;

  constructor(private readonly options: NotebookPageOptions) {
    this.client = options.client ?? new NotebookClient({ url: notebookSocketUrl(options.notebookId) });
    this.createEditor = options.createEditor;
    this.collab = new CollabSources({
      send: (cellId, update) =>
        this.client.editSource(cellId, update).settled.then((outcome) =>
          outcome.type === 'ack' ? { ok: true as const } : { ok: false as const, code: outcome.code, message: outcome.message },
        ),
      // The server's snapshot replaces the document and every editor's text; the notice says why it changed.
      refused: (_cellId, reason) => {
        this.showNotice(`${REFUSED_EDIT_NOTICE} (${reason})`);
        this.client.resync();
      },
      textChanged: (cellId, text) => this.model.editSource(cellId, text),
    });
    this.caretSender = new CaretSender((place) => this.client.cursor(place));
    this.notice.hidden = true;
    this.resyncBanner.hidden = true;
    this.banner.set(this.client.connection);
    this.history = new HistoryPanel({
      notebookId: options.notebookId,
      ...(options.historyApi && { api: options.historyApi }),
      permissions: () => this.model.permissions,
      origin: () => this.detail?.forked_from ?? null,
      notify: (text, kind) => this.showNotice(text, kind),
    });
    this.share = new ShareDialog(options.notebookId, options.shareApi ? { api: options.shareApi } : {});
    this.config = new ConfigPanel(options.notebookId, {
      ...(options.configApi && { api: options.configApi }),
      canEdit: () => this.model.permissions.canEdit,
    });
    this.kernels = new KernelsPanel(options.kernelsApi ? { api: options.kernelsApi } : {});
    this.sidebar = new NotebookSidebar({
      currentId: options.notebookId,
      ...(options.listNotebooks && { list: options.listNotebooks }),
      ...(options.go && { go: options.go }),
      leave: () => this.leave(),
    });
    this.origin.hidden = true;
    this.kernelNote.hidden = true;

    this.element = h(
      'main',
      { className: 'notebook-page' },
      this.banner.element,
      this.resyncBanner,
      h(
        'div',
        { className: 'notebook-header' },
        this.title,
        this.kernelStatus.element,
        this.presence.element,
        this.origin,
        h('span', { className: 'spacer' }),
        this.saveVersionButton,
        this.historyButton,
        this.configButton,
        this.shareButton,
        this.renameButton,
        this.deleteButton,
        this.kernelsButton,
      ),
      h(
        'div',
        { className: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Notebook' } },
        this.addCellButton,
        this.runAllButton,
        this.runStaleButton,
        this.interruptButton,
        this.restartButton,
        this.shutdownButton,
        this.clearOutputsButton,
        this.wrapButton,
      ),
      this.notice,
      this.kernelNote,
      h(
        'div',
        { className: 'notebook-body' },
        this.sidebar.element,
        this.cellList,
        h('aside', { className: 'side-panels' }, this.tasks.element, this.symbols.element),
      ),
      this.history.element,
      this.explorePanel.drawer.element,
      this.share.element,
      this.config.element,
      this.kernels.element,
      this.shortcuts.element,
    );
    this.element.addEventListener('keydown', (event) => this.commandKey(event));

    this.unsubscribe.push(
      this.model.subscribe((change) => this.modelChanged(change)),
      this.client.onAny((message) => this.receive(message)),
      this.client.on('error', (error) => {
        if (error.code === 'quota_exceeded') this.kernels.showQuotaFull(error.message);
        else if (!this.client.isQuiet(error.req)) this.showNotice(error.message);
      }),
      this.client.onConnection((status) => this.connectionChanged(status)),
      this.client.on('environment', (event) => this.config.environmentEvent(event)),
      this.client.on('environment_notice', (notice) => {
        this.config.environmentNotice(notice);
        this.showNotice(notice.message, notice.state === 'failed' ? 'error' : 'info');
      }),
      this.client.on('config_changed', (message) => {
        this.config.configChanged(message);
        if (message.restart_needed) this.showNotice('The configuration changed: restart the kernel to use it.', 'warning');
      }),
      this.client.on('notice', (notice) => this.showNotice(notice.message, noticeKind(notice.level))),
      this.client.on('cursor', (message) => this.caretsMoved(this.carets.apply(message))),
      // Carets are relative positions: wherever the text changes, they are placed again.
      this.collab.onTextsChanged((cellIds) => this.caretsMoved(cellIds === null ? null : [...cellIds])),
    );
    this.wrapButton.setAttribute('aria-pressed', String(this.wrapLines));
    this.applyPermissions();
  }

  get notebookId(): number {
    return this.options.notebookId;
  }

  /** Loads the notebook over REST for a first view, then goes live over the socket. */
  start(): void {
    this.client.connect();
    this.loadNotebook().then(
      (notebook) => {
        this.loaded(notebook);
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
    this.collab.flush();
  }

  /** Readies the page to be left for another notebook: its text sent and taken by the server, or the person
   * told it is not and asked whether to leave anyway. */
  async leave(): Promise<boolean> {
    this.flush();
    if (await this.client.writesSettled(LEAVE_WAIT_MS)) return true;
    return window.confirm('Some of your changes are not saved yet (the server has not answered). Leave anyway?');
  }

  dispose(): void {
    if (this.scopeTimer !== null) clearTimeout(this.scopeTimer);
    this.caretSender.reset();
    for (const stop of this.unsubscribe) stop();
    this.collab.dispose();
    this.kernels.dispose();
    this.client.close();
    for (const view of this.views.values()) view.dispose();
    this.views.clear();
    this.detachText.clear();
  }

  /** Shows a short message under the toolbar for a few seconds, coloured by what it is (an error by default). */
  showNotice(text: string, kind: NoticeKind = 'error'): void {
    this.notice.textContent = text;
    this.notice.dataset.kind = kind;
    // Errors interrupt a screen reader; the rest are read when it is idle.
    this.notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    this.notice.hidden = false;
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.notice.hidden = true;
    }, NOTICE_MS);
  }

  /** Rebuilds the page from the server's draft, e.g. after a version was restored. */
  async reload(): Promise<void> {
    try {
      const notebook = await this.loadNotebook();
      this.loaded(notebook);
      this.model.load({ ...notebook, cells: this.withSharedSources(notebook.cells) });
    } catch (error) {
      this.showNotice(`Could not reload the notebook: ${(error as Error).message}`);
    }
  }

  /** "Cell 3" for the user: its place in the notebook. */
  cellLabel(cellId: string): string {
    const index = this.model.cells.findIndex((cell) => cell.id === cellId);
    return index < 0 ? 'a deleted cell' : `Cell ${index + 1}`;
  }

  /** Notes what only the REST view tells: where the notebook was forked from. */
  private loaded(notebook: NotebookDetail): void {
    this.detail = notebook;
    const origin = notebook.forked_from;
    this.origin.hidden = !origin;
    if (!origin) return;
    const title = origin.notebook_title ?? 'another notebook';
    this.origin.replaceChildren(
      'forked from ',
      origin.notebook_title === null || origin.readable === false
        ? title
        : h('a', { text: title, attrs: { href: `/notebooks/${origin.notebook_id}/` } }),
      ` v${origin.version}`,
    );
  }

  /** Applies a server message: the shared document first, so the model and editors agree on every text. */
  private receive(message: ServerMessage): void {
    if (message.type === 'snapshot') {
      this.snapshotSeen = true;
      const ydoc = message.notebook.ydoc;
      if (ydoc) this.collab.load(ydoc);
      else this.collab.reset();
      this.model.apply({ ...message, notebook: { ...message.notebook, cells: this.withSharedSources(message.notebook.cells) } });
      return;
    }
    if ('ydoc_update' in message && typeof message.ydoc_update === 'string') this.collab.applyUpdate(message.ydoc_update);
    if (message.type === 'cell_updated') {
      // The server's text may lack our edits still in flight; the document has them all.
      this.model.apply({ ...message, source: this.collab.text(message.cell_id) ?? message.source });
      return;
    }
    this.model.apply(message);
  }

  private withSharedSources(cells: Cell[]): Cell[] {
    if (!this.collab.active) return cells;
    return cells.map((cell) => ({ ...cell, source: this.collab.text(cell.id) ?? cell.source }));
  }

  private loadNotebook(): Promise<NotebookDetail> {
    return (this.options.loadNotebook ?? api.getNotebook)(this.options.notebookId);
  }

  private modelChanged(change: ModelChange): void {
    switch (change.kind) {
      case 'reset':
        this.resyncBanner.hidden = !this.model.resyncing;
        this.showTitle();
        this.applyPermissions();
        this.renderCells();
        this.renderKernel();
        this.renderTasks();
        this.renderPresence();
        this.renderSymbols();
        // A snapshot starts a connection (or catches one up): others' carets come again, ours is sent again.
        this.caretsMoved(this.carets.clear());
        this.caretSender.resend();
        if (this.snapshotSeen && !this.sidebarLoading) {
          this.sidebarLoading = true;
          void this.sidebar.load();
        }
        return;
      case 'cells':
        this.renderCells();
        this.renderTasks();
        this.renderSymbols();
        return;
      case 'cell': {
        const cell = this.model.cell(change.cellId);
        if (cell) this.views.get(change.cellId)?.update(cell, this.model.permissions);
        if (change.cellId === this.selected || this.isAboveSelected(change.cellId)) this.renderSymbols();
        this.runStaleButton.disabled = this.model.staleCells.length === 0;
        return;
      }
      case 'title':
        this.showTitle();
        return;
      case 'kernel':
        this.renderKernel();
        // A new kernel takes the configuration as it is now; one starting its JVM (it says why) keeps its own.
        if (this.model.kernel === 'starting' && !this.model.kernelReason) this.config.kernelStarting();
        return;
      case 'presence':
        this.renderPresence();
        this.presenceChanged();
        return;
      case 'tasks':
      case 'spark':
        this.renderTasks();
        return;
      case 'permissions':
        // Promoted or demoted while here: the page follows at once (editors become read-only, or editable).
        this.applyPermissions();
        this.renderCells();
        this.renderTasks();
        // No longer an editor: the server took our caret away from the others already.
        if (!this.model.permissions.canEdit) this.caretSender.reset();
        this.showNotice(ROLE_NOTICE[this.model.you?.role ?? 'viewer']);
        return;
      case 'version_saved':
        void this.history.versionSaved();
        return;
      case 'deleted':
        this.applyPermissions();
        this.renderCells();
        this.renderTasks();
        this.showNotice('This notebook was deleted. Nothing more can be changed here.');
        return;
      case 'resync':
        this.resyncBanner.hidden = false;
        return;
      case 'draft_replaced':
        // Someone restored a version or replaced the draft: our cells are no longer the notebook's.
        this.showNotice('The notebook was replaced (a version was restored). Reloaded.', 'info');
        void this.reload();
        return;
    }
  }

  /** Asks for a new title; the page (and everyone else's) shows it once the server has it (`notebook_renamed`). */
  private async rename(): Promise<void> {
    const title = window.prompt('New title', this.model.title)?.trim();
    if (!title || title === this.model.title) return;
    try {
      await (this.options.renameNotebook ?? api.renameNotebook)(this.options.notebookId, title);
    } catch (error) {
      this.showNotice(`Could not rename the notebook: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Deletes the notebook after asking, unsent text first; then goes to the list, where it is no longer shown. */
  private async deleteNotebook(): Promise<void> {
    if (!window.confirm(`Delete "${this.model.title}"? A site admin can bring it back.`)) return;
    this.flush();
    try {
      await (this.options.deleteNotebook ?? api.deleteNotebook)(this.options.notebookId);
    } catch (error) {
      this.showNotice(`Could not delete the notebook: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    (this.options.go ?? ((href: string) => window.location.assign(href)))('/');
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
        this.detachText.get(id)?.();
        this.detachText.delete(id);
        this.caretsDrawn.delete(id);
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
        if (this.wrapLines) view.setWrap(true);
        this.views.set(cell.id, view);
        this.detachText.set(cell.id, this.collab.attach(cell.id, view));
        this.caretsMoved([cell.id]);
        if (this.focusOnInsert?.cellId === cell.id && this.snapshotSeen) {
          const { edit } = this.focusOnInsert;
          this.focusOnInsert = null;
          const inserted = view;
          queueMicrotask(() => {
            this.select(inserted.cellId, {});
            if (edit) inserted.focus();
            else inserted.focusCell();
          });
        }
      }
      const current = this.cellList.children[index];
      if (current !== view.element) this.cellList.insertBefore(view.element, current ?? null);
    });
    this.cellList.classList.toggle('empty', cells.length === 0);
    if (this.selected && !present.has(this.selected)) this.selected = null;
    if (this.selected === null && cells[0]) this.select(cells[0].id, { announce: false });
    this.runStaleButton.disabled = this.model.staleCells.length === 0;
  }

  private renderKernel(): void {
    const connected = this.client.connection.state === 'open';
    this.kernelStatus.set(connected && this.model.kernel ? this.model.kernel : 'disconnected', this.model.kernelReason);
    const waiting = connected && this.model.kernel === 'starting' && this.model.kernelReason !== '';
    this.kernelNote.textContent = waiting ? `The kernel is ${this.model.kernelReason}.` : '';
    this.kernelNote.hidden = !waiting;
    // Only a kernel that is up can be shut down.
    this.shutdownButton.disabled = !connected || !LIVE_KERNEL_STATES.has(this.model.kernel ?? 'not_started');
  }

  private renderTasks(): void {
    const building = this.model.building.map((b) => ({ label: ENVIRONMENT_LABELS[b.kind], progress: b.progress }));
    const waiting = building.map((b) => `Waiting for the notebook's ${b.label} to build${b.progress ? `: ${b.progress}` : '…'}`).join('\n');
    for (const view of this.views.values()) view.setQueuePosition(this.model.queuePosition(view.cellId), waiting);
    const running = this.model.runningCell ?? this.model.cells.find((cell) => cell.state === 'running')?.id ?? null;
    for (const view of this.views.values()) view.element.classList.toggle('running', view.cellId === running);
    this.tasks.render({
      running,
      queue: this.model.queue,
      building,
      spark: this.model.sparkCells.map((id) => [id, this.model.sparkProgress(id)!] as const),
      label: (id) => this.cellLabel(id),
      canStop: this.model.permissions.canRun,
    });
  }

  private renderPresence(): void {
    this.presence.render(this.model.presence, this.model.you?.username ?? null, (id) => this.cellLabel(id));
    const byCell = this.model.othersByCell();
    for (const view of this.views.values()) view.setPresence(byCell.get(view.cellId) ?? []);
  }

  /** Carets of people who left go; someone new came: they are shown where this page's caret is. */
  private presenceChanged(): void {
    const here = this.model.presence;
    this.caretsMoved(this.carets.keepOnly(new Set(here.map((user) => user.username))));
    if (here.length > this.presenceCount) this.caretSender.resend();
    this.presenceCount = here.length;
  }

  /** Draws the carets of these cells (null: all) again, once, after whatever changed them has been applied. */
  private caretsMoved(cellIds: readonly string[] | null): void {
    if (cellIds === null) this.caretCells = null;
    else if (this.caretCells !== null) for (const id of cellIds) this.caretCells.add(id);
    if (this.caretsDue || (cellIds !== null && cellIds.length === 0)) return;
    this.caretsDue = true;
    queueMicrotask(() => {
      this.caretsDue = false;
      const cells = this.caretCells ?? new Set(this.views.keys());
      this.caretCells = new Set();
      const resolve = (cellId: string, encoded: string): number | null => this.collab.resolvePosition(cellId, encoded);
      for (const cellId of cells) {
        const view = this.views.get(cellId);
        if (!view) continue;
        const carets = this.carets.inCell(cellId, resolve, this.model.you?.username);
        // Typing changes the cell's text at every key: a cell with no carets, before or now, is left alone.
        if (carets.length === 0 && !this.caretsDrawn.delete(cellId)) continue;
        if (carets.length > 0) this.caretsDrawn.add(cellId);
        view.setRemoteCarets(carets);
      }
    });
  }

  private isAboveSelected(cellId: string): boolean {
    const order = this.model.cells.map((cell) => cell.id);
    return this.selected !== null && order.indexOf(cellId) < order.indexOf(this.selected);
  }

  /** Shows the selected cell's scope at once from what the page knows, then as the kernel reports it. */
  private renderSymbols(): void {
    const cellId = this.selected;
    if (!cellId) {
      this.symbols.render(null, { defined: [], visible: [] });
      return;
    }
    this.symbols.render(this.cellLabel(cellId), scopeFromCells(this.model.cells, cellId));
    // A run sends a burst of changes; ask the server once it settles.
    if (this.scopeTimer !== null) clearTimeout(this.scopeTimer);
    this.scopeTimer = setTimeout(() => {
      this.scopeTimer = null;
      if (this.client.connection.state !== 'open' || this.selected !== cellId) return;
      const request = ++this.scopeRequest;
      void this.client.inspectScope(cellId).then((reply) => {
        if (reply.ok && request === this.scopeRequest && this.selected === cellId) this.symbols.render(this.cellLabel(cellId), reply.value);
      });
    }, SCOPE_DELAY_MS);
  }

  private connectionChanged(status: ConnectionStatus): void {
    this.banner.set(status);
    this.renderKernel();
    // A new connection's presence starts blank on the server: tell it where we are again.
    if (status.state === 'open') this.announcedFocus = undefined;
  }

  private applyPermissions(): void {
    const { canRun, canEdit } = this.model.permissions;
    this.addCellButton.hidden = !canEdit;
    this.clearOutputsButton.hidden = !canEdit;
    for (const button of [this.runAllButton, this.runStaleButton, this.interruptButton, this.restartButton, this.shutdownButton]) {
      button.hidden = !canRun;
    }
    this.saveVersionButton.hidden = !canEdit;
    const owner = this.model.you?.role === 'owner';
    this.shareButton.hidden = !owner;
    // The owner's, as in the list: the server checks the role too.
    this.renameButton.hidden = !owner;
    this.deleteButton.hidden = !owner;
    this.config.applyPermissions();
    this.element.classList.toggle('read-only', !canEdit);
  }

  private select(cellId: string, { scroll = false, announce = true }: { scroll?: boolean; announce?: boolean }): void {
    if (cellId !== this.selected) {
      if (this.selected) this.views.get(this.selected)?.setSelected(false);
      this.selected = cellId;
      this.views.get(cellId)?.setSelected(true);
      this.renderSymbols();
    }
    // jsdom has no scrollIntoView; browsers all do.
    if (scroll) this.views.get(cellId)?.element.scrollIntoView?.({ block: 'nearest' });
    if (announce && this.announcedFocus !== cellId) {
      this.announcedFocus = cellId;
      this.client.focus(cellId);
    }
  }

  /** Inserts an empty cell; `edit` puts the cursor in it, otherwise it is selected in command mode (`a`, `b`). */
  private setWrap(wrap: boolean): void {
    this.wrapLines = wrap;
    this.wrapButton.setAttribute('aria-pressed', String(wrap));
    try {
      localStorage.setItem(WRAP_KEY, wrap ? '1' : '0');
    } catch {
      // Storage refused (private mode, quota): the choice lasts for this page only.
    }
    for (const view of this.views.values()) view.setWrap(wrap);
  }

  /** Shift+M: the cell below joins the selected one (its text on new lines) and is deleted; `z` brings it back. */
  private mergeBelow(): void {
    const cells = this.model.cells;
    const index = cells.findIndex((cell) => cell.id === this.selected);
    const below = cells[index + 1];
    const view = this.selected ? this.views.get(this.selected) : undefined;
    if (!below || !view) return;
    view.append(below.source);
    this.deleteCell(below.id);
    view.focusCell();
  }

  /** Deletes a cell, remembering it so `z` can bring it back (its source and language; outputs do not return). */
  private deleteCell(cellId: string): void {
    const index = this.model.cells.findIndex((cell) => cell.id === cellId);
    const cell = this.model.cells[index];
    if (cell) this.deleted.push({ index, language: cell.language, source: cell.source });
    // Text typed here and not sent yet goes first, so the server has it before the cell goes (a merge's too).
    this.flush();
    this.client.deleteCell(cellId);
  }

  private undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) {
      this.showNotice('No deleted cell to bring back.', 'info');
      return;
    }
    const sent = this.client.insertCell(Math.min(last.index, this.model.cells.length), { language: last.language, source: last.source });
    this.focusOnInsert = { cellId: sent.cellId, edit: false };
  }

  private addCell(index = this.model.cells.length, { language, edit = true }: { language?: Language; edit?: boolean } = {}): void {
    const cells = this.model.cells;
    const like = cells[Math.min(index, cells.length) - 1] ?? cells[0];
    const sent = this.client.insertCell(index, { language: language ?? (like && like.language !== 'text' ? like.language : 'python'), source: '' });
    this.focusOnInsert = { cellId: sent.cellId, edit };
  }

  private shutdown(): void {
    if (!window.confirm('Shut the kernel down? Every value the cells computed is forgotten.')) return;
    void this.client.shutdown().settled.then((outcome) => {
      if (outcome.type === 'ack' && outcome.stopping === false) this.showNotice('No kernel is running for this notebook.', 'info');
    });
  }

  private restart(): void {
    if (window.confirm('Restart the kernel? Every value the cells computed is forgotten.')) this.client.restart();
  }

  /** Command mode: keys reach here when no editor, input or button holds the focus. */
  private commandKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    if (target.closest('textarea, input, select, [contenteditable="true"], .monaco-editor, .dialog')) return;
    if (event.key === 'Enter' && target.closest('button, a')) return;
    const command = this.keys.press(event);
    if (!command) return;
    event.preventDefault();
    this.runCommand(command);
  }

  private runCommand(command: Command): void {
    const cells = this.model.cells;
    const index = cells.findIndex((cell) => cell.id === this.selected);
    const view = this.selected ? this.views.get(this.selected) : undefined;
    const { canEdit, canRun } = this.model.permissions;
    switch (command) {
      case 'select_previous':
      case 'select_next': {
        const next = cells[Math.max(0, Math.min(cells.length - 1, index + (command === 'select_next' ? 1 : -1)))];
        if (next) {
          this.select(next.id, { scroll: true });
          this.views.get(next.id)?.focusCell();
        }
        return;
      }
      case 'insert_above':
      case 'insert_below':
        if (canEdit) this.addCell(Math.max(0, index + (command === 'insert_below' ? 1 : 0)), { edit: false });
        return;
      case 'delete':
        if (canEdit && this.selected) {
          const neighbour = cells[index + 1] ?? cells[index - 1];
          this.deleteCell(this.selected);
          if (neighbour) {
            // Command mode goes on in the neighbour: the deleted cell held the focus, which would fall to the page.
            this.select(neighbour.id, {});
            this.views.get(neighbour.id)?.focusCell();
          }
        }
        return;
      case 'edit':
        view?.focus();
        return;
      case 'run':
        view?.run(false);
        return;
      case 'run_and_advance':
        view?.run(true);
        return;
      case 'to_text':
      case 'to_code':
        if (canEdit && view) this.client.setLanguage(view.cellId, command === 'to_text' ? 'text' : 'python');
        return;
      case 'interrupt':
        if (canRun) this.client.interrupt();
        return;
      case 'merge_below':
        if (canEdit) this.mergeBelow();
        return;
      case 'undo_delete':
        if (canEdit) this.undoDelete();
        return;
      case 'shortcuts':
        this.shortcuts.open();
        return;
    }
  }

  /** After Shift+Enter: the next cell is selected, or a new one made at the end, as in Jupyter. */
  private advanceFrom(cellId: string): void {
    const cells = this.model.cells;
    const index = cells.findIndex((cell) => cell.id === cellId);
    const next = cells[index + 1];
    if (next) {
      this.select(next.id, { scroll: true });
      const view = this.views.get(next.id);
      if (view?.isText) view.focusCell();
      else view?.focus();
    } else if (this.model.permissions.canEdit) {
      this.addCell(cells.length);
    }
  }

  private assistFor(cellId: string): EditorAssist {
    const unwrap = <T>(reply: { ok: true; value: T[] } | { ok: false }): T[] => (reply.ok ? reply.value : []);
    return {
      complete: async (source, pos) => {
        const reply = await this.client.complete(cellId, this.languageOf(cellId), source, pos);
        return reply.ok ? reply.value : { items: [], incomplete: false };
      },
      signature: async (source, pos) => unwrap(await this.client.signature(cellId, this.languageOf(cellId), source, pos)),
      hover: async (source, pos) => {
        const reply = await this.client.hover(cellId, this.languageOf(cellId), source, pos);
        return reply.ok ? reply.value : null;
      },
      check: async (source) => unwrap(await this.client.check(cellId, this.languageOf(cellId), source)),
    };
  }

  private languageOf(cellId: string): Language {
    return this.model.cell(cellId)?.language ?? 'python';
  }

  /** Data exploration of a value the kernel holds: a symbol as `cellId` sees it, or a table output's ref. */
  private explorerFor(cellId: string, target: ExploreTarget, label: string): Explorer {
    return new Explorer((op, args) => this.client.explore(cellId, target, op, args), label);
  }

  private toolButton(text: string, testId: string, title: string, onClick: () => void): HTMLButtonElement {
    const button = h('button', { className: 'button', testId, text, attrs: { type: 'button', title } });
    button.addEventListener('click', onClick);
    return button;
  }

  private readonly actions: CellActions = {
    editSource: (cellId, source) => this.model.editSource(cellId, source),
    saveSource: (cellId, source) => this.client.updateCell(cellId, source),
    // Viewers' editors are read-only; should a change slip through, it is not sent.
    editChanges: (cellId, changes) => this.collab.active && (!this.model.permissions.canEdit || this.collab.edit(cellId, changes)),
    flushEdits: (cellId) => this.collab.flush(cellId),
    collaborative: () => this.collab.active,
    setLanguage: (cellId, language) => this.client.setLanguage(cellId, language),
    run: (cellId, advance = false) => {
      if (this.model.cell(cellId)?.language !== 'text') this.client.runCell(cellId);
      if (advance) this.advanceFrom(cellId);
    },
    runFrom: (cellId) => {
      this.flush();
      this.client.runFrom(cellId);
    },
    remove: (cellId) => this.deleteCell(cellId),
    insertBelow: (cellId, cell, edit) => {
      const index = this.model.cells.findIndex((c) => c.id === cellId);
      const sent = this.client.insertCell(index + 1, cell);
      this.focusOnInsert = { cellId: sent.cellId, edit };
    },
    clearOutputs: (cellId) => this.client.clearOutputs(cellId),
    setHidden: (cellId, part, hidden) => this.client.setHidden(cellId, part, hidden),
    move: (cellId, offset) => {
      const index = this.model.cells.findIndex((cell) => cell.id === cellId);
      const target = index + offset;
      if (index < 0 || target < 0 || target >= this.model.cells.length) return;
      this.flush();
      this.client.moveCell(cellId, target);
    },
    select: (cellId) => this.select(cellId, {}),
    caret: (cellId, anchor, head) => {
      // Only editors show a caret (the server refuses the others'); positions need the shared document.
      if (!this.model.permissions.canEdit || !this.collab.active) return;
      const [from, to] = [this.collab.relativePosition(cellId, anchor), this.collab.relativePosition(cellId, head)];
      if (from !== null && to !== null) this.caretSender.move({ cellId, anchor: from, head: to });
    },
    leftEditor: (cellId) => this.caretSender.leave(cellId),
    commandMode: (cellId) => {
      this.select(cellId, {});
      this.views.get(cellId)?.focusCell();
    },
    assist: (cellId) => this.assistFor(cellId),
    answerInput: (cellId, execId, value) => this.client.inputReply(cellId, execId, value),
    username: () => this.model.you?.username ?? null,
    outputContext: (cellId) => ({
      tablePage: (ref, offset, pageSize) => this.client.tablePage(cellId, ref, offset, pageSize),
      explore: (ref) => void this.explorePanel.show(this.explorerFor(cellId, { ref }, 'table'), cellId, 'table'),
      outputPage: (n, offset) => (this.options.outputPage ?? api.outputPage)(this.options.notebookId, cellId, n, offset),
    }),
  };
}
