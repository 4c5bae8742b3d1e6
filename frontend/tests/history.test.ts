import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NotebookDiff, Page, Version } from '../src/api';
import { DiffView } from '../src/components/DiffView';
import { HistoryPanel, type HistoryApi } from '../src/components/HistoryPanel';
import { NotebookList } from '../src/components/NotebookList';
import { ProfilePage, quotaLabel, quotaValue } from '../src/components/ProfilePage';
import { ShareDialog } from '../src/components/ShareDialog';
import { lineDiff } from '../src/lib/lineDiff';

/** What a list endpoint answers: one page holding every item. */
const pageOf = <T>(results: T[]): Page<T> => ({ count: results.length, next: null, previous: null, results });

afterEach(() => {
  document.body.replaceChildren();
});

const v = (number: number, message: string): Version => ({ number, author: 'alice', message, created_at: '2025-01-02T10:00:00Z', content_hash: 'h', parent: number > 1 ? number - 1 : null });

const DIFF: NotebookDiff = {
  cells: [
    { cell_id: 'a', change: 'unchanged', from_index: 0, to_index: 0, from_source: 'x = 1', to_source: 'x = 1' },
    { cell_id: 'b', change: 'source', from_index: 1, to_index: 1, from_source: 'y = 2\nprint(y)', to_source: 'y = 3\nprint(y)' },
    { cell_id: 'c', change: 'added', from_index: null, to_index: 2, from_source: null, to_source: '<img src=x onerror=alert(1)>' },
    { cell_id: 'd', change: 'removed', from_index: 2, to_index: null, from_source: 'gone', to_source: null },
    { cell_id: 'e', change: 'moved', from_index: 3, to_index: 0, from_source: 'm', to_source: 'm' },
  ],
  config_changed: false,
  config: { from: {}, to: {} },
};

describe('diffs', () => {
  it('diffs lines', () => {
    expect(lineDiff('a\nb\nc', 'a\nB\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'B' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
    expect(lineDiff('', 'x')).toEqual([{ kind: 'added', text: 'x' }]);
  });

  it('renders each changed cell with its change and line diff; sources stay text', () => {
    const view = DiffView(DIFF);
    document.body.append(view);
    const cells = [...view.querySelectorAll<HTMLElement>('[data-testid="diff-cell"]')];
    expect(cells.map((c) => c.dataset.change)).toEqual(['source', 'added', 'removed', 'moved']);
    expect(cells[0]!.querySelector('.diff-removed')?.textContent).toBe('- y = 2');
    expect(cells[0]!.querySelector('.diff-added')?.textContent).toBe('+ y = 3');
    expect(cells[3]!.textContent).toContain('cell 4 → 1');
    expect(view.querySelector('img')).toBeNull();
    expect(view.textContent).toContain('1 unchanged cell not shown.');
  });
});

function historyApi(overrides: Partial<HistoryApi> = {}): HistoryApi {
  return {
    listVersions: vi.fn(() => Promise.resolve(pageOf([v(1, 'first'), v(2, 'second')]))),
    saveVersion: vi.fn(() => Promise.resolve(v(3, 'third'))),
    diff: vi.fn(() => Promise.resolve(DIFF)),
    restoreVersion: vi.fn(() => Promise.resolve({})),
    forkVersion: vi.fn(() => Promise.resolve({ id: 99, title: 'Fork', owner: 'alice', updated_at: '' })),
    listForks: vi.fn(() => Promise.resolve(pageOf([{ id: 12, title: 'Bob’s take', owner: 'bob', version: 1, created_at: '' }]))),
    ...overrides,
  };
}

describe('the history panel', () => {
  const open = async (api: HistoryApi, canEdit = true) => {
    const notify = vi.fn();
    const navigate = vi.fn();
    const panel = new HistoryPanel({
      notebookId: 7,
      api,
      permissions: () => ({ canEdit, canRun: canEdit }),
      origin: () => ({ notebook_id: 3, notebook_title: 'Original', version: 4, readable: true }),
      notify,
      navigate,
      confirm: () => true,
    });
    document.body.append(panel.element);
    panel.drawer.open();
    await vi.waitFor(() => expect(panel.element.querySelectorAll('[data-testid="version"]').length).toBe(2));
    return { panel, notify, navigate, q: (s: string) => panel.element.querySelector<HTMLElement>(s)! };
  };

  it('lists versions newest first with who, when and message, the origin and the forks', async () => {
    const { panel, q } = await open(historyApi());
    const versions = [...panel.element.querySelectorAll<HTMLElement>('[data-testid="version"]')];
    expect(versions.map((e) => e.dataset.number)).toEqual(['2', '1']);
    expect(versions[0]!.textContent).toContain('alice');
    expect(versions[0]!.textContent).toContain('second');
    expect(q('[data-testid="notebook-origin"]').textContent).toBe('Forked from Original at version 4');
    expect(q('[data-testid="fork-list"]').textContent).toContain('Bob’s take');
    expect(q('[data-testid="export-version"]').getAttribute('href')).toBe('/api/notebooks/7/export/?version=2');
  });

  it('saves a version with the message and says when nothing changed', async () => {
    const api = historyApi({ saveVersion: vi.fn().mockResolvedValueOnce(v(3, 'third')).mockResolvedValueOnce({ unchanged: true, version: v(3, 'third') }) });
    const { q, notify } = await open(api);
    (q('[data-testid="version-message"]') as HTMLInputElement).value = ' third ';
    q('[data-testid="save-version"]').click();
    await vi.waitFor(() => expect(notify).toHaveBeenCalledWith('Saved version 3.', 'success'));
    expect(api.saveVersion).toHaveBeenCalledWith(7, 'third');
    q('[data-testid="save-version"]').click();
    await vi.waitFor(() => expect(notify).toHaveBeenCalledWith('Nothing changed since version 3.', 'info'));
  });

  it('diffs a version with the draft, restores and forks', async () => {
    const api = historyApi();
    const { q, navigate } = await open(api);
    q('[data-testid="diff-version"]').click();
    await vi.waitFor(() => expect(q('[data-testid="diff-view"]')).not.toBeNull());
    expect(api.diff).toHaveBeenCalledWith(7, 2, 'draft');
    q('[data-testid="restore-version"]').click();
    await vi.waitFor(() => expect(api.restoreVersion).toHaveBeenCalledWith(7, 2));
    q('[data-testid="fork-version"]').click();
    await vi.waitFor(() => expect(navigate).toHaveBeenCalledWith('/notebooks/99/'));
  });

  it('hides saving and restoring from people who cannot edit', async () => {
    const { q } = await open(historyApi(), false);
    expect(q('.save-version').hidden).toBe(true);
    expect(q('[data-testid="restore-version"]').hidden).toBe(true);
  });
});

describe('the share dialog', () => {
  it('adds a person or a team with a role, changes and removes grants', async () => {
    const grants = [{ id: 1, user: 'bob', team: null, role: 'viewer' as const }];
    const api = {
      listGrants: vi.fn(() => Promise.resolve(pageOf(grants))),
      addGrant: vi.fn(() => Promise.resolve(grants[0]!)),
      changeGrant: vi.fn(() => Promise.resolve(grants[0]!)),
      removeGrant: vi.fn(() => Promise.resolve()),
    };
    const dialog = new ShareDialog(7, { api });
    document.body.append(dialog.element);
    dialog.drawer.open();
    const q = <E extends HTMLElement>(s: string) => dialog.element.querySelector<E>(s)!;
    await vi.waitFor(() => expect(q('[data-testid="grant"]').textContent).toContain('bob'));
    q<HTMLSelectElement>('[data-testid="share-kind"]').value = 'team';
    q<HTMLInputElement>('[data-testid="share-who"]').value = 'acme';
    q<HTMLSelectElement>('[data-testid="share-role"]').value = 'runner';
    q('[data-testid="share-add"]').click();
    await vi.waitFor(() => expect(api.addGrant).toHaveBeenCalledWith(7, { team: 'acme' }, 'runner'));
    const role = q('[data-testid="grant"]').querySelector('select')!;
    role.value = 'editor';
    role.dispatchEvent(new Event('change'));
    await vi.waitFor(() => expect(api.changeGrant).toHaveBeenCalledWith(7, 1, 'editor'));
  });
});

describe('the profile page', () => {
  it('shows quota limits and use, and a new token key once', async () => {
    const tokens = [{ id: 1, name: 'CI', prefix: 'abc', created_at: '', last_used_at: null }];
    const page = new ProfilePage({
      api: {
        me: () => Promise.resolve({ id: 1, username: 'alice', is_site_admin: false }),
        // The shape GET /api/me/quota/ answers with (quire.quotas.services.usage_report).
        quota: () =>
          Promise.resolve({
            limits: {
              max_kernels: 2, memory_mb: 2048, disk_mb: 512, cpu_seconds: 3600, cell_time_limit_s: 600, idle_timeout_s: 5400,
              network: false, spark_executors: 2, spark_cores: 2, spark_memory_mb: 1024,
            },
            usage: { kernels: 1, kernel_memory_bytes: 300 * 2 ** 20 },
          }),
        listTokens: () => Promise.resolve(tokens),
        createToken: () => Promise.resolve({ id: 2, name: 'laptop', prefix: 'secret-k', created_at: '', key: 'secret-key-123' }),
        deleteToken: () => Promise.resolve(),
      },
    });
    document.body.append(page.element);
    await page.load();
    expect(page.element.querySelector('[data-testid="profile-user"]')?.textContent).toContain('alice');
    const kernels = page.element.querySelector('[data-quota="max_kernels"]')!;
    expect([...kernels.children].map((c) => c.textContent)).toEqual(['Kernels', '1', '2']);
    const rows = [...page.element.querySelectorAll('[data-testid="quota-rows"] tr')].map((row) => [...row.children].map((c) => c.textContent));
    // One row per limit, none twice, each value with its unit; memory in use has a row of its own.
    expect(rows).toEqual([
      ['Kernels', '1', '2'],
      ['Memory', '—', '2 GiB'],
      ['Disk', '—', '512 MiB'],
      ['Cpu', '—', '1 h'],
      ['Cell time limit', '—', '10 min'],
      ['Idle timeout', '—', '1.5 h'],
      ['Network', '—', 'no'],
      ['Spark executors', '—', '2'],
      ['Spark cores', '—', '2'],
      ['Spark memory', '—', '1 GiB'],
      ['Kernel memory in use', '300 MiB', '—'],
    ]);
    page.element.querySelector<HTMLInputElement>('[data-testid="token-name"]')!.value = 'laptop';
    page.element.querySelector<HTMLButtonElement>('[data-testid="create-token"]')!.click();
    await vi.waitFor(() => expect(page.element.querySelector('[data-testid="new-token-key"]')?.textContent).toContain('secret-key-123'));
  });

  it('names quota keys for people', () => {
    expect(quotaLabel('max_concurrent_kernels')).toBe('Concurrent kernels');
    expect(quotaValue('kernel_memory_bytes', 512 * 2 ** 20)).toBe('512 MiB');
    expect(quotaValue('memory_mb', 3072)).toBe('3 GiB');
    expect(quotaValue('cell_time_limit_s', 45)).toBe('45 s');
    expect(quotaValue('kernels', null)).toBe('unlimited');
  });
});

describe('the notebook list', () => {
  it('filters by mine/shared/team and searches titles', async () => {
    vi.useFakeTimers();
    const listNotebooks = vi.fn(() => Promise.resolve({ count: 0, results: [] }));
    const list = new NotebookList({ listNotebooks, listTeams: () => Promise.resolve([{ name: 'Acme', slug: 'acme', members: [] }]) });
    document.body.append(list.element);
    await list.load();
    list.element.querySelector<HTMLButtonElement>('[data-testid="filter-shared"]')!.click();
    await vi.waitFor(() => expect(listNotebooks).toHaveBeenLastCalledWith({ q: '', filter: 'shared', team: '' }));
    list.element.querySelector<HTMLButtonElement>('[data-testid="filter-team"]')!.click();
    await vi.waitFor(() => expect(listNotebooks).toHaveBeenLastCalledWith({ q: '', filter: 'team', team: 'acme' }));
    const search = list.element.querySelector<HTMLInputElement>('[data-testid="notebook-search"]')!;
    search.value = 'sales';
    search.dispatchEvent(new Event('input'));
    vi.advanceTimersByTime(250);
    await vi.waitFor(() => expect(listNotebooks).toHaveBeenLastCalledWith({ q: 'sales', filter: 'team', team: 'acme' }));
    expect(list.element.textContent).toContain('No notebooks match.');
    vi.useRealTimers();
  });

  it('imports an .ipynb and opens it', async () => {
    const importNotebook = vi.fn(() => Promise.resolve({ id: 5 }));
    const navigate = vi.fn();
    const list = new NotebookList({ listNotebooks: () => Promise.resolve({ count: 0, results: [] }), importNotebook, navigate });
    const input = list.element.querySelector<HTMLInputElement>('[data-testid="import-file"]')!;
    const file = new File(['{}'], 'old.ipynb');
    Object.defineProperty(input, 'files', { value: [file] });
    input.dispatchEvent(new Event('change'));
    await vi.waitFor(() => expect(navigate).toHaveBeenCalledWith('/notebooks/5/'));
    expect(importNotebook).toHaveBeenCalledWith(file);
  });
});
