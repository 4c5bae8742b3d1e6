/**
 * The notebook WebSocket protocol (version 1): message types, parsing, and the client that speaks it.
 *
 * This is the only module that builds or reads raw protocol messages; components call the
 * client's send helpers and subscribe to typed events.
 */

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Shared value types

export const LANGUAGES = ['python', 'scala', 'sql', 'vega', 'text'] as const;
export type Language = (typeof LANGUAGES)[number];

export const KERNEL_STATES = ['not_started', 'starting', 'idle', 'busy', 'dead', 'stopped'] as const;
export type KernelState = (typeof KERNEL_STATES)[number];

export const CELL_STATES = ['queued', 'running', 'done', 'error', 'interrupted'] as const;
export type CellState = (typeof CELL_STATES)[number];

export type Role = 'viewer' | 'runner' | 'editor' | 'owner';

/** A MIME bundle; nbformat allows a text value to arrive split into a list of lines. */
export type MimeBundle = Record<string, unknown>;

/** Set on an output the server sent only the head of: its index among the cell's outputs (what its pages are read
 * by) and, once the run is stored, its full size in characters (and lines, for text). */
export interface OutputMore {
  n: number;
  chars?: number;
  lines?: number;
}

export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: string;
  more?: OutputMore;
}

export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  more?: OutputMore;
}

export interface ExecuteResultOutput {
  output_type: 'execute_result';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count?: number | null;
  more?: OutputMore;
}

export interface ErrorPosition {
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  message: string;
}

export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
  positions?: ErrorPosition[];
  more?: OutputMore;
}

export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** A display_data output may carry the id its later updates name (IPython's display_id). */
export interface Transient {
  transient?: { display_id?: string };
}

/** Replaces the data of the outputs shown under `transient.display_id` (the kernel's update_display_data). */
export interface UpdateDisplayData extends Transient {
  output_type: 'update_display_data';
  data: MimeBundle;
  metadata?: Record<string, unknown>;
}

/** Empties the cell's outputs so far (clear_output; the kernel sends it when a wait=True clear takes effect). */
export interface ClearOutput {
  output_type: 'clear_output';
  wait?: boolean;
}

/** What a live `output` message carries: a new output, or a change to those shown (never stored as such). */
export type OutputChange = Output | UpdateDisplayData | ClearOutput;

/** A running cell's question to the person who ran it (input(), getpass()), waiting for their answer. */
export interface PendingInput {
  exec_id: string;
  prompt: string;
  /** getpass(): the answer is typed masked. */
  password: boolean;
  /** Who ran the cell: the only one whose answer the kernel takes. */
  username: string;
}

export interface Cell {
  id: string;
  language: Language;
  source: string;
  outputs: Output[];
  /** How many outputs the cell has; more than `outputs` holds when the snapshot's budget left some out. */
  outputs_total?: number;
  /** The state of the cell's latest run, if it ever ran. */
  state?: CellState | null;
  /** The symbols the cell's latest run defined. */
  symbols?: SymbolInfo[];
  /** A cell above was run again since this cell's latest run, and changed something it reads. */
  stale?: boolean;
  /** Jupyter's `[n]`: when the run it shows started, in its kernel session; null when unknown or cleared. */
  execution_count?: number | null;
  /** Stored with the cell: tags, what its .ipynb file held, and which parts are hidden (see `hiddenParts`). */
  metadata?: Record<string, unknown>;
}

/** The parts of a cell that can be hidden, for everyone (`set_hidden`). */
export type HiddenPart = 'source' | 'outputs';

export interface NotebookSnapshot {
  id: number;
  title: string;
  revision: number;
  cells: Cell[];
  /** The cells' sources as a Yjs document (a map `sources` of Y.Text by cell id), base64. */
  ydoc?: string;
}

export interface SymbolInfo {
  name: string;
  language: string;
  type: string;
  repr: string;
}

// ---------------------------------------------------------------------------------------------
// Client → server

interface Envelope {
  v: typeof PROTOCOL_VERSION;
  req: number;
}

export type ClientMessage = Envelope &
  (
    | { type: 'insert_cell'; index: number; cell: { id: string; language: Language; source: string } }
    | { type: 'update_cell'; cell_id: string; source: string }
    | { type: 'edit_source'; cell_id: string; update: string }
    | { type: 'set_language'; cell_id: string; language: Language }
    | { type: 'delete_cell'; cell_id: string }
    | { type: 'move_cell'; cell_id: string; index: number }
    | { type: 'clear_outputs'; cell_id: string | null }
    | { type: 'set_hidden'; cell_id: string; part: HiddenPart; hidden: boolean }
    | { type: 'run_cell'; cell_id: string }
    | { type: 'interrupt' }
    | { type: 'run_all' }
    | { type: 'run_from'; cell_id: string }
    | { type: 'run_stale' }
    | { type: 'restart' }
    | { type: 'shutdown' }
    | { type: 'input_reply'; cell_id: string; exec_id: string; value: string }
    | { type: 'complete'; cell_id: string; language: Language; source: string; pos: number }
    | { type: 'signature'; cell_id: string; language: Language; source: string; pos: number }
    | { type: 'hover'; cell_id: string; language: Language; source: string; pos: number }
    | { type: 'check'; cell_id: string; language: Language; source: string }
    | { type: 'table_page'; cell_id: string; ref: string; offset: number; page_size: number }
    | { type: 'focus'; cell_id: string | null }
    | { type: 'inspect_scope'; cell_id: string }
    | { type: 'explore'; cell_id: string; ref?: string; name?: string; op: ExploreOp; args: Record<string, unknown> }
  );

/** What `explore` may ask of the kernel about a value (docs/protocol.md). */
export type ExploreOp = 'inspect' | 'page' | 'summary' | 'count' | 'csv' | 'parquet' | 'plot';
/** The value an `explore` names: a table output by its ref, or a symbol as the request's cell sees it. */
export type ExploreTarget = { ref: string } | { name: string };

/** A notification: sent without `req`, so nothing answers it unless the server refuses it. */
export type ClientNotification = { v: typeof PROTOCOL_VERSION } & (
  | { type: 'cursor'; cell_id: string; anchor: string; head: string }
  | { type: 'cursor'; cell_id: null }
);

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

export interface SnapshotMessage {
  type: 'snapshot';
  notebook: NotebookSnapshot;
  /** `reason`: why a starting kernel is not up yet (it waits for a free kernel host). */
  kernel: { state: KernelState; reason?: string };
  you: { username: string; role: Role };
}
export interface AckMessage {
  type: 'ack';
  req: number;
  [extra: string]: unknown;
}
export interface ErrorMessage {
  type: 'error';
  req: number | null;
  code: string;
  message: string;
}
/** Any draft change may carry the Yjs update (base64) that brought the sources' document along. */
interface CarriesYdocUpdate {
  ydoc_update?: string;
}
export interface CellInsertedMessage extends CarriesYdocUpdate {
  type: 'cell_inserted';
  index: number;
  cell: Cell;
}
export interface CellUpdatedMessage extends CarriesYdocUpdate {
  type: 'cell_updated';
  cell_id: string;
  source: string;
  revision: number;
}
export interface CellLanguageMessage extends CarriesYdocUpdate {
  type: 'cell_language';
  cell_id: string;
  language: Language;
}
export interface CellDeletedMessage extends CarriesYdocUpdate {
  type: 'cell_deleted';
  cell_id: string;
}
export interface CellMovedMessage extends CarriesYdocUpdate {
  type: 'cell_moved';
  cell_id: string;
  index: number;
}
/** The outputs these cells show were cleared (one cell, or every cell). */
export interface OutputsClearedMessage {
  type: 'outputs_cleared';
  cell_ids: string[];
  revision: number;
}
/** A cell's code or output was hidden or shown again, for everyone. */
export interface CellHiddenMessage {
  type: 'cell_hidden';
  cell_id: string;
  part: HiddenPart;
  hidden: boolean;
  revision: number;
}
export interface KernelStatusMessage {
  type: 'kernel_status';
  state: KernelState;
  /** Why the kernel stopped or died, when the server knows. */
  reason?: string;
}
export interface CellStatusMessage {
  type: 'cell_status';
  cell_id: string;
  state: CellState;
  /** On `running`: the run's `[n]` in its kernel session. */
  execution_count?: number;
  /** The cell's final outputs, when the server rewrote them (e.g. the kernel died mid-run). */
  outputs?: Output[];
  outputs_total?: number;
}
export interface NotebookRenamedMessage {
  type: 'notebook_renamed';
  title: string;
}
export interface StatementMessage {
  type: 'statement';
  cell_id: string;
  line_start: number;
  line_end: number;
}
export interface OutputMessage {
  type: 'output';
  cell_id: string;
  output: OutputChange;
}
/** A running cell asks for a line (see PendingInput); it stands until `input_done` or the cell's end. */
export interface InputRequestMessage extends PendingInput {
  type: 'input_request';
  cell_id: string;
}
/** The request was answered, or its cell ended. */
export interface InputDoneMessage {
  type: 'input_done';
  cell_id: string;
  exec_id: string;
}
export interface PresenceUser {
  username: string;
  cell_id: string | null;
}
export interface PresenceMessage {
  type: 'presence';
  users: PresenceUser[];
}
/** An environment the queued runs wait for: their kernel starts once it is built. */
export interface BuildingEnvironment {
  kind: EnvironmentKind;
  key: string;
}
export interface TasksMessage {
  type: 'tasks';
  /** Queued cell ids, next to run first. */
  queue: string[];
  running: string | null;
  /** The notebook's environments still building, which the queue waits for (absent: it waits for none). */
  building?: BuildingEnvironment[];
}
export interface SparkStage {
  stage_id: number;
  name: string;
  done: number;
  total: number;
  failed: number;
}
export interface SparkJob {
  job_id: number;
  status: string;
  stages: SparkStage[];
}
export interface SparkProgressMessage {
  type: 'spark_progress';
  cell_id: string;
  jobs: SparkJob[];
  ui_url: string | null;
  /** Why there is no Spark UI to link to. */
  ui_note?: string | null;
}
/** Sent after connecting: a cell the kernel is running or has queued now, with its outputs so far, or one it
 * has just finished (then with its symbols too). */
export interface CellSyncMessage {
  type: 'cell_sync';
  cell_id: string;
  state: CellState;
  outputs: Output[];
  outputs_total?: number;
  symbols?: SymbolInfo[];
  /** The cell's question still waiting for an answer; absent when none is. */
  input_request?: PendingInput;
  /** The run's `[n]`, once it started. */
  execution_count?: number | null;
}
export interface DraftReplacedMessage extends CarriesYdocUpdate {
  type: 'draft_replaced';
  revision: number;
}
export interface CellResultMessage {
  type: 'cell_result';
  cell_id: string;
  symbols: SymbolInfo[];
  stale: string[];
}

/** Cells a run made stale (a cell above rebound something they read): they show it until they run again. */
export interface CellsStaleMessage {
  type: 'cells_stale';
  cell_ids: string[];
}
/** What this person may do here changed (a share, a team, a role): `you` says who they are now. */
export interface GrantsChangedMessage {
  type: 'grants_changed';
  you: { username: string; role: Role };
}
export interface VersionSavedMessage {
  type: 'version_saved';
  number: number;
}
/** The notebook was deleted; the server closes the connection next. */
export interface NotebookDeletedMessage {
  type: 'notebook_deleted';
}
/** Broadcasts about this notebook were lost on the server's side: the notebook follows again, as on connecting. */
export interface ResyncMessage {
  type: 'resync';
}
/** Another editor's caret and selection (Yjs relative positions, base64), or, with no cell, that it is gone. */
export interface CursorMessage {
  type: 'cursor';
  /** Their connection: the same for all of one connection's carets. */
  conn: string;
  username: string;
  cell_id: string | null;
  anchor?: string;
  head?: string;
}

export type EnvironmentKind = 'python' | 'jvm';
/** What an environment of each kind holds, as the user reads it. */
export const ENVIRONMENT_LABELS: Record<EnvironmentKind, string> = { python: 'Python packages', jvm: 'JVM dependencies' };
export type EnvironmentState = 'building' | 'ready' | 'failed' | 'missing';
/** The notebook's configuration was replaced; a running kernel keeps its old environment. */
export interface ConfigChangedMessage {
  type: 'config_changed';
  revision: number;
  restart_needed: boolean;
}
/** An environment build's progress (at most two a second) and its outcome. */
export interface EnvironmentMessage {
  type: 'environment';
  kind: EnvironmentKind;
  key: string;
  state: EnvironmentState;
  log_tail: string;
  error?: string;
}
/** A kernel started without its wanted environment (still building, or failed). */
export interface EnvironmentNoticeMessage {
  type: 'environment_notice';
  kind: EnvironmentKind;
  key: string;
  state: EnvironmentState;
  using: string;
  message: string;
}
/** Something the user should know (e.g. the quota lowered a Spark setting). */
export interface NoticeMessage {
  type: 'notice';
  level: string;
  message: string;
}

export type ServerMessage =
  | SnapshotMessage
  | AckMessage
  | ErrorMessage
  | CellInsertedMessage
  | CellUpdatedMessage
  | CellLanguageMessage
  | CellDeletedMessage
  | CellMovedMessage
  | OutputsClearedMessage
  | CellHiddenMessage
  | KernelStatusMessage
  | CellStatusMessage
  | StatementMessage
  | OutputMessage
  | CellResultMessage
  | NotebookRenamedMessage
  | PresenceMessage
  | TasksMessage
  | SparkProgressMessage
  | DraftReplacedMessage
  | CellSyncMessage
  | ConfigChangedMessage
  | EnvironmentMessage
  | EnvironmentNoticeMessage
  | NoticeMessage
  | CellsStaleMessage
  | GrantsChangedMessage
  | VersionSavedMessage
  | NotebookDeletedMessage
  | ResyncMessage
  | CursorMessage
  | InputRequestMessage
  | InputDoneMessage;

export type ServerMessageType = ServerMessage['type'];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Parsing: the server is trusted to be well-meaning, not to be bug-free or the same version.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const oneOf =
  <T extends string>(values: readonly T[]) =>
  (v: unknown): v is T =>
    typeof v === 'string' && (values as readonly string[]).includes(v);

const isLanguage = oneOf(LANGUAGES);
const isKernelState = oneOf(KERNEL_STATES);
const isCellState = oneOf(CELL_STATES);
const isRole = oneOf(['viewer', 'runner', 'editor', 'owner'] as const);
const isHiddenPart = oneOf(['source', 'outputs'] as const);
const isEnvKind = oneOf(['python', 'jvm'] as const);
const isEnvState = oneOf(['building', 'ready', 'failed', 'missing'] as const);
const optionalString = (v: unknown): boolean => v === undefined || isString(v);
/** Validates a message and its optional `ydoc_update`. */
const withYdoc =
  (check: (m: Json) => boolean) =>
  (m: Json): boolean =>
    optionalString(m.ydoc_update) && check(m);

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const optionalCount = (v: unknown): boolean => v === undefined || isCount(v);
const optionalCountOrNull = (v: unknown): boolean => v === null || optionalCount(v);

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

function isPendingInput(v: unknown): v is PendingInput {
  return isObject(v) && isString(v.exec_id) && isString(v.prompt) && typeof v.password === 'boolean' && isString(v.username);
}

function isCell(v: unknown): v is Cell {
  return (
    isObject(v) &&
    isString(v.id) &&
    isLanguage(v.language) &&
    isString(v.source) &&
    Array.isArray(v.outputs) &&
    v.outputs.every(isOutput) &&
    optionalCount(v.outputs_total) &&
    (v.state === undefined || v.state === null || isCellState(v.state)) &&
    (v.symbols === undefined || (Array.isArray(v.symbols) && v.symbols.every(isSymbol))) &&
    (v.stale === undefined || typeof v.stale === 'boolean') &&
    (v.metadata === undefined || isObject(v.metadata)) &&
    optionalCountOrNull(v.execution_count)
  );
}

function isSymbol(v: unknown): v is SymbolInfo {
  return isObject(v) && isString(v.name) && isString(v.language) && isString(v.type) && isString(v.repr);
}

const validators: { [K in ServerMessageType]: (m: Json) => boolean } = {
  snapshot: (m) =>
    isObject(m.notebook) &&
    isInt(m.notebook.id) &&
    isString(m.notebook.title) &&
    isInt(m.notebook.revision) &&
    Array.isArray(m.notebook.cells) &&
    m.notebook.cells.every(isCell) &&
    optionalString(m.notebook.ydoc) &&
    isObject(m.kernel) &&
    isKernelState(m.kernel.state) &&
    isObject(m.you) &&
    isString(m.you.username) &&
    isRole(m.you.role),
  ack: (m) => isInt(m.req),
  error: (m) => (m.req === null || isInt(m.req)) && isString(m.code) && isString(m.message),
  cell_inserted: withYdoc((m) => isInt(m.index) && isCell(m.cell)),
  cell_updated: withYdoc((m) => isString(m.cell_id) && isString(m.source) && isInt(m.revision)),
  cell_language: withYdoc((m) => isString(m.cell_id) && isLanguage(m.language)),
  cell_deleted: withYdoc((m) => isString(m.cell_id)),
  cell_moved: withYdoc((m) => isString(m.cell_id) && isInt(m.index)),
  outputs_cleared: withYdoc((m) => isStringArray(m.cell_ids) && isInt(m.revision)),
  cell_hidden: (m) => isString(m.cell_id) && isHiddenPart(m.part) && typeof m.hidden === 'boolean' && isInt(m.revision),
  kernel_status: (m) => isKernelState(m.state) && (m.reason === undefined || isString(m.reason)),
  cell_status: (m) =>
    isString(m.cell_id) && isCellState(m.state) && (m.outputs === undefined || (Array.isArray(m.outputs) && m.outputs.every(isOutput))) &&
    optionalCount(m.outputs_total) && optionalCount(m.execution_count),
  statement: (m) => isString(m.cell_id) && isInt(m.line_start) && isInt(m.line_end),
  output: (m) => isString(m.cell_id) && isOutputChange(m.output),
  cell_result: (m) =>
    isString(m.cell_id) && Array.isArray(m.symbols) && m.symbols.every(isSymbol) && isStringArray(m.stale),
  notebook_renamed: (m) => isString(m.title),
  presence: (m) =>
    Array.isArray(m.users) &&
    m.users.every((u) => isObject(u) && isString(u.username) && (u.cell_id === null || u.cell_id === undefined || isString(u.cell_id))),
  tasks: (m) =>
    isStringArray(m.queue) &&
    (m.running === null || m.running === undefined || isString(m.running)) &&
    (m.building === undefined || (Array.isArray(m.building) && m.building.every((b) => isObject(b) && isEnvKind(b.kind) && isString(b.key)))),
  spark_progress: (m) =>
    isString(m.cell_id) &&
    Array.isArray(m.jobs) &&
    m.jobs.every(isSparkJob) &&
    (m.ui_url === null || m.ui_url === undefined || isString(m.ui_url)) &&
    (m.ui_note === null || m.ui_note === undefined || isString(m.ui_note)),
  draft_replaced: withYdoc((m) => isInt(m.revision)),
  config_changed: (m) => isInt(m.revision) && typeof m.restart_needed === 'boolean',
  environment: (m) => isEnvKind(m.kind) && isString(m.key) && isEnvState(m.state) && isString(m.log_tail) && optionalString(m.error),
  environment_notice: (m) => isEnvKind(m.kind) && isString(m.key) && isEnvState(m.state) && isString(m.using) && isString(m.message),
  notice: (m) => isString(m.level) && isString(m.message),
  cell_sync: (m) =>
    isString(m.cell_id) && isCellState(m.state) && Array.isArray(m.outputs) && m.outputs.every(isOutput) &&
    optionalCount(m.outputs_total) &&
    (m.symbols === undefined || (Array.isArray(m.symbols) && m.symbols.every(isSymbol))) &&
    (m.input_request === undefined || isPendingInput(m.input_request)) &&
    optionalCountOrNull(m.execution_count),
  cells_stale: (m) => isStringArray(m.cell_ids),
  grants_changed: (m) => isObject(m.you) && isString(m.you.username) && isRole(m.you.role),
  version_saved: (m) => isInt(m.number),
  notebook_deleted: () => true,
  resync: () => true,
  cursor: (m) =>
    isString(m.conn) &&
    isString(m.username) &&
    (m.cell_id === null ? m.anchor === undefined && m.head === undefined : isString(m.cell_id) && isString(m.anchor) && isString(m.head)),
  input_request: (m) => isString(m.cell_id) && isPendingInput(m),
  input_done: (m) => isString(m.cell_id) && isString(m.exec_id),
};

/** Every message type the client reads (besides `chunk`, joined before reading): the server's list, checked by
 * frontend/tests/protocolContract.test.ts against src/serverMessageTypes.json. */
export const SERVER_MESSAGE_TYPES = Object.keys(validators) as ServerMessageType[];

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isSparkJob(v: unknown): boolean {
  return (
    isObject(v) &&
    isInt(v.job_id) &&
    isString(v.status) &&
    Array.isArray(v.stages) &&
    v.stages.every((s) => isObject(s) && isInt(s.stage_id) && isString(s.name) && isNumber(s.done) && isNumber(s.total))
  );
}

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
