/**
 * The notebook's configuration: Python packages, JVM dependencies, repositories, exclusions, Spark
 * properties, environment variables and "uses Spark"; and the environments built from it, live.
 * Editors change and save it; everyone else reads it.
 */
import { ApiError, type ConfigView, type EnvironmentStatus, type NotebookConfig, type Repository, api } from '../api';
import { h } from '../lib/dom';
import { type ConfigChangedMessage, ENVIRONMENT_LABELS, type EnvironmentKind, type EnvironmentMessage, type EnvironmentNoticeMessage } from '../protocol';
import { Drawer } from './Drawer';

export interface ConfigApi {
  getConfig(id: number): Promise<ConfigView>;
  putConfig(id: number, config: NotebookConfig): Promise<ConfigView>;
  rebuildConfig(id: number): Promise<ConfigView>;
}

export interface ConfigPanelOptions {
  api?: ConfigApi;
  canEdit(): boolean;
}

type RepositoryKind = 'maven' | 'ivy' | 'pip';
const REPOSITORY_KINDS: readonly RepositoryKind[] = ['maven', 'ivy', 'pip'];
const REPOSITORY_LABELS: Record<RepositoryKind, string> = { maven: 'Maven', ivy: 'Ivy', pip: 'pip index' };
const ENV_KINDS: readonly EnvironmentKind[] = ['python', 'jvm'];
const STATE_LABELS: Record<string, string> = { building: 'building', ready: 'ready', failed: 'failed', missing: 'missing', none: 'base' };

/** Lines of a textarea that hold something, with the line each came from (for the server's `[i]`). */
function listLines(text: string): { items: string[]; lines: number[] } {
  const items: string[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, index) => {
    const item = line.trim();
    if (item) {
      items.push(item);
      lines.push(index + 1);
    }
  });
  return { items, lines };
}

function repositoryOf(entry: Repository | Record<string, unknown>): { kind: RepositoryKind; url: string } | null {
  const record = entry as Record<string, Record<string, unknown> | undefined>;
  const url = (value: unknown): string => (typeof value === 'string' ? value : '');
  if (record.maven) return { kind: 'maven', url: url(record.maven.base) };
  if (record.ivy) return { kind: 'ivy', url: url(record.ivy.base) };
  if (record.pip) return { kind: 'pip', url: url(record.pip.url) };
  return null;
}

/** A list of removable rows of inputs (repositories, key/value pairs), with an "add" button. */
class RowList {
  readonly element: HTMLElement;
  readonly rows = h('div', { className: 'config-rows' });
  private readonly add: HTMLButtonElement;

  constructor(
    private readonly rowTestId: string,
    addLabel: string,
    addTestId: string,
    private readonly makeInputs: () => HTMLElement[],
    private readonly changed: () => void,
  ) {
    this.add = h('button', { className: 'button subtle', text: addLabel, testId: addTestId, attrs: { type: 'button' } });
    this.add.addEventListener('click', () => {
      const row = this.addRow();
      row.querySelector<HTMLElement>('input, select')?.focus();
      this.changed();
    });
    this.element = h('div', { className: 'config-row-list' }, this.rows, this.add);
  }

  addRow(): HTMLElement {
    const remove = h('button', { className: 'button subtle', text: '×', attrs: { type: 'button', 'aria-label': 'Remove' } });
    const row = h('div', { className: 'config-row', testId: this.rowTestId }, ...this.makeInputs(), remove);
    remove.addEventListener('click', () => {
      row.remove();
      this.changed();
    });
    this.rows.append(row);
    return row;
  }

  clear(): void {
    this.rows.replaceChildren();
  }

  get all(): HTMLElement[] {
    return [...this.rows.children] as HTMLElement[];
  }

  setEditable(editable: boolean): void {
    this.add.hidden = !editable;
    for (const button of this.rows.querySelectorAll('button')) button.hidden = !editable;
  }
}

/** What a row of two inputs holds. */
const pairOf = (row: HTMLElement): [string, string] => {
  const [key, value] = row.querySelectorAll('input');
  return [key?.value.trim() ?? '', value?.value ?? ''];
};

export class ConfigPanel {
  readonly drawer = new Drawer('Configuration', 'config-panel');
  private readonly api: ConfigApi;
  private readonly form: HTMLFormElement;
  private readonly python = h('textarea', {
    className: 'config-list',
    testId: 'config-python',
    attrs: { rows: '4', spellcheck: 'false', 'aria-label': 'Python packages', placeholder: 'pandas>=2\nrequests' },
  });
  private readonly scala = h('textarea', {
    className: 'config-list',
    testId: 'config-scala',
    attrs: { rows: '3', spellcheck: 'false', 'aria-label': 'JVM dependencies', placeholder: 'org.typelevel:cats-core_2.13:2.10.0' },
  });
  private readonly exclusions = h('textarea', {
    className: 'config-list',
    testId: 'config-exclusions',
    attrs: { rows: '2', spellcheck: 'false', 'aria-label': 'Exclusions', placeholder: 'org.slf4j:slf4j-log4j12' },
  });
  private readonly useSpark = h('input', { testId: 'config-use-spark', attrs: { type: 'checkbox' } });
  private readonly repositories: RowList;
  private readonly spark: RowList;
  private readonly env: RowList;
  private readonly save = h('button', { className: 'button primary', testId: 'config-save', text: 'Save', attrs: { type: 'submit' } });
  private readonly rebuild = h('button', {
    className: 'button',
    testId: 'config-rebuild',
    text: 'Rebuild',
    attrs: { type: 'button', title: 'Build the environments again from scratch' },
  });
  private readonly status = h('p', { className: 'config-status muted', testId: 'config-status', attrs: { role: 'status' } });
  private readonly formError = h('p', { className: 'form-error', testId: 'config-error', attrs: { role: 'alert' } });
  private readonly restartNote = h('p', {
    className: 'notice-inline',
    testId: 'config-restart-needed',
    text: 'A running kernel keeps the environment it started with: restart the kernel to use the new configuration.',
  });
  private readonly otherChange = h('p', {
    className: 'notice-inline',
    testId: 'config-changed-elsewhere',
    text: 'Someone else changed the configuration. Saving replaces their change; close and reopen to see it.',
  });
  private readonly environments = new Map<EnvironmentKind, EnvironmentView>();
  /** The configuration as last read, so keys this panel does not edit are kept on save. */
  private base: NotebookConfig | null = null;
  private view: ConfigView | null = null;
  private dirty = false;
  private saving = false;
  private loaded = false;
  private pythonLines: number[] = [];
  private scalaLines: number[] = [];
  private exclusionLines: number[] = [];
  private repositoryRows: HTMLElement[] = [];

  constructor(
    private readonly notebookId: number,
    private readonly options: ConfigPanelOptions,
  ) {
    this.api = options.api ?? api;
    const changed = (): void => {
      this.dirty = true;
      this.status.textContent = 'Not saved';
    };
    this.repositories = new RowList('config-repository', '+ Repository', 'config-add-repository', () => {
      const kind = h(
        'select',
        { attrs: { 'aria-label': 'Repository kind' } },
        ...REPOSITORY_KINDS.map((k) => h('option', { text: REPOSITORY_LABELS[k], attrs: { value: k } })),
      );
      const url = h('input', { attrs: { type: 'text', 'aria-label': 'Repository URL', placeholder: 'https://… or file:///…' } });
      return [kind, url];
    }, changed);
    const pairInputs = (keyLabel: string, keyPlaceholder: string, valueLabel: string) => (): HTMLElement[] => [
      h('input', { className: 'config-key', attrs: { type: 'text', 'aria-label': keyLabel, placeholder: keyPlaceholder, spellcheck: 'false' } }),
      h('input', { className: 'config-value', attrs: { type: 'text', 'aria-label': valueLabel, spellcheck: 'false' } }),
    ];
    this.spark = new RowList('config-spark-row', '+ Property', 'config-add-spark', pairInputs('Spark property', 'spark.executor.memory', 'Value'), changed);
    this.env = new RowList('config-env-row', '+ Variable', 'config-add-env', pairInputs('Variable name', 'NAME', 'Value'), changed);

    const section = (title: string, hint: string, body: HTMLElement, testId: string): HTMLElement =>
      h('section', { className: 'config-section', testId }, h('h3', { text: title }), h('p', { className: 'muted hint', text: hint }), body, this.fieldError());

    this.form = h(
      'form',
      { className: 'config-form' },
      section('Python packages', 'One pip requirement a line (pandas>=2, requests[socks]).', this.python, 'config-section-python'),
      section('JVM dependencies', 'Maven coordinates group:artifact:version, or a jar URL, one a line.', this.scala, 'config-section-scala'),
      section('Repositories', 'Maven or Ivy base URLs for JVM dependencies; pip index URLs (or a file:// folder of wheels).', this.repositories.element, 'config-section-repositories'),
      section('Exclusions', 'group:artifact left out of the JVM dependencies, one a line.', this.exclusions, 'config-section-exclusions'),
      section('Spark properties', 'Passed to the Spark session; the quota may lower them.', this.spark.element, 'config-section-spark'),
      section('Environment variables', 'Set in the kernel.', this.env.element, 'config-section-env'),
      h(
        'section',
        { className: 'config-section', testId: 'config-section-use-spark' },
        h('label', { className: 'config-check' }, this.useSpark, ' Uses Spark'),
        h('p', { className: 'muted hint', text: 'Off: no JVM dependencies are resolved for this notebook.' }),
        this.fieldError(),
      ),
      this.formError,
      h('div', { className: 'config-actions' }, this.save, this.rebuild, this.status),
    );
    this.form.addEventListener('input', changed);
    this.form.addEventListener('change', changed);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.rebuild.addEventListener('click', () => void this.rebuildEnvironments());
    this.restartNote.hidden = true;
    this.otherChange.hidden = true;
    this.formError.hidden = true;

    const envBox = h('div', { className: 'environments', testId: 'config-environments' });
    for (const kind of ENV_KINDS) {
      const view = new EnvironmentView(kind);
      this.environments.set(kind, view);
      envBox.append(view.element);
    }
    this.drawer.body.append(this.restartNote, this.otherChange, this.form, h('h3', { text: 'Environments' }), envBox);
    this.drawer.whenOpened(() => {
      if (!this.dirty) void this.refresh();
    });
    this.applyPermissions();
  }

  get element(): HTMLElement {
    return this.drawer.element;
  }

  /** Reads the configuration and its environments again, replacing what the form shows. */
  async refresh(): Promise<void> {
    try {
      const view = await this.api.getConfig(this.notebookId);
      // Edits made while the configuration was on its way are not thrown away.
      if (this.dirty) {
        this.showEnvironments(view);
        return;
      }
      this.show(view);
      this.status.textContent = '';
    } catch (error) {
      this.status.textContent = `Could not load the configuration: ${(error as Error).message}`;
    }
  }

  /** Editors edit; everyone else reads. Called again when the role becomes known. */
  applyPermissions(): void {
    const editable = this.options.canEdit();
    for (const input of this.form.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>('input, textarea, select')) {
      input.disabled = !editable;
    }
    this.save.hidden = !editable;
    this.rebuild.hidden = !editable;
    this.repositories.setEditable(editable);
    this.spark.setEditable(editable);
    this.env.setEditable(editable);
    this.form.classList.toggle('read-only', !editable);
  }

  /** A build's progress or outcome. */
  environmentEvent(event: EnvironmentMessage): void {
    const view = this.environments.get(event.kind);
    if (!view) return;
    view.progress(event);
    // A finished build may have changed what is in use and what it holds.
    if (this.drawer.isOpen && (event.state === 'ready' || event.state === 'failed')) void this.refreshEnvironments();
  }

  /** A kernel started without its wanted environment. */
  environmentNotice(notice: EnvironmentNoticeMessage): void {
    this.environments.get(notice.kind)?.notice(notice.message);
  }

  /** The configuration was replaced (by us or someone else). */
  configChanged(message: ConfigChangedMessage): void {
    this.restartNote.hidden = !message.restart_needed;
    if (this.saving) return;
    if (this.view && message.revision <= this.view.revision) return;
    if (this.dirty) {
      this.otherChange.hidden = false;
    } else if (this.drawer.isOpen || this.loaded) {
      void this.refresh();
    }
  }

  /** A kernel is starting: it gets the configuration as it is now. */
  kernelStarting(): void {
    this.restartNote.hidden = true;
  }

  private async refreshEnvironments(): Promise<void> {
    try {
      const view = await this.api.getConfig(this.notebookId);
      this.showEnvironments(view);
    } catch {
      // The live events still tell the state.
    }
  }

  private show(view: ConfigView): void {
    this.view = view;
    this.base = view.config;
    this.loaded = true;
    this.form.dataset.loaded = 'true';
    this.dirty = false;
    this.otherChange.hidden = true;
    const config = view.config;
    this.python.value = (config.dependencies?.python ?? []).join('\n');
    this.scala.value = (config.dependencies?.scala ?? []).join('\n');
    this.exclusions.value = (config.exclusions ?? []).join('\n');
    this.useSpark.checked = config.useSpark !== false;
    this.repositories.clear();
    for (const entry of config.repositories ?? []) {
      const repository = repositoryOf(entry);
      if (!repository) continue;
      const row = this.repositories.addRow();
      row.querySelector('select')!.value = repository.kind;
      row.querySelector('input')!.value = repository.url;
    }
    this.fillPairs(this.spark, config.sparkConfig ?? {});
    this.fillPairs(this.env, config.env ?? {});
    this.clearErrors();
    this.applyPermissions();
    this.showEnvironments(view);
  }

  private showEnvironments(view: ConfigView): void {
    for (const kind of ENV_KINDS) this.environments.get(kind)?.render(view.environment[kind] ?? null);
  }

  private fillPairs(list: RowList, values: Record<string, string>): void {
    list.clear();
    for (const [key, value] of Object.entries(values)) {
      const row = list.addRow();
      const [keyInput, valueInput] = row.querySelectorAll('input');
      keyInput!.value = key;
      valueInput!.value = String(value);
    }
  }

  /** The form as a configuration, keeping what the panel does not edit from the last read. */
  private collect(): NotebookConfig {
    const python = listLines(this.python.value);
    const scala = listLines(this.scala.value);
    const exclusions = listLines(this.exclusions.value);
    this.pythonLines = python.lines;
    this.scalaLines = scala.lines;
    this.exclusionLines = exclusions.lines;
    const repositories: Repository[] = [];
    this.repositoryRows = [];
    for (const row of this.repositories.all) {
      const kind = row.querySelector('select')!.value as RepositoryKind;
      const url = row.querySelector('input')!.value.trim();
      if (!url) continue;
      repositories.push(kind === 'pip' ? { pip: { url } } : kind === 'ivy' ? { ivy: { base: url } } : { maven: { base: url } });
      this.repositoryRows.push(row);
    }
    const pairs = (list: RowList): Record<string, string> => {
      const values: Record<string, string> = {};
      for (const row of list.all) {
        const [key, value] = pairOf(row);
        if (key) values[key] = value;
      }
      return values;
    };
    const base = this.base ?? ({} as Partial<NotebookConfig>);
    return {
      ...base,
      dependencies: { ...(base.dependencies ?? {}), python: python.items, scala: scala.items },
      repositories,
      exclusions: exclusions.items,
      sparkConfig: pairs(this.spark),
      env: pairs(this.env),
      useSpark: this.useSpark.checked,
    } as NotebookConfig;
  }

  private async submit(): Promise<void> {
    if (!this.options.canEdit()) return;
    const config = this.collect();
    this.clearErrors();
    this.save.disabled = true;
    this.saving = true;
    this.status.textContent = 'Saving…';
    try {
      this.show(await this.api.putConfig(this.notebookId, config));
      this.status.textContent = 'Saved';
    } catch (error) {
      this.status.textContent = '';
      this.showError(error);
    } finally {
      this.saving = false;
      this.save.disabled = false;
    }
  }

  private async rebuildEnvironments(): Promise<void> {
    this.rebuild.disabled = true;
    try {
      this.showEnvironments(await this.api.rebuildConfig(this.notebookId));
      this.status.textContent = 'Rebuilding…';
    } catch (error) {
      this.showError(error);
    } finally {
      this.rebuild.disabled = false;
    }
  }

  /** Puts the server's complaint next to the input it names, or under the form. */
  private showError(error: unknown): void {
    const body = error instanceof ApiError && typeof error.body === 'object' && error.body !== null ? (error.body as Record<string, unknown>) : {};
    const field = typeof body.field === 'string' ? body.field : '';
    const detail = typeof body.detail === 'string' ? body.detail : (error as Error).message;
    const place = this.placeFor(field);
    if (!place) {
      this.formError.textContent = detail;
      this.formError.hidden = false;
      return;
    }
    const { input, note } = place;
    const message = note ? `${note}: ${detail}` : detail;
    const section = input.closest('.config-section');
    const slot = section?.querySelector<HTMLElement>('.field-error');
    if (!slot) {
      this.formError.textContent = message;
      this.formError.hidden = false;
      return;
    }
    slot.textContent = message;
    slot.dataset.field = field;
    slot.hidden = false;
    input.classList.add('invalid');
    input.setAttribute('aria-invalid', 'true');
    input.focus?.();
  }

  /** The input a server field name (`config.dependencies.python[2]`, `config.env.1BAD`, …) points at. */
  private placeFor(field: string): { input: HTMLElement; note?: string } | null {
    const list = (pattern: RegExp, input: HTMLElement, lines: number[]): { input: HTMLElement; note?: string } | null => {
      const match = pattern.exec(field);
      if (!match) return null;
      const index = match[1] === undefined ? undefined : Number(match[1]);
      const line = index === undefined ? undefined : lines[index];
      return line === undefined ? { input } : { input, note: `line ${line}` };
    };
    const found =
      list(/^config\.dependencies\.python(?:\[(\d+)\])?/, this.python, this.pythonLines) ??
      list(/^config\.dependencies\.scala(?:\[(\d+)\])?/, this.scala, this.scalaLines) ??
      list(/^config\.exclusions(?:\[(\d+)\])?/, this.exclusions, this.exclusionLines);
    if (found) return found;
    if (field.startsWith('config.dependencies')) return { input: this.python };
    const repository = /^config\.repositories(?:\[(\d+)\])?/.exec(field);
    if (repository) {
      const row = repository[1] === undefined ? undefined : this.repositoryRows[Number(repository[1])];
      return { input: row?.querySelector('input') ?? this.repositories.element };
    }
    const pair = (prefix: string, list: RowList): { input: HTMLElement } | null => {
      if (!field.startsWith(prefix)) return null;
      const key = field.slice(prefix.length + 1);
      const row = list.all.find((r) => pairOf(r)[0] === key);
      return { input: row?.querySelector('input') ?? list.element };
    };
    return pair('config.sparkConfig', this.spark) ?? pair('config.env', this.env) ?? (field.startsWith('config.useSpark') ? { input: this.useSpark } : null);
  }

  private clearErrors(): void {
    this.formError.hidden = true;
    for (const slot of this.form.querySelectorAll<HTMLElement>('.field-error')) {
      slot.hidden = true;
      slot.textContent = '';
    }
    for (const input of this.form.querySelectorAll('.invalid')) {
      input.classList.remove('invalid');
      input.removeAttribute('aria-invalid');
    }
  }

  private fieldError(): HTMLElement {
    const slot = h('p', { className: 'field-error form-error', testId: 'config-field-error', attrs: { role: 'alert' } });
    slot.hidden = true;
    return slot;
  }
}

/** One kind of environment: its state badge, what is in use, what it holds, the build's log. */
class EnvironmentView {
  readonly element: HTMLElement;
  private readonly badge = h('span', { className: 'env-state', testId: 'env-state' });
  private readonly key = h('code', { className: 'env-key muted' });
  private readonly inUse = h('p', { className: 'env-in-use muted', testId: 'env-in-use' });
  private readonly resolved = h('ul', { className: 'env-resolved', testId: 'env-resolved' });
  private readonly error = h('p', { className: 'form-error', testId: 'env-error' });
  private readonly noticeLine = h('p', { className: 'notice-inline', testId: 'env-notice' });
  private readonly log = h('pre', { className: 'env-log', testId: 'env-log' });
  private readonly logBox: HTMLDetailsElement;
  private wantedKey: string | null = null;

  constructor(readonly kind: EnvironmentKind) {
    this.logBox = h('details', { className: 'env-log-box' }, h('summary', { text: 'Build log' }), this.log);
    this.element = h(
      'section',
      { className: 'environment', testId: `env-${kind}`, dataset: { kind } },
      h('h4', {}, ENVIRONMENT_LABELS[kind], ' ', this.badge, ' ', this.key),
      this.inUse,
      this.error,
      this.noticeLine,
      this.resolved,
      this.logBox,
    );
    this.noticeLine.hidden = true;
    this.render(null);
  }

  render(status: EnvironmentStatus | null): void {
    const wanted = status?.wanted ?? null;
    this.wantedKey = wanted?.key ?? null;
    this.setState(wanted?.state ?? 'none');
    this.key.textContent = wanted ? wanted.key.slice(0, 16) : '';
    this.key.title = wanted?.key ?? '';
    const inUse = status?.in_use ?? null;
    this.inUse.textContent = inUse
      ? `A kernel started now uses ${inUse.key === wanted?.key ? 'this environment' : `an earlier build (${inUse.key.slice(0, 16)})`}.`
      : wanted
        ? 'A kernel started now uses the base environment.'
        : 'Nothing extra: kernels use the base environment.';
    this.showError(wanted?.error ?? '');
    this.resolved.replaceChildren(...(status?.resolved ?? []).map((item) => h('li', { text: item })));
    this.resolved.hidden = (status?.resolved ?? []).length === 0;
    this.showLog(wanted?.log_tail ?? '');
    if (wanted?.state === 'ready') this.noticeLine.hidden = true;
  }

  progress(event: EnvironmentMessage): void {
    // Only the build this notebook wants now; an older one finishing is not news.
    if (this.wantedKey !== null && event.key !== this.wantedKey) return;
    this.wantedKey = event.key;
    this.setState(event.state);
    this.showError(event.error ?? '');
    if (event.log_tail) this.showLog(event.log_tail);
    this.logBox.open = event.state === 'building' || event.state === 'failed';
    if (event.state === 'ready') this.noticeLine.hidden = true;
  }

  notice(message: string): void {
    this.noticeLine.textContent = message;
    this.noticeLine.hidden = false;
  }

  private setState(state: string): void {
    this.badge.textContent = STATE_LABELS[state] ?? state;
    this.badge.dataset.state = state;
    this.element.dataset.state = state;
  }

  private showError(error: string): void {
    this.error.textContent = error;
    this.error.hidden = !error;
  }

  private showLog(text: string): void {
    this.log.textContent = text;
    this.logBox.hidden = !text;
  }
}
