/**
 * Version history: save a version with a message; the list of versions (who, when, message);
 * a diff of any two; restore, fork, export and re-run any version, read its lock (what it ran with) and compare
 * two versions' environments; the notebook's runs and their reports; where the notebook came from and its forks.
 */
import { type ForkOrigin, type Fork, type NotebookDiff, type Listed, type NotebookSummary, type Version, api, exportUrl, itemsOf } from '../api';
import { h } from '../lib/dom';
import type { Permissions } from '../notebookModel';
import type { NoticeKind } from '../notices';
import { DiffView } from './DiffView';
import { Drawer } from './Drawer';
import { JobsSection } from './JobsSection';
import { RunsSection } from './RunsSection';
import type { RunsApi } from '../runsApi';

export interface HistoryApi {
  listVersions(id: number): Promise<Listed<Version>>;
  saveVersion(id: number, message: string): Promise<Version | { unchanged: true; version: Version }>;
  diff(id: number, from: number | 'draft', to: number | 'draft'): Promise<NotebookDiff>;
  restoreVersion(id: number, number: number): Promise<unknown>;
  forkVersion(id: number, number: number, title?: string): Promise<NotebookSummary>;
  listForks(id: number): Promise<Listed<Fork>>;
}

export interface HistoryPanelOptions {
  notebookId: number;
  api?: HistoryApi;
  runsApi?: RunsApi;
  /** How often a run that is not over is read again (ms). */
  runPollMs?: number;
  permissions: () => Permissions;
  origin: () => ForkOrigin | null;
  notify: (text: string, kind?: NoticeKind) => void;
  navigate?: (url: string) => void;
  /** Confirms a destructive step; window.confirm in the browser. */
  confirm?: (question: string) => boolean;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return '';
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export class HistoryPanel {
  readonly drawer = new Drawer('History', 'history-panel');
  private readonly api: HistoryApi;
  private readonly message = h('input', { testId: 'version-message', attrs: { type: 'text', placeholder: 'What changed?', 'aria-label': 'Version message', maxlength: '500' } });
  private readonly saveButton = h('button', { className: 'button primary', testId: 'save-version', text: 'Save version', attrs: { type: 'submit' } });
  private readonly saveForm: HTMLFormElement;
  private readonly versionList = h('ol', { className: 'version-list', testId: 'version-list' });
  private readonly fromSelect = h('select', { testId: 'diff-from', attrs: { 'aria-label': 'Compare from' } });
  private readonly toSelect = h('select', { testId: 'diff-to', attrs: { 'aria-label': 'Compare to' } });
  private readonly diffButton = h('button', { className: 'button', testId: 'show-diff', text: 'Compare', attrs: { type: 'button' } });
  private readonly diffArea = h('div', { className: 'diff-area' });
  private readonly originArea = h('div', { className: 'origin', testId: 'notebook-origin' });
  private readonly forkList = h('ul', { className: 'fork-list', testId: 'fork-list' });
  private readonly lockDiffButton = h('button', { className: 'button', testId: 'show-lock-diff', text: 'Compare environments', attrs: { type: 'button' } });
  private readonly runs: RunsSection;
  private readonly jobs: JobsSection;
  private versions: Version[] = [];

  constructor(private readonly options: HistoryPanelOptions) {
    this.api = options.api ?? api;
    this.saveForm = h('form', { className: 'save-version' }, this.message, this.saveButton);
    this.saveForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    this.diffButton.addEventListener('click', () => void this.showDiff());
    this.runs = new RunsSection({ notebookId: options.notebookId, api: options.runsApi, notify: options.notify, pollMs: options.runPollMs });
    this.jobs = new JobsSection({ notebookId: options.notebookId, api: options.runsApi, notify: options.notify, canEdit: () => options.permissions().canEdit });
    this.lockDiffButton.addEventListener('click', () => {
      if (this.toSelect.value === 'draft') {
        this.options.notify('Pick a version on both sides: the draft has no lock until it is saved.', 'info');
        return;
      }
      void this.runs.showLockDiff(Number(this.fromSelect.value), Number(this.toSelect.value));
    });
    this.drawer.body.append(
      this.saveForm,
      this.originArea,
      h('h3', { text: 'Versions' }),
      this.versionList,
      h('h3', { text: 'Compare' }),
      h('div', { className: 'diff-controls' }, this.fromSelect, h('span', { text: '→' }), this.toSelect, this.diffButton, this.lockDiffButton),
      this.diffArea,
      h('h3', { text: 'Runs' }),
      this.runs.element,
      h('h3', { text: 'Scheduled runs (cron, UTC)' }),
      this.jobs.element,
      h('h3', { text: 'Forks' }),
      this.forkList,
    );
    this.drawer.whenOpened(() => void this.refresh());
  }

  get element(): HTMLElement {
    return this.drawer.element;
  }

  /** Opens the panel with the cursor in the message box. */
  openToSave(): void {
    this.drawer.open();
    this.message.focus();
  }

  /** Someone saved a version: an open list shows it (a closed one is read when opened). */
  async versionSaved(): Promise<void> {
    if (this.drawer.isOpen) await this.refresh();
  }

  async refresh(): Promise<void> {
    this.saveForm.hidden = !this.options.permissions().canEdit;
    this.renderOrigin();
    try {
      const [versions, forks] = await Promise.all([this.api.listVersions(this.options.notebookId), this.api.listForks(this.options.notebookId)]);
      this.versions = [...itemsOf(versions)].sort((a, b) => b.number - a.number);
      this.renderVersions();
      this.renderForks(itemsOf(forks));
      void this.runs.refresh();
      void this.jobs.refresh(this.versions.map((v) => v.number));
    } catch (error) {
      this.versionList.replaceChildren(h('li', { className: 'form-error', text: `Could not load the history: ${(error as Error).message}` }));
    }
  }

  private renderOrigin(): void {
    const origin = this.options.origin();
    this.originArea.hidden = origin === null;
    if (!origin) return;
    const title = origin.notebook_title ?? 'a notebook you cannot read';
    this.originArea.replaceChildren(
      h('span', { text: 'Forked from ' }),
      origin.readable === false || origin.notebook_title === null
        ? h('span', { text: title })
        : h('a', { text: title, attrs: { href: `/notebooks/${origin.notebook_id}/` } }),
      h('span', { text: ` at version ${origin.version}` }),
    );
  }

  private renderVersions(): void {
    const { canEdit, canRun } = this.options.permissions();
    if (this.versions.length === 0) {
      this.versionList.replaceChildren(h('li', { className: 'muted', text: 'No versions yet. Save one to keep this state.' }));
    } else {
      this.versionList.replaceChildren(
        ...this.versions.map((version) => {
          const restore = this.smallButton('Restore', 'restore-version', () => void this.restore(version));
          restore.hidden = !canEdit;
          const rerun = this.smallButton('Re-run', 'rerun-version', () => void this.runs.rerun(version.number));
          rerun.hidden = !canRun;
          return h(
            'li',
            { className: 'version', testId: 'version', dataset: { number: String(version.number) } },
            h(
              'div',
              { className: 'version-head' },
              h('strong', { text: `v${version.number}` }),
              h('span', { text: version.author }),
              h('time', { className: 'muted', text: relativeTime(version.created_at), attrs: { datetime: version.created_at, title: new Date(version.created_at).toLocaleString() } }),
            ),
            h('div', { className: 'version-message', text: version.message || '(no message)' }),
            h(
              'div',
              { className: 'version-actions' },
              this.smallButton('Diff with draft', 'diff-version', () => void this.showDiff(version.number, 'draft')),
              restore,
              rerun,
              this.smallButton('Lock', 'show-lock', () => void this.runs.showLock(version.number)),
              this.smallButton('Fork', 'fork-version', () => void this.fork(version)),
              h('a', { className: 'button small subtle', testId: 'export-version', text: 'Export .ipynb', attrs: { href: exportUrl(this.options.notebookId, version.number), download: '' } }),
            ),
          );
        }),
      );
    }
    const options = (withDraft: boolean) => [
      ...(withDraft ? [h('option', { text: 'current draft', attrs: { value: 'draft' } })] : []),
      ...this.versions.map((v) => h('option', { text: `v${v.number} ${v.message}`.slice(0, 40), attrs: { value: String(v.number) } })),
    ];
    this.fromSelect.replaceChildren(...options(false));
    this.toSelect.replaceChildren(...options(true));
    this.diffButton.disabled = this.versions.length === 0;
    this.lockDiffButton.disabled = this.versions.length === 0;
  }

  private renderForks(forks: Fork[]): void {
    this.forkList.replaceChildren(
      ...(forks.length === 0
        ? [h('li', { className: 'muted', text: 'No forks yet.' })]
        : forks.map((fork) =>
            h('li', {}, h('a', { text: fork.title, attrs: { href: `/notebooks/${fork.id}/` } }), h('span', { className: 'muted', text: ` · ${fork.owner} · from v${fork.version}` })),
          )),
    );
  }

  private async save(): Promise<void> {
    this.saveButton.disabled = true;
    try {
      const saved = await this.api.saveVersion(this.options.notebookId, this.message.value.trim());
      if ('unchanged' in saved) {
        this.options.notify(`Nothing changed since version ${saved.version.number}.`, 'info');
      } else {
        this.options.notify(`Saved version ${saved.number}.`, 'success');
        this.message.value = '';
      }
      await this.refresh();
    } catch (error) {
      this.options.notify(`Could not save a version: ${(error as Error).message}`);
    } finally {
      this.saveButton.disabled = false;
    }
  }

  private async showDiff(from?: number, to?: number | 'draft'): Promise<void> {
    const fromRef = from ?? Number(this.fromSelect.value);
    const toValue = to ?? this.toSelect.value;
    const toRef = toValue === 'draft' ? 'draft' : Number(toValue);
    this.fromSelect.value = String(fromRef);
    this.toSelect.value = String(toRef);
    this.diffArea.replaceChildren(h('p', { className: 'muted', text: 'Comparing…' }));
    try {
      const diff = await this.api.diff(this.options.notebookId, fromRef, toRef);
      this.diffArea.replaceChildren(h('p', { className: 'diff-title', text: `v${fromRef} → ${toRef === 'draft' ? 'draft' : `v${toRef}`}` }), DiffView(diff));
    } catch (error) {
      this.diffArea.replaceChildren(h('p', { className: 'form-error', text: `Could not compare: ${(error as Error).message}` }));
    }
  }

  private async restore(version: Version): Promise<void> {
    const confirm = this.options.confirm ?? ((q: string) => window.confirm(q));
    if (!confirm(`Restore version ${version.number}? The notebook's cells are replaced by that version's.`)) return;
    try {
      await this.api.restoreVersion(this.options.notebookId, version.number);
      this.options.notify(`Restored version ${version.number}.`, 'success');
      await this.refresh();
    } catch (error) {
      this.options.notify(`Could not restore: ${(error as Error).message}`);
    }
  }

  private async fork(version: Version): Promise<void> {
    try {
      const fork = await this.api.forkVersion(this.options.notebookId, version.number);
      (this.options.navigate ?? ((url: string) => window.location.assign(url)))(`/notebooks/${fork.id}/`);
    } catch (error) {
      this.options.notify(`Could not fork: ${(error as Error).message}`);
    }
  }

  private smallButton(text: string, testId: string, onClick: () => void): HTMLButtonElement {
    const button = h('button', { className: 'button small', testId, text, attrs: { type: 'button' } });
    button.addEventListener('click', onClick);
    return button;
  }
}
