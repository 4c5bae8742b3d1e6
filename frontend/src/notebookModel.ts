/**
 * The page's copy of one notebook's live state, rebuilt from server messages.
 *
 * The server owns the truth; this model applies its messages (a snapshot replaces everything)
 * and tells views what changed. Cell records are replaced, never mutated, so a view can tell
 * what changed by comparing references.
 */
import { appendOutput } from './outputs';
import type {
  Cell,
  CellState,
  EnvironmentKind,
  HiddenPart,
  KernelState,
  Language,
  Output,
  PendingInput,
  PresenceUser,
  Role,
  ServerMessage,
  SparkJob,
  SymbolInfo,
} from './protocol';

export interface LineRange {
  start: number;
  end: number;
}

export interface CellRecord {
  readonly id: string;
  readonly language: Language;
  readonly source: string;
  readonly outputs: readonly Output[];
  /** How many outputs the cell has: more than `outputs` when the server's budget left some out (loaded on demand). */
  readonly outputsTotal: number;
  readonly state: CellState | null;
  /** The statement running now, 1-based inclusive lines, while the cell runs. */
  readonly running: LineRange | null;
  readonly symbols: readonly SymbolInfo[];
  /** Set when a cell above was re-run and changed something this cell reads. */
  readonly stale: boolean;
  /** The run's question (input(), getpass()) waiting for an answer, while it waits. */
  readonly input: PendingInput | null;
  /** Jupyter's `[n]` of the run the cell shows: when it started in its kernel session; null if never or unknown. */
  readonly executionCount: number | null;
  /** The editors hid the cell's code, or its output, for everyone. */
  readonly sourceHidden: boolean;
  readonly outputsHidden: boolean;
}

export interface Viewer {
  username: string;
  role: Role;
}

export type ModelChange =
  | { kind: 'reset' }
  | { kind: 'cells' }
  | { kind: 'cell'; cellId: string }
  | { kind: 'title' }
  | { kind: 'kernel' }
  | { kind: 'presence' }
  | { kind: 'tasks' }
  | { kind: 'spark'; cellId: string }
  | { kind: 'draft_replaced'; revision: number }
  | { kind: 'permissions' }
  | { kind: 'version_saved'; number: number }
  | { kind: 'deleted' }
  | { kind: 'resync' };

/** The Spark work a cell started, as last reported. */
export interface SparkProgress {
  jobs: readonly SparkJob[];
  uiUrl: string | null;
  /** Why there is no Spark UI link. */
  uiNote: string | null;
}

/** An environment the run queue waits for, and the latest line of its build's log. */
export interface WaitingBuild {
  kind: EnvironmentKind;
  key: string;
  progress: string;
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, runner: 1, editor: 2, owner: 3 };

export interface Permissions {
  canRun: boolean;
  canEdit: boolean;
}

/** What a role may do; someone we know nothing about yet may only look. */
export function permissionsFor(role: Role | null): Permissions {
  const rank = role === null ? 0 : ROLE_RANK[role];
  return { canRun: rank >= ROLE_RANK.runner, canEdit: rank >= ROLE_RANK.editor };
}

/**
 * Which parts of a cell its metadata hides, read as JupyterLab reads them: `jupyter.source_hidden`,
 * `jupyter.outputs_hidden`, and for the output nbformat 4's `collapsed` when JupyterLab's key is absent (files
 * written by the classic notebook). The server writes them (notebooks.services.check_set_hidden).
 */
export function hiddenParts(metadata: Record<string, unknown> | undefined): Record<HiddenPart, boolean> {
  const jupyter = metadata?.jupyter;
  const keys = typeof jupyter === 'object' && jupyter !== null ? (jupyter as Record<string, unknown>) : {};
  const outputs = keys.outputs_hidden ?? metadata?.collapsed;
  return { source: keys.source_hidden === true, outputs: outputs === true };
}

function recordFrom(cell: Cell): CellRecord {
  const hidden = hiddenParts(cell.metadata);
  return {
    id: cell.id,
    language: cell.language,
    source: cell.source,
    outputs: cell.outputs,
    outputsTotal: cell.outputs_total ?? cell.outputs.length,
    state: cell.state ?? null,
    running: null,
    symbols: cell.symbols ?? [],
    stale: cell.stale ?? false,
    // A snapshot holds finished runs only; a pending question comes again in the cell_sync that follows it.
    input: null,
    executionCount: cell.execution_count ?? null,
    sourceHidden: hidden.source,
    outputsHidden: hidden.outputs,
  };
}

export class NotebookModel {
  title = '';
  revision = 0;
  kernel: KernelState | null = null;
  /** Why the kernel stopped or died, when the server said. */
  kernelReason = '';
  you: Viewer | null = null;
  /** Everyone on the page, us included, and the cell each is in. */
  presence: readonly PresenceUser[] = [];
  /** Queued cell ids, next to run first. */
  queue: readonly string[] = [];
  runningCell: string | null = null;
  /** The environments the queue waits for, each with the latest line of its build's log. */
  building: readonly WaitingBuild[] = [];
  /** The notebook was deleted while open: nothing more can be done here. */
  deleted = false;
  /** The server is sending the notebook again (it lost broadcasts about it); cleared by the snapshot. */
  resyncing = false;
  private readonly spark = new Map<string, SparkProgress>();
  private order: string[] = [];
  private readonly byId = new Map<string, CellRecord>();
  private readonly listeners = new Set<(change: ModelChange) => void>();

  get cells(): CellRecord[] {
    return this.order.map((id) => this.byId.get(id)).filter((cell): cell is CellRecord => cell !== undefined);
  }

  cell(id: string): CellRecord | undefined {
    return this.byId.get(id);
  }

  /** 1-based place in the run queue, or null when the cell is not queued. */
  queuePosition(cellId: string): number | null {
    const index = this.queue.indexOf(cellId);
    return index < 0 ? null : index + 1;
  }

  sparkProgress(cellId: string): SparkProgress | undefined {
    return this.spark.get(cellId);
  }

  /** The cells with Spark progress, in notebook order. */
  get sparkCells(): string[] {
    return this.order.filter((id) => this.spark.has(id));
  }

  /** Other people in a cell, by cell id (we are left out). */
  othersByCell(): Map<string, string[]> {
    const byCell = new Map<string, string[]>();
    for (const user of this.presence) {
      if (user.cell_id === null || user.username === this.you?.username) continue;
      byCell.set(user.cell_id, [...(byCell.get(user.cell_id) ?? []), user.username]);
    }
    return byCell;
  }

  get staleCells(): string[] {
    return this.cells.filter((cell) => cell.stale).map((cell) => cell.id);
  }

  get permissions(): Permissions {
    if (this.deleted) return { canRun: false, canEdit: false };
    return permissionsFor(this.you?.role ?? null);
  }

  subscribe(listener: (change: ModelChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads a notebook read over REST, before the socket's snapshot arrives. */
  load(notebook: { title: string; revision: number; cells: Cell[] }): void {
    this.replaceCells(notebook.title, notebook.revision, notebook.cells);
    this.emit({ kind: 'reset' });
  }

  /** Records a local edit right away, so the page never shows an older text than the editor. */
  editSource(cellId: string, source: string): void {
    this.patch(cellId, { source }, false);
  }

  apply(message: ServerMessage): void {
    switch (message.type) {
      case 'snapshot':
        this.replaceCells(message.notebook.title, message.notebook.revision, message.notebook.cells);
        this.kernel = message.kernel.state;
        this.kernelReason = message.kernel.reason ?? '';
        this.you = { username: message.you.username, role: message.you.role };
        this.resyncing = false;
        // Tasks and presence are re-sent after a snapshot; whatever we had may be long gone.
        this.queue = [];
        this.runningCell = null;
        this.building = [];
        this.spark.clear();
        this.emit({ kind: 'reset' });
        return;
      case 'cell_inserted': {
        if (this.byId.has(message.cell.id)) return;
        this.byId.set(message.cell.id, recordFrom(message.cell));
        this.order.splice(clampIndex(message.index, this.order.length), 0, message.cell.id);
        this.emit({ kind: 'cells' });
        return;
      }
      case 'cell_deleted':
        if (!this.byId.delete(message.cell_id)) return;
        this.spark.delete(message.cell_id);
        this.order = this.order.filter((id) => id !== message.cell_id);
        this.emit({ kind: 'cells' });
        return;
      case 'cell_moved': {
        if (!this.byId.has(message.cell_id)) return;
        const rest = this.order.filter((id) => id !== message.cell_id);
        rest.splice(clampIndex(message.index, rest.length), 0, message.cell_id);
        this.order = rest;
        this.emit({ kind: 'cells' });
        return;
      }
      case 'cell_updated':
        this.revision = Math.max(this.revision, message.revision);
        this.patch(message.cell_id, { source: message.source });
        return;
      case 'cell_language':
        this.patch(message.cell_id, { language: message.language });
        return;
      case 'outputs_cleared':
        this.revision = Math.max(this.revision, message.revision);
        for (const id of message.cell_ids) this.patch(id, { outputs: [], executionCount: null });
        return;
      case 'cell_hidden':
        this.revision = Math.max(this.revision, message.revision);
        this.patch(message.cell_id, message.part === 'source' ? { sourceHidden: message.hidden } : { outputsHidden: message.hidden });
        return;
      case 'cell_status':
        // A new run asks afresh; an ended one asks nothing more.
        this.patch(message.cell_id, { input: null }, false);
        this.applyCellStatus(message.cell_id, message.state, message.execution_count);
        if (message.outputs) {
          this.patch(message.cell_id, { outputs: message.outputs, outputsTotal: message.outputs_total ?? message.outputs.length });
        }
        return;
      case 'notebook_renamed':
        this.title = message.title;
        this.emit({ kind: 'title' });
        return;
      case 'statement':
        this.patch(message.cell_id, { running: { start: message.line_start, end: message.line_end } });
        return;
      case 'output': {
        const cell = this.byId.get(message.cell_id);
        if (cell) this.patch(cell.id, { outputs: appendOutput(cell.outputs, message.output) });
        return;
      }
      case 'cell_result':
        this.patch(message.cell_id, { symbols: message.symbols });
        for (const id of message.stale) this.patch(id, { stale: true });
        return;
      case 'kernel_status':
        this.kernel = message.state;
        this.kernelReason = message.reason ?? '';
        this.emit({ kind: 'kernel' });
        return;
      case 'presence':
        this.presence = message.users.map((user) => ({ username: user.username, cell_id: user.cell_id ?? null }));
        this.emit({ kind: 'presence' });
        return;
      case 'tasks':
        this.queue = message.queue;
        this.runningCell = message.running ?? null;
        this.building = (message.building ?? []).map(({ kind, key }) => ({
          kind,
          key,
          progress: this.building.find((b) => b.key === key)?.progress ?? '',
        }));
        this.emit({ kind: 'tasks' });
        return;
      case 'environment': {
        // A build the queue waits for: its progress is the queue's.
        if (!this.building.some((b) => b.key === message.key)) return;
        const progress = lastLine(message.error ?? '') || lastLine(message.log_tail);
        this.building = this.building.map((b) => (b.key === message.key && progress ? { ...b, progress } : b));
        this.emit({ kind: 'tasks' });
        return;
      }
      case 'spark_progress':
        this.spark.set(message.cell_id, { jobs: message.jobs, uiUrl: message.ui_url ?? null, uiNote: message.ui_note ?? null });
        this.emit({ kind: 'spark', cellId: message.cell_id });
        return;
      case 'cell_sync':
        // The kernel's word on a run in progress (or just finished) replaces whatever the snapshot said, but for
        // a finished run's stale mark: stored after the run (a cell it read was deleted), the snapshot has it.
        this.patch(message.cell_id, {
          state: message.state,
          outputs: message.outputs,
          outputsTotal: message.outputs_total ?? message.outputs.length,
          running: null,
          ...(message.state === 'queued' || message.state === 'running' ? { stale: false } : {}),
          input: message.input_request ?? null,
          executionCount: message.execution_count ?? null,
          ...(message.symbols ? { symbols: message.symbols } : {}),
        });
        return;
      case 'input_request': {
        const { exec_id, prompt, password, username } = message;
        this.patch(message.cell_id, { input: { exec_id, prompt, password, username } });
        return;
      }
      case 'input_done':
        if (this.byId.get(message.cell_id)?.input?.exec_id === message.exec_id) this.patch(message.cell_id, { input: null });
        return;
      case 'draft_replaced':
        this.emit({ kind: 'draft_replaced', revision: message.revision });
        return;
      case 'cells_stale':
        for (const id of message.cell_ids) this.patch(id, { stale: true });
        return;
      case 'grants_changed': {
        // A sharing or team change that leaves this person's role as it was changes nothing here.
        const changed = this.you?.role !== message.you.role;
        this.you = { username: message.you.username, role: message.you.role };
        if (changed) this.emit({ kind: 'permissions' });
        return;
      }
      case 'version_saved':
        this.emit({ kind: 'version_saved', number: message.number });
        return;
      case 'notebook_deleted':
        this.deleted = true;
        this.emit({ kind: 'deleted' });
        return;
      case 'resync':
        this.resyncing = true;
        this.emit({ kind: 'resync' });
        return;
      // Read by the page or its panels themselves.
      case 'ack':
      case 'error':
      case 'config_changed':
      case 'environment_notice':
      case 'notice':
      case 'cursor':
        return;
      default:
        // Every message type has a case: the compiler says which one a new type lacks.
        return unhandled(message);
    }
  }

  private applyCellStatus(cellId: string, state: CellState, executionCount?: number): void {
    if (state === 'queued' || state === 'running') {
      // A new run starts from a clean slate: old outputs would mislead.
      if (state === 'running' && this.spark.delete(cellId)) this.emit({ kind: 'spark', cellId });
      this.patch(cellId, { state, outputs: [], outputsTotal: 0, running: null, stale: false, executionCount: executionCount ?? null });
    } else {
      this.patch(cellId, { state, running: null });
    }
  }

  private replaceCells(title: string, revision: number, cells: Cell[]): void {
    this.title = title;
    this.revision = revision;
    this.byId.clear();
    for (const cell of cells) this.byId.set(cell.id, recordFrom(cell));
    this.order = cells.map((cell) => cell.id);
  }

  private patch(cellId: string, changes: Partial<CellRecord>, notify = true): void {
    const cell = this.byId.get(cellId);
    if (!cell) return;
    this.byId.set(cellId, { ...cell, ...changes });
    if (notify) this.emit({ kind: 'cell', cellId });
  }

  private emit(change: ModelChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1]?.trim() ?? '';
}

function unhandled(message: never): never {
  throw new Error(`no handler for ${(message as { type: string }).type}`);
}

function clampIndex(index: number, length: number): number {
  return Math.max(0, Math.min(index, length));
}
