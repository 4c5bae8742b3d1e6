/** REST calls and types of version locks, re-runs and scheduled jobs (runs/ on the server). */
import { type Page, api as baseApi } from './api';

export interface LockedPackage {
  name: string;
  version: string;
  sha256: string | null;
}

export interface VersionLock {
  format: number;
  error?: string;
  python: { environment: string | null; note: string; packages: LockedPackage[] };
  platform_packages: LockedPackage[];
  jvm: { environment: string | null; note: string; artifacts: { name: string; sha256: string }[] };
  spark: { settings: Record<string, string>; clamped: string[] };
  env_names: string[];
  platform: Record<string, string | null>;
}

export interface LockChange {
  section: string;
  name: string;
  before: string | null;
  after: string | null;
}

export interface LockDiff {
  from: number;
  to: number;
  changes: LockChange[];
}

export type RunState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type CellStatus = 'reproduced' | 'differs' | 'failed';

export interface ReportCause {
  kind: 'data' | 'environment' | 'config' | 'nondeterminism' | 'upstream';
  detail: string;
  unverified?: boolean;
}

export interface ReportCell {
  id: string;
  language: string;
  status: CellStatus;
  diff: string[];
  causes: ReportCause[];
  likely_cause: ReportCause['kind'] | null;
}

export interface RunReport {
  summary?: Record<CellStatus, number>;
  lock_changes?: LockChange[];
  version_lock?: 'recorded' | 'missing' | 'error';
  cells?: ReportCell[];
}

export interface RunSummary {
  id: string;
  notebook_id: number;
  notebook_title: string;
  version: number;
  requested_by: string | null;
  parameters: Record<string, unknown>;
  state: RunState;
  reason: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  summary: Record<CellStatus, number> | null;
}

export interface RunDetail extends RunSummary {
  cells: { id: string; state: string; seconds?: number }[];
  report: RunReport;
}

export interface Job {
  id: number;
  notebook_id: number;
  notebook_title: string;
  version: number | null;
  owner: string;
  cron: string;
  parameters: Record<string, unknown>;
  enabled: boolean;
  next_run_at: string;
  last_run: string | null;
  last_error: string;
  created_at: string;
}

export const FINISHED_RUN_STATES: readonly RunState[] = ['done', 'failed', 'cancelled'];

async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> {
  return baseApi.raw<T>(method, url, body);
}

const nb = (id: number): string => `/api/notebooks/${id}/`;

export const runsApi = {
  getLock: (id: number, number: number) => call<VersionLock>('GET', `${nb(id)}versions/${number}/lock/`),
  lockDiff: (id: number, from: number, to: number) => call<LockDiff>('GET', `${nb(id)}lock-diff/?from=${from}&to=${to}`),
  startRun: (id: number, number: number, parameters: Record<string, unknown> = {}) =>
    call<RunDetail>('POST', `${nb(id)}versions/${number}/runs/`, { parameters }),
  listRuns: (id: number) => call<Page<RunSummary>>('GET', `${nb(id)}runs/`),
  // The page shows the report, not the outputs: it polls without them.
  getRun: (runId: string) => call<RunDetail>('GET', `/api/runs/${encodeURIComponent(runId)}/?outputs=0`),
  cancelRun: (runId: string) => call<RunSummary>('POST', `/api/runs/${encodeURIComponent(runId)}/cancel/`),
  listJobs: (id: number) => call<Page<Job>>('GET', `${nb(id)}jobs/`),
  listMyRuns: () => call<Page<RunSummary>>('GET', '/api/runs/'),
  listMyJobs: () => call<Page<Job>>('GET', '/api/jobs/'),
  createJob: (id: number, job: { cron: string; version: number | null; parameters: string[] }) => call<Job>('POST', `${nb(id)}jobs/`, job),
  updateJob: (jobId: number, change: { enabled?: boolean }) => call<Job>('PATCH', `/api/jobs/${jobId}/`, change),
  deleteJob: (jobId: number) => call<void>('DELETE', `/api/jobs/${jobId}/`),
};

export type RunsApi = typeof runsApi;
