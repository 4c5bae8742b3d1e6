/**
 * The history panel's runs: a version's lock and what changed between two locks, re-running a version, the
 * notebook's runs, and a run's reproducibility report (each cell reproduced, differs or failed, with its diff and
 * likely cause). A run that is not over is polled until it is, and can be cancelled.
 */
import { h } from '../lib/dom';
import type { NoticeKind } from '../notices';
import {
  FINISHED_RUN_STATES,
  type LockDiff,
  type ReportCell,
  type RunDetail,
  type RunSummary,
  type RunsApi,
  type VersionLock,
  runsApi,
} from '../runsApi';
import { itemsOf } from '../api';

export interface RunsSectionOptions {
  notebookId: number;
  api?: RunsApi;
  notify: (text: string, kind?: NoticeKind) => void;
  /** How often a run that is not over is read again (ms). */
  pollMs?: number;
}

const STATUS_LABELS: Record<ReportCell['status'], string> = { reproduced: 'reproduced', differs: 'differs', failed: 'failed' };
const CAUSE_LABELS: Record<string, string> = {
  data: 'data changed',
  environment: 'environment changed',
  config: 'config changed',
  nondeterminism: 'nondeterminism',
  upstream: 'upstream cell differed',
};

function table(rows: [string, string][], testId: string): HTMLTableElement {
  return h('table', { className: 'lock-table', testId }, ...rows.map(([k, v]) => h('tr', {}, h('th', { text: k }), h('td', { text: v }))));
}

export function LockView(lock: VersionLock): HTMLElement {
  if (lock.error) return h('p', { className: 'form-error', testId: 'lock-view', text: lock.error });
  const platform = Object.entries(lock.platform).map(([k, v]): [string, string] => [k, v ?? 'none']);
  const packages = lock.python.packages.map((p): [string, string] => [p.name, `${p.version}  sha256 ${(p.sha256 ?? '').slice(0, 12)}`]);
  const jars = lock.jvm.artifacts.map((a): [string, string] => [a.name, `sha256 ${a.sha256.slice(0, 12)}`]);
  const spark = Object.entries(lock.spark.settings).map(([k, v]): [string, string] => [k, v]);
  return h(
    'div',
    { className: 'lock-view', testId: 'lock-view' },
    h('h4', { text: 'Platform' }),
    table(platform, 'lock-platform'),
    h('h4', { text: `Python packages (${lock.python.environment ?? 'base environment'})` }),
    lock.python.note ? h('p', { className: 'muted', text: lock.python.note }) : null,
    packages.length ? table(packages, 'lock-packages') : h('p', { className: 'muted', text: 'No packages of its own.' }),
    h(
      'details',
      {},
      h('summary', { text: `${lock.platform_packages.length} platform packages` }),
      table(lock.platform_packages.map((p): [string, string] => [p.name, p.version]), 'lock-platform-packages'),
    ),
    jars.length ? h('h4', { text: 'JVM artifacts' }) : null,
    jars.length ? table(jars, 'lock-jars') : null,
    h('h4', { text: 'Spark settings' }),
    table(spark, 'lock-spark'),
    ...lock.spark.clamped.map((note) => h('p', { className: 'muted', text: note })),
    h('h4', { text: 'Environment variables' }),
    h('p', { className: lock.env_names.length ? '' : 'muted', text: lock.env_names.length ? lock.env_names.join(', ') : 'none' }),
  );
}

export function LockDiffView(diff: LockDiff): HTMLElement {
  if (diff.changes.length === 0) return h('p', { className: 'muted', testId: 'lock-diff', text: `The environment of v${diff.from} and v${diff.to} is the same.` });
  return h(
    'table',
    { className: 'lock-table', testId: 'lock-diff' },
    h('tr', {}, h('th', { text: 'what' }), h('th', { text: `v${diff.from}` }), h('th', { text: `v${diff.to}` })),
    ...diff.changes.map((c) => h('tr', {}, h('td', { text: `${c.section}: ${c.name}` }), h('td', { text: c.before ?? '—' }), h('td', { text: c.after ?? '—' }))),
  );
}

export function RunReportView(run: RunDetail): HTMLElement {
  const cells = run.report.cells ?? [];
  const summary = run.report.summary;
  return h(
    'div',
    { className: 'run-report', testId: 'run-report' },
    summary ? h('p', { testId: 'run-summary', text: `${summary.reproduced} reproduced · ${summary.differs} differ · ${summary.failed} failed` }) : null,
    run.report.version_lock === 'missing' ? h('p', { className: 'muted', text: 'This version was saved without a lock: environment changes cannot be named.' }) : null,
    ...cells.map((cell) =>
      h(
        'section',
        { className: `report-cell report-${cell.status}`, testId: 'report-cell', dataset: { cellId: cell.id, status: cell.status } },
        h(
          'header',
          {},
          h('span', { className: `change-badge status-${cell.status}`, text: STATUS_LABELS[cell.status] }),
          h('code', { text: cell.id }),
          cell.likely_cause ? h('span', { className: 'likely-cause', testId: 'likely-cause', text: CAUSE_LABELS[cell.likely_cause] ?? cell.likely_cause }) : null,
        ),
        ...cell.causes.map((cause) => h('p', { className: 'muted cause', text: `${CAUSE_LABELS[cause.kind] ?? cause.kind}${cause.unverified ? ' (unverified)' : ''}: ${cause.detail}` })),
        cell.diff.length
          ? h(
              'pre',
              { className: 'source-diff' },
              ...cell.diff.map((line) => h('div', { className: `diff-line ${line.startsWith('+') && !line.startsWith('+++') ? 'diff-added' : line.startsWith('-') && !line.startsWith('---') ? 'diff-removed' : 'diff-same'}`, text: line })),
            )
          : null,
      ),
    ),
  );
}

export class RunsSection {
  readonly element = h('div', { className: 'runs-section', testId: 'runs-section' });
  private readonly detail = h('div', { className: 'run-detail', testId: 'run-detail' });
  private readonly list = h('ul', { className: 'run-list', testId: 'run-list' });
  private readonly api: RunsApi;
  private watching: string | null = null;

  constructor(private readonly options: RunsSectionOptions) {
    this.api = options.api ?? runsApi;
    this.element.append(this.detail, h('h4', { text: 'Runs of this notebook' }), this.list);
  }

  async refresh(): Promise<void> {
    try {
      const runs = itemsOf(await this.api.listRuns(this.options.notebookId));
      this.renderList(runs.slice(0, 20));
    } catch (error) {
      this.list.replaceChildren(h('li', { className: 'form-error', text: `Could not load the runs: ${(error as Error).message}` }));
    }
  }

  async showLock(number: number): Promise<void> {
    this.detail.replaceChildren(h('p', { className: 'muted', text: `Reading the lock of v${number}…` }));
    try {
      this.detail.replaceChildren(h('h4', { text: `Lock of v${number}` }), LockView(await this.api.getLock(this.options.notebookId, number)));
    } catch (error) {
      this.detail.replaceChildren(h('p', { className: 'form-error', text: `Could not read the lock: ${(error as Error).message}` }));
    }
  }

  async showLockDiff(from: number, to: number): Promise<void> {
    try {
      this.detail.replaceChildren(h('h4', { text: `Environment v${from} → v${to}` }), LockDiffView(await this.api.lockDiff(this.options.notebookId, from, to)));
    } catch (error) {
      this.detail.replaceChildren(h('p', { className: 'form-error', text: `Could not compare the environments: ${(error as Error).message}` }));
    }
  }

  async rerun(number: number): Promise<void> {
    try {
      const run = await this.api.startRun(this.options.notebookId, number);
      this.options.notify(`Re-running version ${number}.`, 'info');
      await this.watch(run.id);
    } catch (error) {
      this.options.notify(`Could not re-run version ${number}: ${(error as Error).message}`);
    }
  }

  /** Shows a run, reading it again until it is over. */
  async watch(runId: string): Promise<void> {
    this.watching = runId;
    for (;;) {
      let run: RunDetail;
      try {
        run = await this.api.getRun(runId);
      } catch (error) {
        this.detail.replaceChildren(h('p', { className: 'form-error', text: `Could not read the run: ${(error as Error).message}` }));
        return;
      }
      if (this.watching !== runId) return;
      this.renderRun(run);
      if (FINISHED_RUN_STATES.includes(run.state)) {
        await this.refresh();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 1000));
    }
  }

  private renderRun(run: RunDetail): void {
    const over = FINISHED_RUN_STATES.includes(run.state);
    const cancel = h('button', { className: 'button small', testId: 'cancel-run', text: 'Cancel', attrs: { type: 'button' } });
    cancel.hidden = over;
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      this.api.cancelRun(run.id).catch((error: Error) => this.options.notify(`Could not cancel the run: ${error.message}`));
    });
    const done = run.cells.filter((c) => c.state !== 'skipped' && c.state !== 'text').length;
    const parts: Node[] = [
      h(
        'div',
        { className: 'run-head' },
        h('strong', { text: `Run of v${run.version}` }),
        h('span', { className: `run-state state-${run.state}`, testId: 'run-state', text: run.state }),
        h('span', { className: 'muted', text: over ? (run.duration_s === null ? '' : `${run.duration_s} s`) : `${done} cells run` }),
        cancel,
      ),
    ];
    if (run.reason) parts.push(h('p', { className: run.state === 'failed' ? 'form-error' : 'muted', testId: 'run-reason', text: run.reason }));
    if (over) parts.push(RunReportView(run));
    this.detail.replaceChildren(...parts);
  }

  private renderList(runs: RunSummary[]): void {
    if (runs.length === 0) {
      this.list.replaceChildren(h('li', { className: 'muted', text: 'No runs yet.' }));
      return;
    }
    this.list.replaceChildren(
      ...runs.map((run) => {
        const open = h('button', { className: 'button small subtle', testId: 'open-run', text: 'Report', attrs: { type: 'button' } });
        open.addEventListener('click', () => void this.watch(run.id));
        const summary = run.summary ? ` · ${run.summary.reproduced} reproduced, ${run.summary.differs} differ, ${run.summary.failed} failed` : '';
        return h('li', { testId: 'run', dataset: { runId: run.id, state: run.state } }, h('span', { text: `v${run.version} · ${run.requested_by ?? 'someone'} · ${run.state}${summary}` }), open);
      }),
    );
  }
}
