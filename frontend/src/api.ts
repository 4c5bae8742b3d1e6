/** The REST calls the pages make, typed; session-authenticated with Django's CSRF header. */
import { csrfToken } from './lib/cookies';
import type { components } from './generated/api';
import type { Cell, Language, Output, Role } from './protocol';

/** The REST schema's types, generated from the server's OpenAPI schema (src/generated/api.ts). */
type Schemas = components['schemas'];
export type ForkOrigin = Schemas['ForkOrigin'];
export type Version = Schemas['Version'];
export type Fork = Schemas['Fork'];
export type Me = Schemas['Me'];
/** `key` only in the reply that created the token. */
export type ApiToken = Schemas['ApiToken'] & { key?: string };

export interface NotebookSummary {
  id: number;
  title: string;
  owner: string;
  team?: string | null;
  revision?: number;
  created_at?: string;
  updated_at: string;
  role?: Role | null;
}

export interface NotebookList {
  results: NotebookSummary[];
  count: number;
  next?: string | null;
  previous?: string | null;
}

export interface NotebookDetail {
  id: number;
  title: string;
  revision: number;
  cells: Cell[];
  config: Record<string, unknown>;
  role?: Role;
  forked_from?: ForkOrigin | null;
  head_version?: number | null;
}

export type DiffChange = 'added' | 'removed' | 'moved' | 'source' | 'outputs' | 'metadata' | 'unchanged';

export interface DiffCell {
  cell_id: string;
  change: DiffChange;
  changes?: string[];
  from_index: number | null;
  to_index: number | null;
  from_source: string | null;
  to_source: string | null;
  from_language?: Language | null;
  to_language?: Language | null;
}

export interface NotebookDiff {
  cells: DiffCell[];
  config_changed: boolean;
  config: { from: unknown; to: unknown };
}

export interface Grant {
  id: number;
  user: string | null;
  team: string | null;
  role: Role;
}

export interface Team {
  name: string;
  slug: string;
  members: unknown[];
}

export interface QuotaReport {
  limits: Record<string, number | boolean | null>;
  usage: Record<string, number>;
}

/** A package repository: Maven- or Ivy-layout base URL for JVM dependencies, or a pip index / folder of wheels. */
export type Repository = { maven: { base: string } } | { ivy: { base: string } } | { pip: { url: string } };

/** A notebook's configuration as the config endpoint returns it (every section present; other keys kept). */
export interface NotebookConfig {
  dependencies: { python: string[]; scala: string[]; [other: string]: unknown };
  repositories: Repository[];
  exclusions: string[];
  sparkConfig: Record<string, string>;
  env: Record<string, string>;
  useSpark: boolean;
  [other: string]: unknown;
}

export type EnvironmentBuildState = 'building' | 'ready' | 'failed' | 'missing';

export interface EnvironmentBuild {
  key: string;
  state: EnvironmentBuildState;
  error?: string;
  log_tail?: string;
  build_seconds?: number | null;
  spec?: unknown;
}

/** One kind of environment: the one the config asks for, the one a kernel would start in now, and what that holds. */
export interface EnvironmentStatus {
  wanted: EnvironmentBuild | null;
  in_use: { key: string; state: string } | null;
  resolved: string[];
}

export interface ConfigView {
  revision: number;
  config: NotebookConfig;
  environment: { python?: EnvironmentStatus | null; jvm?: EnvironmentStatus | null };
}

export type ListFilter = 'all' | 'mine' | 'shared' | 'team';

/** One page of a cell's output `n` (GET …/cells/<cell>/outputs/<n>/?offset=&limit=): a slice of a stream's text
 * in characters, or a rich output whole. */
export interface OutputPage {
  n: number;
  outputs_total: number;
  output_type: Output['output_type'];
  name?: 'stdout' | 'stderr';
  offset: number;
  text?: string;
  next_offset: number | null;
  total: number;
  output?: Output;
}

/** A running kernel the caller started (GET /api/kernels/); memory and CPU as of its host's last heartbeat. */
export interface RunningKernel {
  id: string;
  notebook_id: number;
  notebook_title: string;
  started_by: string | null;
  state: 'starting' | 'idle' | 'busy';
  reason: string;
  memory_bytes: number | null;
  cpu_seconds: number | null;
  started_at: string;
  ready_at: string | null;
  last_activity_at: string | null;
}

/** One page of a list endpoint (`?limit=&offset=`, at most the server's maximum page size). */
export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** A list as a caller may hand it over: a page from the server, or the items themselves. */
export type Listed<T> = T[] | { results: T[] };

/** A page of running kernels, with the caller's kernel limit beside it. */
export interface RunningKernels extends Page<RunningKernel> {
  max_kernels: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const isForm = typeof FormData !== 'undefined' && body instanceof FormData;
  if (body !== undefined && !isForm) headers['Content-Type'] = 'application/json';
  if (!SAFE_METHODS.has(method)) headers['X-CSRFToken'] = csrfToken();
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? null : isForm ? body : JSON.stringify(body),
  });
  if (!response.ok) {
    const { message, data } = await errorOf(response);
    throw new ApiError(response.status, message, data);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** DRF puts its reason in "detail" (or per field); fall back to the status line. */
async function errorOf(response: Response): Promise<{ message: string; data: unknown }> {
  let data: unknown = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (typeof data === 'object' && data !== null) {
    const record = data as Record<string, unknown>;
    if (typeof record.detail === 'string') return { message: record.detail, data };
    const first = Object.entries(record).find(([, value]) => typeof value === 'string' || Array.isArray(value));
    if (first) return { message: `${first[0]}: ${Array.isArray(first[1]) ? first[1].join(' ') : String(first[1])}`, data };
  }
  return { message: `${response.status} ${response.statusText}`.trim(), data };
}

const nb = (id: number): string => `/api/notebooks/${id}/`;

/** The URL of the notebooks list for a search, filter and team. */
export function notebooksUrl(query: { q?: string; filter?: ListFilter; team?: string } = {}): string {
  const params = new URLSearchParams();
  if (query.q) params.set('q', query.q);
  if (query.filter && query.filter !== 'all') params.set('filter', query.filter);
  if (query.filter === 'team' && query.team) params.set('team', query.team);
  const search = params.toString();
  return `/api/notebooks/${search ? `?${search}` : ''}`;
}

export function exportUrl(id: number, version?: number): string {
  return `${nb(id)}export/${version === undefined ? '' : `?version=${version}`}`;
}

export const api = {
  /** Any JSON endpoint, with the same CSRF and error handling (modules with endpoints of their own use it). */
  raw: <T>(method: string, url: string, body?: unknown) => request<T>(method, url, body),
  listNotebooks: (query: { q?: string; filter?: ListFilter; team?: string } = {}) => request<NotebookList>('GET', notebooksUrl(query)),
  createNotebook: (title: string, team?: string) =>
    request<NotebookSummary>('POST', '/api/notebooks/', team ? { title, team } : { title }),
  // Each output's head, as the live snapshot has it: the page reads the rest of an output on demand.
  getNotebook: (id: number) => request<NotebookDetail>('GET', `${nb(id)}?outputs=heads`),
  renameNotebook: (id: number, title: string) => request<NotebookSummary>('PATCH', nb(id), { title }),
  deleteNotebook: (id: number) => request<void>('DELETE', nb(id)),
  importNotebook: (file: File, team?: string) => {
    const form = new FormData();
    form.append('file', file);
    if (team) form.append('team', team);
    return request<NotebookSummary>('POST', '/api/notebooks/import/', form);
  },

  listVersions: (id: number) => request<Page<Version>>('GET', `${nb(id)}versions/`),
  saveVersion: (id: number, message: string) =>
    request<Version | { unchanged: true; version: Version }>('POST', `${nb(id)}versions/`, { message }),
  diff: (id: number, from: number | 'draft', to: number | 'draft') =>
    request<NotebookDiff>('GET', `${nb(id)}diff/?from=${from}&to=${to}`),
  restoreVersion: (id: number, number: number) =>
    request<{ revision: number; version: Version }>('POST', `${nb(id)}versions/${number}/restore/`),
  forkVersion: (id: number, number: number, title?: string) =>
    request<NotebookSummary>('POST', `${nb(id)}versions/${number}/fork/`, title ? { title } : {}),
  listForks: (id: number) => request<Page<Fork>>('GET', `${nb(id)}forks/`),

  getConfig: (id: number) => request<ConfigView>('GET', `${nb(id)}config/`),
  putConfig: (id: number, config: NotebookConfig) => request<ConfigView>('PUT', `${nb(id)}config/`, { config }),
  rebuildConfig: (id: number) => request<ConfigView>('POST', `${nb(id)}config/rebuild/`),

  outputPage: (id: number, cellId: string, n: number, offset = 0) =>
    request<OutputPage>('GET', `${nb(id)}cells/${encodeURIComponent(cellId)}/outputs/${n}/?offset=${offset}`),

  listGrants: (id: number) => request<Page<Grant>>('GET', `${nb(id)}grants/`),
  addGrant: (id: number, who: { user: string } | { team: string }, role: Role) =>
    request<Grant>('POST', `${nb(id)}grants/`, { ...who, role }),
  changeGrant: (id: number, grantId: number, role: Role) => request<Grant>('PATCH', `${nb(id)}grants/${grantId}/`, { role }),
  removeGrant: (id: number, grantId: number) => request<void>('DELETE', `${nb(id)}grants/${grantId}/`),

  me: () => request<Me>('GET', '/api/me/'),
  quota: () => request<QuotaReport>('GET', '/api/me/quota/'),
  listKernels: () => request<RunningKernels>('GET', '/api/kernels/'),
  shutdownKernel: (id: string) => request<{ stopping: boolean }>('POST', `/api/kernels/${encodeURIComponent(id)}/shutdown/`),
  listTokens: () => request<Page<ApiToken>>('GET', '/api/tokens/'),
  createToken: (name: string) => request<ApiToken>('POST', '/api/tokens/', { name }),
  deleteToken: (id: number) => request<void>('DELETE', `/api/tokens/${id}/`),
  listTeams: () => request<Page<Team>>('GET', '/api/teams/'),
};

/** Every list endpoint answers a page; callers (and the tests' fakes, which hand over items) want the items. */
export function itemsOf<T>(list: Listed<T>): T[] {
  return Array.isArray(list) ? list : list.results;
}
