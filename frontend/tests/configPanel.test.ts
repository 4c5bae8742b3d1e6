import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type ConfigView, type NotebookConfig } from '../src/api';
import { type ConfigApi, ConfigPanel } from '../src/components/ConfigPanel';

function config(overrides: Partial<NotebookConfig> = {}): NotebookConfig {
  return {
    dependencies: { python: [], scala: [] },
    repositories: [],
    exclusions: [],
    sparkConfig: {},
    env: {},
    useSpark: true,
    ...overrides,
  };
}

function view(overrides: Partial<NotebookConfig> = {}, environment: ConfigView['environment'] = { python: null, jvm: null }, revision = 5): ConfigView {
  return { revision, config: config(overrides), environment };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function fakeApi(first: ConfigView): ConfigApi & { puts: NotebookConfig[]; rebuilds: number } {
  const fake = {
    puts: [] as NotebookConfig[],
    rebuilds: 0,
    getConfig: vi.fn(() => Promise.resolve(first)),
    putConfig: vi.fn((_id: number, c: NotebookConfig) => {
      fake.puts.push(c);
      return Promise.resolve({ ...first, revision: first.revision + 1, config: c });
    }),
    rebuildConfig: vi.fn(() => {
      fake.rebuilds++;
      return Promise.resolve(first);
    }),
  };
  return fake;
}

let panel: ConfigPanel;

async function openPanel(api: ConfigApi, canEdit = true): Promise<ConfigPanel> {
  panel = new ConfigPanel(7, { api, canEdit: () => canEdit });
  document.body.append(panel.element);
  panel.drawer.open();
  await flush();
  return panel;
}

const q = <E extends Element = HTMLElement>(testId: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(`[data-testid="${testId}"]`);
  if (!element) throw new Error(`no ${testId}`);
  return element;
};
const all = (testId: string): HTMLElement[] => [...document.querySelectorAll<HTMLElement>(`[data-testid="${testId}"]`)];

function fill(input: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

const save = async (): Promise<void> => {
  q<HTMLButtonElement>('config-save').click();
  await flush();
};

afterEach(() => {
  document.body.replaceChildren();
});

describe('the configuration panel', () => {
  it('shows every section of the configuration', async () => {
    await openPanel(
      fakeApi(
        view({
          dependencies: { python: ['pandas>=2', 'requests'], scala: ['org.typelevel:cats-core_2.13:2.10.0'] },
          repositories: [{ maven: { base: 'https://repo.example/maven2/' } }, { pip: { url: 'file:///srv/wheels' } }],
          exclusions: ['org.slf4j:slf4j-log4j12'],
          sparkConfig: { 'spark.executor.memory': '2g' },
          env: { REGION: 'eu-west-1' },
          useSpark: false,
        }),
      ),
    );
    expect(q<HTMLTextAreaElement>('config-python').value).toBe('pandas>=2\nrequests');
    expect(q<HTMLTextAreaElement>('config-scala').value).toBe('org.typelevel:cats-core_2.13:2.10.0');
    expect(q<HTMLTextAreaElement>('config-exclusions').value).toBe('org.slf4j:slf4j-log4j12');
    const repositories = all('config-repository');
    expect(repositories.map((row) => [row.querySelector('select')!.value, row.querySelector('input')!.value])).toEqual([
      ['maven', 'https://repo.example/maven2/'],
      ['pip', 'file:///srv/wheels'],
    ]);
    expect(all('config-spark-row').map((row) => [...row.querySelectorAll('input')].map((i) => i.value))).toEqual([['spark.executor.memory', '2g']]);
    expect(all('config-env-row').map((row) => [...row.querySelectorAll('input')].map((i) => i.value))).toEqual([['REGION', 'eu-west-1']]);
    expect(q<HTMLInputElement>('config-use-spark').checked).toBe(false);
  });

  it('saves the edited configuration, keeping keys it does not edit', async () => {
    const api = fakeApi(view({ jvmArgs: ['-Xss4m'], dependencies: { python: ['pandas'], scala: [], extra: 1 } }));
    await openPanel(api);
    fill(q('config-python'), 'pandas\n\n  numpy==2.1  \n');
    q<HTMLButtonElement>('config-add-env').click();
    const [name, value] = all('config-env-row')[0]!.querySelectorAll('input');
    fill(name!, 'FOO');
    fill(value!, 'bar');
    q<HTMLButtonElement>('config-add-spark').click();
    const [key, setting] = all('config-spark-row')[0]!.querySelectorAll('input');
    fill(key!, 'spark.sql.shuffle.partitions');
    fill(setting!, '4');
    q<HTMLButtonElement>('config-add-repository').click();
    const repository = all('config-repository')[0]!;
    repository.querySelector('select')!.value = 'ivy';
    fill(repository.querySelector('input')!, 'file:///srv/ivy/');
    expect(q('config-status').textContent).toBe('Not saved');

    await save();

    expect(api.puts).toEqual([
      {
        jvmArgs: ['-Xss4m'],
        dependencies: { python: ['pandas', 'numpy==2.1'], scala: [], extra: 1 },
        repositories: [{ ivy: { base: 'file:///srv/ivy/' } }],
        exclusions: [],
        sparkConfig: { 'spark.sql.shuffle.partitions': '4' },
        env: { FOO: 'bar' },
        useSpark: true,
      },
    ]);
    expect(q('config-status').textContent).toBe('Saved');
  });

  it('removes a row', async () => {
    const api = fakeApi(view({ env: { A: '1', B: '2' } }));
    await openPanel(api);
    all('config-env-row')[0]!.querySelector('button')!.click();
    await save();
    expect(api.puts[0]!.env).toEqual({ B: '2' });
  });

  it('shows the server’s complaint next to the requirement it names, with its line', async () => {
    const api = fakeApi(view());
    api.putConfig = vi.fn(() =>
      Promise.reject(
        new ApiError(400, 'bad', { code: 'invalid', field: 'config.dependencies.python[1]', detail: "'pandas>>2' is not a pip requirement" }),
      ),
    );
    await openPanel(api);
    fill(q('config-python'), 'numpy\n\npandas>>2');
    await save();
    const section = q('config-section-python');
    const error = q('config-field-error', section);
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe("line 3: 'pandas>>2' is not a pip requirement");
    expect(q('config-python').getAttribute('aria-invalid')).toBe('true');
    // Other sections stay quiet.
    expect(q('config-field-error', q('config-section-env')).hidden).toBe(true);
  });

  it('marks the variable row a bad name came from', async () => {
    const api = fakeApi(view({ env: { GOOD: '1', '1BAD': 'x' } }));
    api.putConfig = vi.fn(() => Promise.reject(new ApiError(400, 'bad', { code: 'invalid', field: 'config.env.1BAD', detail: 'not a variable name' })));
    await openPanel(api);
    await save();
    const rows = all('config-env-row');
    expect(rows[1]!.querySelector('input')!.classList.contains('invalid')).toBe(true);
    expect(rows[0]!.querySelector('input')!.classList.contains('invalid')).toBe(false);
    expect(q('config-field-error', q('config-section-env')).textContent).toBe('not a variable name');
  });

  it('shows the environments: state, what is in use, what it holds, the log', async () => {
    await openPanel(
      fakeApi(
        view({}, {
          python: {
            wanted: { key: 'py-abc', state: 'failed', error: 'no matching distribution', log_tail: 'uv: error…' },
            in_use: { key: 'py-old', state: 'ready' },
            resolved: ['pandas==2.2.0'],
          },
          jvm: null,
        }),
      ),
    );
    const python = q('env-python');
    expect(q('env-state', python).dataset.state).toBe('failed');
    expect(q('env-error', python).textContent).toBe('no matching distribution');
    expect(q('env-in-use', python).textContent).toMatch(/earlier build/);
    expect(q('env-resolved', python).textContent).toBe('pandas==2.2.0');
    expect(q('env-log', python).textContent).toBe('uv: error…');
    expect(q('env-state', q('env-jvm')).dataset.state).toBe('none');
  });

  it('follows a build live, then reads the result', async () => {
    const api = fakeApi(view({}, { python: { wanted: { key: 'py-new', state: 'building', log_tail: '' }, in_use: null, resolved: [] } }));
    await openPanel(api);
    panel.environmentEvent({ type: 'environment', kind: 'python', key: 'py-new', state: 'building', log_tail: 'Resolved 3 packages' });
    const python = q('env-python');
    expect(q('env-log', python).textContent).toBe('Resolved 3 packages');
    // Another notebook's old build finishing is not this one's news.
    panel.environmentEvent({ type: 'environment', kind: 'python', key: 'py-other', state: 'failed', log_tail: 'x' });
    expect(q('env-state', python).dataset.state).toBe('building');
    api.getConfig = vi.fn(() =>
      Promise.resolve(view({}, { python: { wanted: { key: 'py-new', state: 'ready' }, in_use: { key: 'py-new', state: 'ready' }, resolved: ['a==1'] } })),
    );
    panel.environmentEvent({ type: 'environment', kind: 'python', key: 'py-new', state: 'ready', log_tail: 'Installed 3 packages' });
    expect(q('env-state', python).dataset.state).toBe('ready');
    await flush();
    expect(q('env-resolved', python).textContent).toBe('a==1');
    panel.environmentNotice({ type: 'environment_notice', kind: 'jvm', key: 'ivy-1', state: 'building', using: 'base', message: 'still building' });
    expect(q('env-notice', q('env-jvm')).textContent).toBe('still building');
  });

  it('rebuilds on request', async () => {
    const api = fakeApi(view());
    await openPanel(api);
    q<HTMLButtonElement>('config-rebuild').click();
    await flush();
    expect(api.rebuilds).toBe(1);
  });

  it('says a restart is needed, and reloads on someone else’s change unless the form has edits', async () => {
    const api = fakeApi(view({ env: { A: '1' } }));
    await openPanel(api);
    expect(q('config-restart-needed').hidden).toBe(true);
    api.getConfig = vi.fn(() => Promise.resolve(view({ env: { A: '2' } }, {}, 6)));
    panel.configChanged({ type: 'config_changed', revision: 6, restart_needed: true });
    await flush();
    expect(q('config-restart-needed').hidden).toBe(false);
    expect(all('config-env-row')[0]!.querySelectorAll('input')[1]!.value).toBe('2');

    fill(q('config-python'), 'numpy');
    panel.configChanged({ type: 'config_changed', revision: 7, restart_needed: false });
    await flush();
    expect(q('config-changed-elsewhere').hidden).toBe(false);
    expect(q<HTMLTextAreaElement>('config-python').value).toBe('numpy');
  });

  it('is read-only for people who may not edit', async () => {
    await openPanel(fakeApi(view({ env: { A: '1' } })), false);
    expect(q<HTMLButtonElement>('config-save').hidden).toBe(true);
    expect(q<HTMLButtonElement>('config-rebuild').hidden).toBe(true);
    expect(q<HTMLButtonElement>('config-add-env').hidden).toBe(true);
    expect(q<HTMLTextAreaElement>('config-python').disabled).toBe(true);
    expect(all('config-env-row')[0]!.querySelector('input')!.disabled).toBe(true);
  });
});
