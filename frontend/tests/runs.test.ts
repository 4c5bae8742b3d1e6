import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Page, Version } from '../src/api';
import { HistoryPanel, type HistoryApi } from '../src/components/HistoryPanel';
import { parameterItems } from '../src/components/JobsSection';
import { ProfilePage } from '../src/components/ProfilePage';
import type { Job, RunDetail, RunsApi, VersionLock } from '../src/runsApi';

/** What a list endpoint answers: one page holding every item. */
const pageOf = <T>(results: T[]): Page<T> => ({ count: results.length, next: null, previous: null, results });

afterEach(() => {
  document.body.replaceChildren();
});

const v = (number: number): Version => ({ number, author: 'alice', message: `v${number}`, created_at: '2025-01-02T10:00:00Z', content_hash: 'h', parent: null });

const LOCK: VersionLock = {
  format: 1,
  python: { environment: 'py-abc', note: '', packages: [{ name: 'quire-demo', version: '1.0', sha256: 'f'.repeat(64) }] },
  platform_packages: [{ name: 'django', version: '5.2', sha256: null }],
  jvm: { environment: null, note: '', artifacts: [] },
  spark: { settings: { 'spark.master': 'local[2]' }, clamped: ['spark.master lowered from local[8] to local[2] by your quota'] },
  env_names: ['API_TOKEN'],
  platform: { python: '3.11.7', java: '17.0.15', spark: '3.5.1', scala: '2.12.18', engine: '0.1.0+abc' },
};

const run = (state: RunDetail['state'], extra: Partial<RunDetail> = {}): RunDetail => ({
  id: 'r1', notebook_id: 7, notebook_title: 'N', version: 2, requested_by: 'alice', parameters: {}, state, reason: '',
  created_at: '', started_at: null, finished_at: null, duration_s: state === 'done' ? 1.5 : null, summary: null,
  cells: [{ id: 'a', state: 'done' }], report: {}, ...extra,
});

const REPORT: RunDetail['report'] = {
  summary: { reproduced: 1, differs: 1, failed: 0 },
  version_lock: 'recorded',
  cells: [
    { id: 'read', language: 'python', status: 'differs', diff: ['--- version', '+++ re-run', '-[stdout] alpha', '+[stdout] beta'], causes: [{ kind: 'data', detail: '/data/input.txt changed' }], likely_cause: 'data' },
    { id: 'same', language: 'python', status: 'reproduced', diff: [], causes: [], likely_cause: null },
  ],
};

const JOB: Job = {
  id: 5, notebook_id: 7, notebook_title: 'N', version: null, owner: 'alice', cron: '0 6 * * *', parameters: { n: 2 },
  enabled: true, next_run_at: '2026-12-01T06:00:00Z', last_run: null, last_error: 'the scheduled run of version 2 failed: a cell failed', created_at: '',
};

function historyApi(): HistoryApi {
  return {
    listVersions: vi.fn(() => Promise.resolve([v(1), v(2)])),
    saveVersion: vi.fn(),
    diff: vi.fn(),
    restoreVersion: vi.fn(),
    forkVersion: vi.fn(),
    listForks: vi.fn(() => Promise.resolve([])),
  } as unknown as HistoryApi;
}

function runsApi(overrides: Partial<RunsApi> = {}): RunsApi {
  return {
    getLock: vi.fn(() => Promise.resolve(LOCK)),
    lockDiff: vi.fn(() => Promise.resolve({ from: 1, to: 2, changes: [{ section: 'python', name: 'quire-demo', before: '1.0 (sha256 aaa)', after: '1.0 (sha256 bbb)' }] })),
    startRun: vi.fn(() => Promise.resolve(run('queued'))),
    listRuns: vi.fn(() => Promise.resolve(pageOf([]))),
    getRun: vi.fn().mockResolvedValueOnce(run('running')).mockResolvedValue(run('done', { report: REPORT })),
    cancelRun: vi.fn(() => Promise.resolve(run('cancelled'))),
    listJobs: vi.fn(() => Promise.resolve(pageOf([JOB]))),
    createJob: vi.fn(() => Promise.resolve(JOB)),
    updateJob: vi.fn(() => Promise.resolve({ ...JOB, enabled: false })),
    deleteJob: vi.fn(() => Promise.resolve(undefined)),
    ...overrides,
  } as RunsApi;
}

async function open(runs: RunsApi, canRun = true, canEdit = false) {
  const notify = vi.fn();
  const panel = new HistoryPanel({
    notebookId: 7, api: historyApi(), runsApi: runs, runPollMs: 1,
    permissions: () => ({ canEdit, canRun }), origin: () => null, notify,
  });
  document.body.append(panel.element);
  panel.drawer.open();
  await vi.waitFor(() => expect(panel.element.querySelectorAll('[data-testid="version"]').length).toBe(2));
  return { panel, notify, q: (s: string) => panel.element.querySelector<HTMLElement>(s)!, all: (s: string) => [...panel.element.querySelectorAll<HTMLElement>(s)] };
}

describe('runs in the history panel', () => {
  it('shows a version lock: platform, packages with hashes, Spark after the quota, variable names', async () => {
    const api = runsApi();
    const { q } = await open(api);
    q('[data-testid="show-lock"]').click();
    await vi.waitFor(() => expect(q('[data-testid="lock-view"]')).not.toBeNull());
    expect(api.getLock).toHaveBeenCalledWith(7, 2);
    expect(q('[data-testid="lock-platform"]').textContent).toContain('17.0.15');
    expect(q('[data-testid="lock-packages"]').textContent).toContain('quire-demo1.0  sha256 ffffffffffff');
    expect(q('[data-testid="lock-view"]').textContent).toContain('lowered from local[8] to local[2]');
    expect(q('[data-testid="lock-view"]').textContent).toContain('API_TOKEN');
  });

  it('compares two versions’ environments', async () => {
    const api = runsApi();
    const { q } = await open(api);
    (q('[data-testid="diff-from"]') as HTMLSelectElement).value = '1';
    (q('[data-testid="diff-to"]') as HTMLSelectElement).value = '2';
    q('[data-testid="show-lock-diff"]').click();
    await vi.waitFor(() => expect(q('[data-testid="lock-diff"]')).not.toBeNull());
    expect(api.lockDiff).toHaveBeenCalledWith(7, 1, 2);
    expect(q('[data-testid="lock-diff"]').textContent).toContain('python: quire-demo');
  });

  it('re-runs a version, follows the run and shows its report', async () => {
    const api = runsApi();
    const { q, all, notify } = await open(api);
    q('[data-testid="rerun-version"]').click();
    await vi.waitFor(() => expect(q('[data-testid="run-report"]')).not.toBeNull());
    expect(api.startRun).toHaveBeenCalledWith(7, 2);
    expect(notify).toHaveBeenCalledWith('Re-running version 2.', 'info');
    expect(q('[data-testid="run-state"]').textContent).toBe('done');
    expect(q('[data-testid="run-summary"]').textContent).toBe('1 reproduced · 1 differ · 0 failed');
    const cells = all('[data-testid="report-cell"]');
    expect(cells.map((c) => c.dataset.status)).toEqual(['differs', 'reproduced']);
    expect(cells[0]!.querySelector('[data-testid="likely-cause"]')!.textContent).toBe('data changed');
    expect(cells[0]!.querySelector('.diff-added')!.textContent).toBe('+[stdout] beta');
    expect(q('[data-testid="cancel-run"]').hidden).toBe(true);
  });

  it('cancels a run that is not over', async () => {
    const api = runsApi({ getRun: vi.fn(() => Promise.resolve(run('running'))) });
    const { q } = await open(api);
    q('[data-testid="rerun-version"]').click();
    await vi.waitFor(() => expect(q('[data-testid="run-state"]')?.textContent).toBe('running'));
    q('[data-testid="cancel-run"]').click();
    await vi.waitFor(() => expect(api.cancelRun).toHaveBeenCalledWith('r1'));
  });

  it('offers re-running only to people who may run', async () => {
    const { q } = await open(runsApi(), false);
    expect(q('[data-testid="rerun-version"]').hidden).toBe(true);
    expect(q('[data-testid="show-lock"]').hidden).toBe(false);
  });

  it('lists scheduled runs with their last error, and editors schedule, pause and delete them', async () => {
    const api = runsApi();
    const { q, notify } = await open(api, true, true);
    await vi.waitFor(() => expect(q('[data-testid="job"]')).not.toBeNull());
    expect(q('[data-testid="job"]').textContent).toContain('0 6 * * * · latest version · n=2 · alice');
    expect(q('[data-testid="job-error"]').textContent).toBe('the scheduled run of version 2 failed: a cell failed');
    (q('[data-testid="job-cron"]') as HTMLInputElement).value = ' */15 * * * * ';
    (q('[data-testid="job-version"]') as HTMLSelectElement).value = '1';
    (q('[data-testid="job-parameters"]') as HTMLInputElement).value = 'n=3, name=x';
    q('[data-testid="add-job"]').click();
    await vi.waitFor(() => expect(notify).toHaveBeenCalledWith('Scheduled.', 'success'));
    expect(api.createJob).toHaveBeenCalledWith(7, { cron: '*/15 * * * *', version: 1, parameters: ['n=3', 'name=x'] });
    q('[data-testid="toggle-job"]').click();
    await vi.waitFor(() => expect(api.updateJob).toHaveBeenCalledWith(5, { enabled: false }));
    q('[data-testid="delete-job"]').click();
    await vi.waitFor(() => expect(api.deleteJob).toHaveBeenCalledWith(5));
  });

  it('hides scheduling from people who cannot edit', async () => {
    const { q } = await open(runsApi(), true, false);
    await vi.waitFor(() => expect(q('[data-testid="job"]')).not.toBeNull());
    expect(q('.job-form').hidden).toBe(true);
    expect(q('[data-testid="toggle-job"]').hidden).toBe(true);
    expect(parameterItems(' a=1 ,, b=2 ')).toEqual(['a=1', 'b=2']);
  });

  it('lists your re-runs and scheduled runs on your profile, across notebooks', async () => {
    const page = new ProfilePage({
      api: {
        me: () => Promise.resolve({ id: 1, username: 'alice', is_site_admin: false }),
        quota: () => Promise.resolve({ limits: {}, usage: {} }),
        listTokens: () => Promise.resolve([]),
        createToken: vi.fn(),
        deleteToken: vi.fn(),
      },
      runsApi: {
        listMyRuns: () => Promise.resolve(pageOf([{ ...run('done'), notebook_title: 'Forecast', summary: { reproduced: 3, differs: 1, failed: 0 } }])),
        listMyJobs: () => Promise.resolve(pageOf([JOB])),
      },
    });
    document.body.append(page.element);
    await page.load();
    expect(page.element.querySelector('[data-testid="my-run"]')!.textContent).toBe('Forecast v2 · done · 3 reproduced, 1 differ, 0 failed');
    expect(page.element.querySelector('[data-testid="my-run"] a')!.getAttribute('href')).toBe('/notebooks/7/');
    expect(page.element.querySelector('[data-testid="my-job"]')!.textContent).toContain('0 6 * * *');
    expect(page.element.querySelector('[data-testid="my-job"]')!.textContent).toContain('the scheduled run of version 2 failed');
  });
});
