/**
 * The cells' sources as a shared Yjs document, so people typing in one cell at once keep all their keystrokes.
 *
 * The server's snapshot carries the document (a map `sources` from cell id to a Y.Text). Local edits
 * become Y.Text changes; their updates go out per cell, batched for a few milliseconds, as `edit_source`.
 * Remote updates arrive with draft changes (`ydoc_update`); the changes they make to a cell's text reach
 * the cell's editor as offsets, so its caret stays put.
 *
 * Places in a cell's text (carets, selections) are shared as Yjs relative positions (`relativePosition`,
 * `resolvePosition`): they name the character they sit by, so others' edits elsewhere do not move them.
 *
 * An edit the server refuses leaves the document ahead of the server's, and every later update of this
 * document builds on the refused one (Yjs numbers one client's changes in one sequence), so the server could
 * never apply them. From the refusal on nothing more is sent; the page is told, shows why and asks for the
 * server's state, and `load` replaces the document: the editors then show the saved text.
 */
import * as Y from 'yjs';
import type { TextChange } from './lib/textChanges';

/** Where a cell's text is shown: told of others' changes, or of a whole new text. */
export interface TextSink {
  applyRemote(changes: readonly TextChange[]): void;
  setText(text: string): void;
}

/** What became of a sent update: applied, or refused with the server's reason (a lost connection is neither). */
export type EditOutcome = { ok: true } | { ok: false; code: string; message: string };

/** The one wording of the notice an edit the server refused brings. */
export const REFUSED_EDIT_NOTICE = 'Your last change could not be saved; the cell shows the saved text.';

export interface CollabSourcesOptions {
  /** Sends one cell's merged update (base64); the promise, if any, says whether the server applied it. */
  send(cellId: string, update: string): Promise<EditOutcome> | void;
  /** The server refused an edit: the document must be replaced by the server's (`load`) before typing is sent again. */
  refused?(cellId: string, reason: string): void;
  /** A cell's text changed because of someone else (or a new document). */
  textChanged?(cellId: string, text: string): void;
  batchMs?: number;
}

const REMOTE = 'remote';
const DEFAULT_BATCH_MS = 50;

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A Y.Text event's delta as changes applied in order. */
export function deltaToChanges(delta: readonly { insert?: unknown; delete?: number; retain?: number }[]): TextChange[] {
  const changes: TextChange[] = [];
  let index = 0;
  for (const op of delta) {
    if (op.retain !== undefined) {
      index += op.retain;
    } else if (op.insert !== undefined) {
      const text = typeof op.insert === 'string' ? op.insert : '';
      changes.push({ offset: index, deleteCount: 0, insert: text });
      index += text.length;
    } else if (op.delete !== undefined) {
      changes.push({ offset: index, deleteCount: op.delete, insert: '' });
    }
  }
  return changes;
}

/** A run of unsent updates to one cell, made one after another. */
interface PendingRun {
  cellId: string;
  updates: Uint8Array[];
}

export class CollabSources {
  private doc: Y.Doc | null = null;
  private readonly sinks = new Map<string, TextSink>();
  /**
   * Unsent updates in the order they were made, grouped into runs per cell. They go out in that order, all
   * together: Yjs numbers one client's changes in one sequence, so an update sent before an earlier one of
   * another cell would build on changes the server does not have yet, and be refused.
   */
  private pending: PendingRun[] = [];
  private pendingTimer: ReturnType<typeof setTimeout> | null = null;
  /** One origin object per cell, so an update's origin says which cell it belongs to. */
  private readonly origins = new Map<string, { cellId: string }>();
  private readonly batchMs: number;
  /** Set by a refused edit, cleared by the next `load`: this document no longer matches the server's. */
  private diverged = false;
  private readonly textListeners = new Set<(cellIds: ReadonlySet<string> | null) => void>();

  constructor(private readonly options: CollabSourcesOptions) {
    this.batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
  }

  /** True between a refused edit and the server's state replacing the document. */
  get resyncing(): boolean {
    return this.diverged;
  }

  /** True once a document arrived: typing then goes through it. */
  get active(): boolean {
    return this.doc !== null;
  }

  /** A cell's text in the document, if the document has the cell. */
  text(cellId: string): string | undefined {
    return this.sources()?.get(cellId)?.toString();
  }

  /** Starts afresh from the server's state (a snapshot); every shown text follows the new document. */
  load(state: string): void {
    // Edits not sent yet still go out: the server merges them into its document and echoes them back.
    this.flush();
    this.doc?.destroy();
    const doc = new Y.Doc();
    Y.applyUpdate(doc, fromBase64(state), REMOTE);
    this.doc = doc;
    this.diverged = false;
    const sources = doc.getMap<Y.Text>('sources');
    sources.observeDeep((events, transaction) => this.observed(events, transaction));
    doc.on('update', (update: Uint8Array, origin: unknown) => this.updated(update, origin));
    // After the observers: the editors already show the change when the listeners hear of it.
    doc.on('afterTransaction', (transaction: Y.Transaction) => this.transacted(transaction, sources));
    for (const [cellId, sink] of this.sinks) {
      const text = this.text(cellId);
      if (text !== undefined) sink.setText(text);
    }
    for (const listener of this.textListeners) listener(null);
  }

  /**
   * Calls `listener` after every change to cells' texts, local or remote, with the cells changed (null: a new
   * document, every cell); returns the way to stop.
   */
  onTextsChanged(listener: (cellIds: ReadonlySet<string> | null) => void): () => void {
    this.textListeners.add(listener);
    return () => this.textListeners.delete(listener);
  }

  /** The place before the character at `offset` in a cell's text, as a Yjs relative position (base64). */
  relativePosition(cellId: string, offset: number): string | null {
    const text = this.sources()?.get(cellId);
    if (!text) return null;
    const index = Math.max(0, Math.min(offset, text.length));
    return toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, index)));
  }

  /**
   * Where a relative position (base64) is in a cell's text now; null when it is not in that cell, or refers to
   * changes this document has not received yet (ask again once they come: `onTextsChanged`).
   */
  resolvePosition(cellId: string, encoded: string): number | null {
    const text = this.sources()?.get(cellId);
    if (!this.doc || !text) return null;
    try {
      const absolute = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(encoded)), this.doc);
      return absolute && absolute.type === text ? absolute.index : null;
    } catch {
      return null; // not a relative position: nothing to draw
    }
  }

  /** Forgets the document: typing falls back to whole-source saves. */
  reset(): void {
    this.dropPending();
    this.doc?.destroy();
    this.doc = null;
    this.diverged = false;
  }

  /** Applies an update from the server. */
  applyUpdate(update: string): void {
    if (!this.doc) return;
    try {
      Y.applyUpdate(this.doc, fromBase64(update), REMOTE);
    } catch (error) {
      console.warn('Quire: ignoring a malformed document update', error);
    }
  }

  /** Shows a cell's text in `sink` as it changes; returns the way to stop. */
  attach(cellId: string, sink: TextSink): () => void {
    this.sinks.set(cellId, sink);
    return () => {
      if (this.sinks.get(cellId) === sink) this.sinks.delete(cellId);
    };
  }

  /** Records the user's changes to a cell; false when the document has no such cell (nothing recorded). */
  edit(cellId: string, changes: readonly TextChange[]): boolean {
    const text = this.sources()?.get(cellId);
    if (!this.doc || !text) return false;
    this.doc.transact(() => {
      for (const change of changes) {
        if (change.deleteCount > 0) text.delete(change.offset, change.deleteCount);
        if (change.insert) text.insert(change.offset, change.insert);
      }
    }, this.originFor(cellId));
    return true;
  }

  /**
   * Sends the batched updates now (before running a cell, deleting or moving one). A cell's updates go with
   * every update made before them, in order; with no cell named, or one with updates waiting, all of them go.
   */
  flush(cellId?: string): void {
    if (cellId !== undefined && !this.hasPending(cellId)) return;
    if (this.pendingTimer !== null) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
    const doc = this.doc;
    for (const run of this.pending.splice(0)) {
      const update = run.updates.length === 1 ? run.updates[0]! : Y.mergeUpdates(run.updates);
      const outcome = this.options.send(run.cellId, toBase64(update));
      if (outcome) void outcome.then((result) => this.settled(doc, run.cellId, result));
    }
  }

  /** Takes in the server's answer to an update: a refusal stops all sending until the server's state is loaded. */
  private settled(doc: Y.Doc | null, cellId: string, outcome: EditOutcome): void {
    // A lost connection says nothing about the edit: the snapshot after reconnecting replaces the document anyway.
    // An answer about a document since replaced by the server's concerns nothing shown any more.
    if (outcome.ok || outcome.code === 'connection_lost' || this.diverged || doc !== this.doc || !doc) return;
    this.diverged = true;
    this.dropPending();
    this.options.refused?.(cellId, outcome.message);
  }

  hasPending(cellId: string): boolean {
    return this.pending.some((run) => run.cellId === cellId);
  }

  dispose(): void {
    this.flush();
    this.doc?.destroy();
    this.doc = null;
    this.sinks.clear();
    this.textListeners.clear();
  }

  private sources(): Y.Map<Y.Text> | undefined {
    return this.doc?.getMap<Y.Text>('sources');
  }

  private originFor(cellId: string): { cellId: string } {
    let origin = this.origins.get(cellId);
    if (!origin) this.origins.set(cellId, (origin = { cellId }));
    return origin;
  }

  private updated(update: Uint8Array, origin: unknown): void {
    if (origin === REMOTE || typeof origin !== 'object' || origin === null || !('cellId' in origin)) return;
    // Built on a refused edit: the server could not apply it. The server's state replaces it shortly.
    if (this.diverged) return;
    const cellId = (origin as { cellId: string }).cellId;
    const last = this.pending.at(-1);
    if (last?.cellId === cellId) last.updates.push(update);
    else this.pending.push({ cellId, updates: [update] });
    this.pendingTimer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  private transacted(transaction: Y.Transaction, sources: Y.Map<Y.Text>): void {
    if (this.textListeners.size === 0) return;
    const cellIds = new Set<string>();
    for (const [type, keys] of transaction.changed) {
      if ((type as unknown) === sources) {
        for (const key of keys) if (key !== null) cellIds.add(key);
      } else if (type instanceof Y.Text && type._item?.parentSub) {
        cellIds.add(type._item.parentSub);
      }
    }
    if (cellIds.size > 0) for (const listener of this.textListeners) listener(cellIds);
  }

  private observed(events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction): void {
    if (transaction.local) return; // the editor made these changes itself
    for (const event of events) {
      if (event.target instanceof Y.Text) {
        const cellId = event.path[0];
        if (typeof cellId !== 'string') continue;
        this.sinks.get(cellId)?.applyRemote(deltaToChanges(event.delta as { insert?: unknown; delete?: number; retain?: number }[]));
        this.options.textChanged?.(cellId, event.target.toString());
      } else {
        // Cells' texts added or replaced in the map: show them whole.
        for (const key of event.keys.keys()) {
          const text = this.text(key);
          if (text === undefined) continue;
          this.sinks.get(key)?.setText(text);
          this.options.textChanged?.(key, text);
        }
      }
    }
  }

  private dropPending(): void {
    if (this.pendingTimer !== null) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
    this.pending = [];
  }
}
