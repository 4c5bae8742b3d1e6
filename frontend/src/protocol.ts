/**
 * The notebook WebSocket protocol (version 1): message types, parsing, and the client that speaks it.
 *
 * This is the only module that builds or reads raw protocol messages; components call the
 * client's send helpers and subscribe to typed events.
 */

import { PROTOCOL_VERSION, SCHEMA_DEFS, SERVER_MESSAGE_SCHEMAS } from './generated/protocol';
import type * as Wire from './generated/protocol';
import type { JsonSchema } from './generated/protocol';
import { type NamedChecks, conforms } from './lib/schemaCheck';
import type { ErrorPosition, Output, OutputChange } from './nbformat';

// The messages' types and the protocol's literal types are generated from the server's classes
// (kernels/messages.py, `python -m kernels.protocol_codegen`); the nbformat outputs they carry are typed by hand.
export { CELL_STATES, KERNEL_STATES, LANGUAGES, PROTOCOL_VERSION } from './generated/protocol';
export type {
  AckMessage,
  BuildingEnvironment,
  Cell,
  CellDeletedMessage,
  CellInsertedMessage,
  CellLanguageMessage,
  CellMovedMessage,
  CellResultMessage,
  CellState,
  CellStatusMessage,
  CellSyncMessage,
  CellsStaleMessage,
  ConfigChangedMessage,
  CursorMessage,
  DraftReplacedMessage,
  EnvironmentKind,
  EnvironmentMessage,
  EnvironmentNoticeMessage,
  EnvironmentState,
  ErrorMessage,
  ExploreOp,
  GrantsChangedMessage,
  HiddenPart,
  InputDoneMessage,
  InputRequestMessage,
  KernelState,
  KernelStatusMessage,
  Language,
  NoticeMessage,
  NotebookDeletedMessage,
  NotebookRenamedMessage,
  NotebookState as NotebookSnapshot,
  OutputMessage,
  OutputsClearedMessage,
  PendingInput,
  PresenceEntry as PresenceUser,
  PresenceMessage,
  ResyncMessage,
  RoleName as Role,
  SnapshotMessage,
  SparkJob,
  SparkProgressMessage,
  SparkStage,
  StatementMessage,
  SymbolInfo,
  TasksMessage,
  VersionSavedMessage,
} from './generated/protocol';
export type * from './nbformat';
type AckMessage = Wire.AckMessage;
type EnvironmentKind = Wire.EnvironmentKind;
type ErrorMessage = Wire.ErrorMessage;
type ExploreOp = Wire.ExploreOp;
type HiddenPart = Wire.HiddenPart;
type Language = Wire.Language;
type SymbolInfo = Wire.SymbolInfo;

/** What the page reads: every server message but `chunk`, whose parts are joined into one of these first. */
export type ServerMessage = Exclude<Wire.ServerMessage, Wire.ChunkMessage>;



// ---------------------------------------------------------------------------------------------
// Client → server

/** A request the page sends: every client message the server reads, with the `req` its reply will carry. */
export type ClientMessage = Exclude<Wire.ClientMessage, Wire.CursorMoveRequest> & { v: typeof PROTOCOL_VERSION; req: number };

/** The value an `explore` names: a table output by its ref, or a symbol as the request's cell sees it. */
export type ExploreTarget = { ref: string } | { name: string };

/** A notification: sent without `req`, so nothing answers it unless the server refuses it. */
export type ClientNotification = Wire.CursorMoveRequest & { v: typeof PROTOCOL_VERSION };

// ---------------------------------------------------------------------------------------------
// Replies carried by acks

export interface Completion {
  label: string;
  kind: string;
  detail: string;
}

/** A completion reply; `incomplete` when the kernel cut the list, so the editor asks again as the prefix grows. */
export interface Completions {
  items: Completion[];
  incomplete: boolean;
}

export interface Signature {
  label: string;
  params: string[];
  active_param: number | null;
  doc: string;
}

/** What the kernel says of the symbol under the pointer: Markdown, and the [start, end) offsets it covers. */
export interface HoverText {
  text: string;
  start: number;
  end: number;
}

export interface TableColumn {
  name: string;
  type: string;
}

export interface TablePage {
  schema: TableColumn[];
  rows: unknown[][];
  total_rows: number;
  offset: number;
  page_size: number;
}

export interface CellScope {
  /** The symbols the cell defined. */
  defined: SymbolInfo[];
  /** The symbols the cell sees from the cells above it. */
  visible: SymbolInfo[];
}

/** A request that expects a typed reply: the reply, or why there is none. */
export type Reply<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

// ---------------------------------------------------------------------------------------------
// Server → client

/** What an environment of each kind holds, as the user reads it. */
export const ENVIRONMENT_LABELS: Record<EnvironmentKind, string> = { python: 'Python packages', jvm: 'JVM dependencies' };

export type ServerMessageType = ServerMessage['type'];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Parsing: the server is trusted to be well-meaning, not to be bug-free or the same version.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

const optionalString = (v: unknown): boolean => v === undefined || isString(v);

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const optionalCount = (v: unknown): boolean => v === undefined || isCount(v);

function isMore(v: unknown): boolean {
  return v === undefined || (isObject(v) && isCount(v.n) && optionalCount(v.chars) && optionalCount(v.lines));
}

function isOutput(v: unknown): v is Output {
  if (!isObject(v) || !isMore(v.more)) return false;
  switch (v.output_type) {
    case 'stream':
      return (v.name === 'stdout' || v.name === 'stderr') && isString(v.text);
    case 'display_data':
    case 'execute_result':
      return isObject(v.data) && (v.metadata === undefined || isObject(v.metadata));
    case 'error':
      return (
        isString(v.ename) &&
        isString(v.evalue) &&
        isStringArray(v.traceback) &&
        (v.positions === undefined || Array.isArray(v.positions))
      );
    default:
      return false;
  }
}

/** A live output: a new one, or a change to those shown. */
function isOutputChange(v: unknown): v is OutputChange {
  if (!isObject(v)) return false;
  switch (v.output_type) {
    case 'update_display_data':
      return isObject(v.data) && (v.metadata === undefined || isObject(v.metadata)) && isTransient(v.transient);
    case 'clear_output':
      return v.wait === undefined || typeof v.wait === 'boolean';
    default:
      return isOutput(v);
  }
}

function isTransient(v: unknown): boolean {
  return v === undefined || (isObject(v) && optionalString(v.display_id));
}

function isSymbol(v: unknown): v is SymbolInfo {
  return isObject(v) && isString(v.name) && isString(v.language) && isString(v.type) && isString(v.repr);
}

/** The nbformat outputs the schema names but leaves to the page (src/nbformat.ts). */
const NBFORMAT_CHECKS: NamedChecks = { Output: isOutput, OutputChange: isOutputChange };

/** Checks beyond the schema's: a caret in a cell has both ends, one taken away has none. */
const furtherChecks: Partial<Record<ServerMessageType, (m: Json) => boolean>> = {
  cursor: (m) => (m.cell_id === null ? m.anchor === undefined && m.head === undefined : isString(m.anchor) && isString(m.head)),
};

/** Each server message type's validator: its generated schema (with the nbformat outputs it carries checked by
 * hand), and any further check. */
const validators = Object.fromEntries(
  Object.entries(SERVER_MESSAGE_SCHEMAS)
    .filter(([type]) => type !== 'chunk')
    .map(([type, name]) => {
      const schema = SCHEMA_DEFS[name] as JsonSchema;
      const further = furtherChecks[type as ServerMessageType];
      return [type, (m: Json) => conforms(schema, m, SCHEMA_DEFS, NBFORMAT_CHECKS) && (!further || further(m))];
    }),
) as { [K in ServerMessageType]: (m: Json) => boolean };

/** Every message type the client reads (besides `chunk`, joined before reading): the compiler holds the validators
 * to the generated ServerMessage union, and frontend/tests/protocolContract.test.ts checks that each has a handler. */
export const SERVER_MESSAGE_TYPES = Object.keys(validators) as ServerMessageType[];

// --- ack payloads: checked, and normalised, so callers never see half a reply ------------------

/** Editing help and table pages need a running kernel; the server says so instead of replying. */
const kernelNotRunning = (ack: Json): boolean => ack.kernel === 'not_running';

export function parseCompletions(ack: Json): Completions | null {
  if (kernelNotRunning(ack)) return { items: [], incomplete: false };
  if (!Array.isArray(ack.items)) return null;
  const items = ack.items
    .filter((item): item is Json => isObject(item) && isString(item.label))
    .map((item) => ({ label: item.label as string, kind: isString(item.kind) ? item.kind : '', detail: isString(item.detail) ? item.detail : '' }));
  return { items, incomplete: ack.incomplete === true };
}

export function parseSignatures(ack: Json): Signature[] | null {
  if (kernelNotRunning(ack)) return [];
  if (!Array.isArray(ack.signatures)) return null;
  return ack.signatures
    .filter((s): s is Json => isObject(s) && isString(s.label))
    .map((s) => ({
      label: s.label as string,
      params: isStringArray(s.params) ? s.params : [],
      active_param: isInt(s.active_param) ? s.active_param : null,
      doc: isString(s.doc) ? s.doc : '',
    }));
}

/** A hover reply: `{ hover: null }` when there is nothing to say (or no kernel), else the text and its span. */
export function parseHover(ack: Json): { hover: HoverText | null } | null {
  if (kernelNotRunning(ack)) return { hover: null };
  if (!isString(ack.text) || !isInt(ack.start) || !isInt(ack.end)) return null;
  return { hover: ack.text === '' ? null : { text: ack.text, start: ack.start, end: ack.end } };
}

function isErrorPosition(v: unknown): v is ErrorPosition {
  return isObject(v) && isInt(v.line) && isInt(v.column) && isInt(v.end_line) && isInt(v.end_column) && isString(v.message);
}

/** A check reply: the errors' positions; none while no kernel runs. */
export function parseDiagnostics(ack: Json): ErrorPosition[] | null {
  if (kernelNotRunning(ack)) return [];
  if (!Array.isArray(ack.positions)) return null;
  return ack.positions.filter(isErrorPosition);
}

export function parseTablePage(ack: Json): TablePage | null {
  if (!Array.isArray(ack.schema) || !Array.isArray(ack.rows) || !ack.rows.every(Array.isArray) || !isInt(ack.total_rows)) return null;
  const schema = ack.schema
    .filter((c): c is Json => isObject(c) && isString(c.name))
    .map((c) => ({ name: c.name as string, type: isString(c.type) ? c.type : '' }));
  return {
    schema,
    rows: ack.rows as unknown[][],
    total_rows: ack.total_rows,
    offset: isInt(ack.offset) ? ack.offset : 0,
    page_size: isInt(ack.page_size) ? ack.page_size : ack.rows.length,
  };
}

export function parseScope(ack: Json): CellScope | null {
  if (!Array.isArray(ack.defined) || !Array.isArray(ack.visible)) return null;
  return { defined: ack.defined.filter(isSymbol), visible: ack.visible.filter(isSymbol) };
}

/** Parses one frame; returns a reason instead of a message when it is not a valid v1 message. */
export function parseServerMessage(raw: string): { message: ServerMessage } | { problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { problem: 'not JSON' };
  }
  return validateServerMessage(data);
}

/** A piece of a message too long for one frame (the server's `chunk`): `data` is part `index` of `count` of its
 * text, and the pieces of one message share an `id`. */
export interface ChunkFrame {
  id: string;
  index: number;
  count: number;
  data: string;
}

export function asChunk(data: unknown): ChunkFrame | null {
  if (!isObject(data) || data.type !== 'chunk') return null;
  const { id, index, count } = data;
  if (!isString(id) || !isInt(index) || !isInt(count) || !isString(data.data)) return null;
  if (count < 1 || index < 0 || index >= count) return null;
  return { id, index, count, data: data.data };
}

/** Joins chunks into the messages they carry, whatever order they arrive in. */
export class ChunkJoiner {
  private readonly parts = new Map<string, { count: number; pieces: (string | undefined)[]; have: number }>();

  /** The whole message's text once its last piece is in, else null. */
  add(chunk: ChunkFrame): string | null {
    let entry = this.parts.get(chunk.id);
    if (entry === undefined || entry.count !== chunk.count) {
      entry = { count: chunk.count, pieces: new Array<string | undefined>(chunk.count), have: 0 };
      this.parts.set(chunk.id, entry);
    }
    if (entry.pieces[chunk.index] === undefined) entry.have += 1;
    entry.pieces[chunk.index] = chunk.data;
    if (entry.have < entry.count) return null;
    this.parts.delete(chunk.id);
    return entry.pieces.join('');
  }

  clear(): void {
    this.parts.clear();
  }
}

export function validateServerMessage(data: unknown): { message: ServerMessage } | { problem: string } {
  if (!isObject(data)) return { problem: 'not a JSON object' };
  // Tolerate a missing "v" (early servers); refuse any other version rather than misread it.
  if (data.v !== undefined && data.v !== PROTOCOL_VERSION) return { problem: `unsupported version ${String(data.v)}` };
  const type = data.type;
  if (!isString(type) || !Object.hasOwn(validators, type)) return { problem: `unknown type ${JSON.stringify(type)}` };
  if (!validators[type as ServerMessageType](data)) return { problem: `malformed ${type} message` };
  return { message: data as unknown as ServerMessage };
}

// ---------------------------------------------------------------------------------------------
// The client

/** The part of the browser WebSocket the client uses, so tests can inject a double. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
}

export type SocketFactory = (url: string) => SocketLike;

const SOCKET_OPEN = 1;

/** Close codes the server uses when it refuses the connection; retrying would not help. */
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_NOT_FOUND = 4404;
const isRefusal = (code: number): boolean => code >= 4400 && code < 4500;

/**
 * `connecting` before the first open; `reconnecting` while waiting for or making a retry;
 * `closed` after close() or when the server refused us (then `closeCode` says why).
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Consecutive failed attempts since the last snapshot. */
  attempt: number;
  /** When reconnecting: milliseconds until the next attempt. */
  retryInMs?: number;
  /** When the server closed the connection for good: its 44xx close code. */
  closeCode?: number;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay randomly taken off, so many tabs do not reconnect in lock-step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

export interface NotebookClientOptions {
  url: string;
  createSocket?: SocketFactory;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
}

/** A request's outcome: the server's ack, its error, or a local `connection_lost` error. */
export type RequestOutcome = AckMessage | ErrorMessage;

export interface SentRequest {
  req: number;
  settled: Promise<RequestOutcome>;
}

type Listener<T> = (value: T) => void;
type ClientPayload = ClientMessage extends infer M ? (M extends ClientMessage ? Omit<M, 'v' | 'req'> : never) : never;

/**
 * Requests that change the notebook's structure or a cell's whole value. Applying one twice leaves the same
 * state (an insert names its cell's id, which the server answers as a retry), so one sent on a connection that
 * died before its answer is sent again on the next, instead of failing.
 */
export const RETRIED_TYPES: ReadonlySet<string> = new Set([
  'insert_cell',
  'update_cell',
  'set_language',
  'delete_cell',
  'move_cell',
  'clear_outputs',
  'set_hidden',
]);

/** A fresh cell id (12 hex digits, as the server makes them): the client names the cells it inserts. */
export function newCellId(random: (bytes: Uint8Array) => Uint8Array = (bytes) => crypto.getRandomValues(bytes)): string {
  return Array.from(random(new Uint8Array(6)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The notebook WebSocket URL for the page's origin. */
export function notebookSocketUrl(notebookId: number, location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws/notebooks/${notebookId}/`;
}

export class NotebookClient {
  private readonly url: string;
  private readonly createSocket: SocketFactory;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;

  private socket: SocketLike | null = null;
  private status: ConnectionStatus = { state: 'closed', attempt: 0 };
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private nextReq = 1;
  // Frames sent while the socket is down go out, in order, as soon as it opens again.
  private readonly outbox: string[] = [];
  private readonly pending = new Map<number, (outcome: RequestOutcome) => void>();
  private readonly sentOnThisSocket = new Set<number>();
  // The frames of retried requests (RETRIED_TYPES) until answered, and those already sent more than once.
  private readonly retryFrames = new Map<number, { frame: string; type: string }>();
  private readonly resent = new Set<number>();
  private readonly quiet = new Set<number>();
  // Requests that change the draft, until answered: a page being left waits for them (`writesSettled`).
  private readonly writes = new Map<number, Promise<RequestOutcome>>();

  private readonly typeListeners = new Map<ServerMessageType, Set<Listener<ServerMessage>>>();
  private readonly chunks = new ChunkJoiner();
  private readonly anyListeners = new Set<Listener<ServerMessage>>();
  private readonly connectionListeners = new Set<Listener<ConnectionStatus>>();

  constructor(options: NotebookClientOptions) {
    this.url = options.url;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  get connection(): ConnectionStatus {
    return this.status;
  }

  connect(): void {
    if (this.socket || this.retryTimer) return;
    this.open('connecting');
  }

  /** Closes for good: no reconnect; requests still pending settle as `connection_lost`. */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onmessage = socket.onerror = null;
      socket.close(1000, 'client closed');
    }
    this.outbox.length = 0;
    this.failPending([...this.pending.keys()]);
    this.retryFrames.clear();
    this.resent.clear();
    this.setStatus({ state: 'closed', attempt: 0 });
  }

  /**
   * Drops the connection and opens a new one at once, for the server's snapshot: what the page holds no longer
   * matches the server (an edit was refused). Requests in flight settle as `connection_lost`, as on any drop.
   */
  resync(): void {
    const socket = this.socket;
    // None open: a reconnect, and with it a snapshot, is coming anyway.
    if (!socket || socket.readyState !== SOCKET_OPEN) return;
    this.socket = null;
    socket.onopen = socket.onclose = socket.onmessage = socket.onerror = null;
    socket.close(1000, 'resync');
    this.failPending([...this.sentOnThisSocket]);
    this.sentOnThisSocket.clear();
    this.open('reconnecting');
  }

  // --- subscriptions ---------------------------------------------------------------------------

  on<T extends ServerMessageType>(type: T, listener: Listener<ServerMessageOf<T>>): () => void {
    let set = this.typeListeners.get(type);
    if (!set) this.typeListeners.set(type, (set = new Set()));
    const l = listener as Listener<ServerMessage>;
    set.add(l);
    return () => set.delete(l);
  }

  onAny(listener: Listener<ServerMessage>): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  onConnection(listener: Listener<ConnectionStatus>): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  // --- send helpers ------------------------------------------------------------------------------

  /** Inserts a cell under an id chosen here (or given), so a retry of the request cannot insert it twice. */
  insertCell(index: number, cell: { id?: string; language: Language; source: string }): SentRequest & { cellId: string } {
    const id = cell.id ?? newCellId();
    return { ...this.send({ type: 'insert_cell', index, cell: { ...cell, id } }), cellId: id };
  }
  /** Clears the outputs of one cell, or of every cell (null). */
  clearOutputs(cellId: string | null = null): SentRequest {
    return this.send({ type: 'clear_outputs', cell_id: cellId });
  }
  /** Hides or shows a cell's code or output, for everyone. */
  setHidden(cellId: string, part: HiddenPart, hidden: boolean): SentRequest {
    return this.send({ type: 'set_hidden', cell_id: cellId, part, hidden });
  }
  /** Replaces a cell's whole source (scripts, programmatic changes); typing goes through editSource. */
  updateCell(cellId: string, source: string): SentRequest {
    return this.send({ type: 'update_cell', cell_id: cellId, source });
  }
  /** A collaborative edit: a Yjs update (base64) to the sources' document, touching this cell. */
  editSource(cellId: string, update: string): SentRequest {
    return this.send({ type: 'edit_source', cell_id: cellId, update });
  }
  setLanguage(cellId: string, language: Language): SentRequest {
    return this.send({ type: 'set_language', cell_id: cellId, language });
  }
  deleteCell(cellId: string): SentRequest {
    return this.send({ type: 'delete_cell', cell_id: cellId });
  }
  moveCell(cellId: string, index: number): SentRequest {
    return this.send({ type: 'move_cell', cell_id: cellId, index });
  }
  runCell(cellId: string): SentRequest {
    return this.send({ type: 'run_cell', cell_id: cellId });
  }
  interrupt(): SentRequest {
    return this.send({ type: 'interrupt' });
  }
  runAll(): SentRequest {
    return this.send({ type: 'run_all' });
  }
  runFrom(cellId: string): SentRequest {
    return this.send({ type: 'run_from', cell_id: cellId });
  }
  runStale(): SentRequest {
    return this.send({ type: 'run_stale' });
  }
  restart(): SentRequest {
    return this.send({ type: 'restart' });
  }
  shutdown(): SentRequest {
    return this.send({ type: 'shutdown' });
  }
  /** Answers a cell's input(): the ack's `sent` says whether a kernel got it. */
  inputReply(cellId: string, execId: string, value: string): SentRequest {
    return this.send({ type: 'input_reply', cell_id: cellId, exec_id: execId, value });
  }
  /** Tells the others which cell we are in (null: none). */
  focus(cellId: string | null): SentRequest {
    return this.send({ type: 'focus', cell_id: cellId });
  }

  /**
   * Shows the others where this editor's caret is (a cell and its selection's ends as Yjs relative positions),
   * or that it left the editor (null). A notification, sent only while connected: a caret is out of date by the
   * time a connection is back, and the page sends its place again then.
   */
  cursor(place: { cellId: string; anchor: string; head: string } | null): void {
    if (!this.socket || this.socket.readyState !== SOCKET_OPEN) return;
    const message: ClientNotification =
      place === null
        ? { v: PROTOCOL_VERSION, type: 'cursor', cell_id: null }
        : { v: PROTOCOL_VERSION, type: 'cursor', cell_id: place.cellId, anchor: place.anchor, head: place.head };
    this.socket.send(JSON.stringify(message));
  }

  /** Completions at `pos`, a character offset into `source`; none while no kernel runs. */
  complete(cellId: string, language: Language, source: string, pos: number): Promise<Reply<Completions>> {
    return this.ask({ type: 'complete', cell_id: cellId, language, source, pos }, parseCompletions);
  }
  signature(cellId: string, language: Language, source: string, pos: number): Promise<Reply<Signature[]>> {
    return this.ask({ type: 'signature', cell_id: cellId, language, source, pos }, parseSignatures);
  }
  async hover(cellId: string, language: Language, source: string, pos: number): Promise<Reply<HoverText | null>> {
    const reply = await this.ask({ type: 'hover', cell_id: cellId, language, source, pos }, parseHover);
    return reply.ok ? { ok: true, value: reply.value.hover } : reply;
  }
  /** The errors the kernel's compiler finds in `source` without running it. */
  check(cellId: string, language: Language, source: string): Promise<Reply<ErrorPosition[]>> {
    return this.ask({ type: 'check', cell_id: cellId, language, source }, parseDiagnostics);
  }
  async tablePage(cellId: string, ref: string, offset: number, pageSize: number): Promise<Reply<TablePage>> {
    const reply = await this.ask({ type: 'table_page', cell_id: cellId, ref, offset, page_size: pageSize }, (ack) =>
      kernelNotRunning(ack) ? ('not_running' as const) : parseTablePage(ack),
    );
    if (reply.ok && reply.value === 'not_running') {
      return { ok: false, code: 'not_running', message: 'The kernel is not running: run the cell again to page through its table.' };
    }
    return reply as Reply<TablePage>;
  }
  /** Asks the kernel about a value (explore.ts reads the result); an error when no kernel runs. */
  async explore(cellId: string, target: ExploreTarget, op: ExploreOp, args: Record<string, unknown> = {}): Promise<Reply<Json>> {
    const reply = await this.ask({ type: 'explore', cell_id: cellId, ...target, op, args }, (ack) =>
      kernelNotRunning(ack) ? ('not_running' as const) : isObject(ack.result) ? ack.result : null,
    );
    if (reply.ok && reply.value === 'not_running') {
      return { ok: false, code: 'not_running', message: 'The kernel is not running: run the cell that makes this value, then try again.' };
    }
    return reply as Reply<Json>;
  }
  inspectScope(cellId: string): Promise<Reply<CellScope>> {
    return this.ask({ type: 'inspect_scope', cell_id: cellId }, parseScope);
  }

  /**
   * Whether every change sent so far was answered (stored, or refused) within `timeoutMs`: false when some are
   * still on their way, or wait for a connection to send them on.
   */
  async writesSettled(timeoutMs: number): Promise<boolean> {
    if (this.writes.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answered = Promise.all([...this.writes.values()]).then(() => true as const);
    const settled = await Promise.race([answered, late]);
    clearTimeout(timer);
    return settled;
  }

  /**
   * True for requests whose errors the caller handles itself (completions, pages, scopes), so a
   * page need not also show them as notices.
   */
  isQuiet(req: number | null): boolean {
    return req !== null && this.quiet.has(req);
  }

  private async ask<T>(payload: ClientPayload, parse: (ack: Json) => T | null): Promise<Reply<T>> {
    const sent = this.send(payload);
    this.quiet.add(sent.req);
    const outcome = await sent.settled;
    this.quiet.delete(sent.req);
    if (outcome.type === 'error') return { ok: false, code: outcome.code, message: outcome.message };
    const value = parse(outcome as unknown as Json);
    return value === null ? { ok: false, code: 'malformed', message: `malformed reply to ${payload.type}` } : { ok: true, value };
  }

  private send(payload: ClientPayload): SentRequest {
    const req = this.nextReq++;
    const message = { v: PROTOCOL_VERSION, req, ...payload } as ClientMessage;
    const frame = JSON.stringify(message);
    const settled = new Promise<RequestOutcome>((resolve) => this.pending.set(req, resolve));
    if (RETRIED_TYPES.has(payload.type)) this.retryFrames.set(req, { frame, type: payload.type });
    if (RETRIED_TYPES.has(payload.type) || payload.type === 'edit_source') this.writes.set(req, settled);
    if (this.status.state === 'closed' && !this.socket) {
      this.settle({ type: 'error', req, code: 'connection_lost', message: 'Not connected.' });
    } else if (this.socket && this.socket.readyState === SOCKET_OPEN) {
      this.socket.send(frame);
      this.sentOnThisSocket.add(req);
    } else {
      this.outbox.push(frame);
    }
    return { req, settled };
  }

  // --- socket lifecycle --------------------------------------------------------------------------

  private open(state: 'connecting' | 'reconnecting'): void {
    this.retryTimer = null;
    this.setStatus({ state, attempt: this.status.attempt });
    const socket = this.createSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.setStatus({ state: 'open', attempt: this.status.attempt });
      for (const frame of this.outbox.splice(0)) {
        socket.send(frame);
        const req = (JSON.parse(frame) as ClientMessage).req;
        this.sentOnThisSocket.add(req);
      }
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket === socket) this.lost(event.code);
    };
    // An error is always followed by a close event; reconnecting happens there.
    socket.onerror = () => undefined;
  }

  private lost(code: number): void {
    this.socket = null;
    this.chunks.clear();
    if (isRefusal(code)) {
      this.outbox.length = 0;
      this.failPending([...this.pending.keys()]);
      this.setStatus({ state: 'closed', attempt: 0, closeCode: code });
      return;
    }
    // A request sent on the dead socket may or may not have reached the server. Structural ones are sent again
    // first thing on the next connection (applying them twice changes nothing more); for the rest the snapshot
    // after reconnecting tells the truth, so callers just learn they are no longer pending.
    const retried = [...this.sentOnThisSocket].filter((req) => this.retryFrames.has(req)).sort((a, b) => a - b);
    this.failPending([...this.sentOnThisSocket].filter((req) => !this.retryFrames.has(req)));
    this.sentOnThisSocket.clear();
    for (const req of retried) this.resent.add(req);
    this.outbox.unshift(...retried.map((req) => this.retryFrames.get(req)!.frame));
    const attempt = this.status.attempt + 1;
    const delay = this.delayFor(attempt);
    this.setStatus({ state: 'reconnecting', attempt, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.open('reconnecting'), delay);
  }

  private delayFor(attempt: number): number {
    const { initialMs, maxMs, factor, jitter } = this.backoff;
    const base = Math.min(maxMs, initialMs * factor ** (attempt - 1));
    return Math.round(base * (1 - jitter * this.random()));
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') {
      console.warn('Quire: ignoring a non-text WebSocket frame');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      console.warn('Quire: ignoring server message (not JSON):', data.slice(0, 200));
      return;
    }
    const chunk = asChunk(value);
    if (chunk !== null) {
      const whole = this.chunks.add(chunk);
      if (whole !== null) this.receive(whole);
      return;
    }
    const parsed = validateServerMessage(value);
    if ('problem' in parsed) {
      console.warn(`Quire: ignoring server message (${parsed.problem}):`, data.slice(0, 200));
      return;
    }
    const message = this.asRetried(parsed.message);
    // A snapshot means the server accepted us and our state is whole again: start backoff afresh.
    if (message.type === 'snapshot' && this.status.attempt !== 0) this.setStatus({ state: 'open', attempt: 0 });
    if ((message.type === 'ack' || message.type === 'error') && message.req !== null) this.settle(message);
    for (const listener of this.typeListeners.get(message.type) ?? []) this.deliver(listener, message);
    for (const listener of this.anyListeners) this.deliver(listener, message);
  }

  /** A delete sent again whose first sending was applied finds its cell gone: the outcome it asked for. */
  private asRetried(message: ServerMessage): ServerMessage {
    if (message.type !== 'error' || message.req === null || message.code !== 'not_found') return message;
    if (!this.resent.has(message.req) || this.retryFrames.get(message.req)?.type !== 'delete_cell') return message;
    return { type: 'ack', req: message.req };
  }

  private deliver(listener: Listener<ServerMessage>, message: ServerMessage): void {
    // One broken subscriber must not stop the others from seeing the message.
    try {
      listener(message);
    } catch (error) {
      console.error(`Quire: a ${message.type} listener failed`, error);
    }
  }

  private settle(outcome: RequestOutcome): void {
    if (outcome.req === null) return;
    const resolve = this.pending.get(outcome.req);
    this.pending.delete(outcome.req);
    this.sentOnThisSocket.delete(outcome.req);
    this.retryFrames.delete(outcome.req);
    this.resent.delete(outcome.req);
    this.writes.delete(outcome.req);
    resolve?.(outcome);
  }

  private failPending(reqs: number[]): void {
    for (const req of reqs) {
      this.settle({ type: 'error', req, code: 'connection_lost', message: 'The connection was lost.' });
    }
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status;
    for (const listener of this.connectionListeners) listener(status);
  }
}
