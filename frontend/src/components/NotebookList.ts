/** The notebook list page: mine, shared with me, or a team's; search; a new notebook; import an .ipynb. */
import { api, itemsOf, type ListFilter, type NotebookList as NotebookListData, type NotebookSummary, type Team } from '../api';
import { h } from '../lib/dom';
import { type KernelsApi, KernelsPanel } from './KernelsPanel';

export interface NotebookListOptions {
  listNotebooks?: (query: { q?: string; filter?: ListFilter; team?: string }) => Promise<NotebookListData>;
  createNotebook?: (title: string, team?: string) => Promise<Pick<NotebookSummary, 'id'>>;
  importNotebook?: (file: File, team?: string) => Promise<Pick<NotebookSummary, 'id'>>;
  listTeams?: () => Promise<Team[]>;
  renameNotebook?: (id: number, title: string) => Promise<unknown>;
  deleteNotebook?: (id: number) => Promise<unknown>;
  confirm?: (question: string) => boolean;
  navigate?: (url: string) => void;
  kernelsApi?: KernelsApi;
}

export function notebookUrl(id: number): string {
  return `/notebooks/${id}/`;
}

const FILTERS: ReadonlyArray<readonly [ListFilter, string]> = [
  ['all', 'All'],
  ['mine', 'Mine'],
  ['shared', 'Shared with me'],
  ['team', 'Team'],
];

const SEARCH_DELAY_MS = 250;

export class NotebookList {
  readonly element: HTMLElement;
  private readonly list = h('ul', { className: 'notebook-list' });
  private readonly status = h('p', { className: 'list-status', text: 'Loading…' });
  private readonly titleInput = h('input', {
    testId: 'new-notebook-title',
    attrs: { type: 'text', name: 'title', placeholder: 'Untitled notebook', 'aria-label': 'New notebook title', maxlength: '200' },
  });
  private readonly createButton = h('button', { className: 'button primary', testId: 'new-notebook', text: 'New notebook', attrs: { type: 'submit' } });
  private readonly fileInput = h('input', { testId: 'import-file', attrs: { type: 'file', accept: '.ipynb,application/x-ipynb+json', 'aria-label': 'Import an .ipynb file' } });
  private readonly importButton = h('button', { className: 'button', testId: 'import-notebook', text: 'Import .ipynb…', attrs: { type: 'button' } });
  private readonly search = h('input', { testId: 'notebook-search', attrs: { type: 'search', placeholder: 'Search titles', 'aria-label': 'Search notebooks' } });
  private readonly teamSelect = h('select', { testId: 'team-select', attrs: { 'aria-label': 'Team' } });
  private readonly filterButtons: HTMLButtonElement[];
  private readonly formError = h('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly options: Required<Omit<NotebookListOptions, 'kernelsApi'>>;
  /** The kernels you started, from any notebook, to see what holds your quota and stop it. */
  readonly kernels: KernelsPanel;
  private filter: ListFilter = 'all';
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  private loadCount = 0;

  constructor(options: NotebookListOptions = {}) {
    this.options = {
      listNotebooks: options.listNotebooks ?? api.listNotebooks,
      createNotebook: options.createNotebook ?? api.createNotebook,
      importNotebook: options.importNotebook ?? api.importNotebook,
      listTeams: options.listTeams ?? (async () => itemsOf(await api.listTeams())),
      renameNotebook: options.renameNotebook ?? api.renameNotebook,
      deleteNotebook: options.deleteNotebook ?? api.deleteNotebook,
      confirm: options.confirm ?? ((question) => window.confirm(question)),
      navigate: options.navigate ?? ((url) => window.location.assign(url)),
    };
    this.kernels = new KernelsPanel(options.kernelsApi ? { api: options.kernelsApi } : {});
    const kernelsButton = h('button', {
      className: 'button', testId: 'open-kernels', text: 'Running kernels',
      attrs: { type: 'button', title: 'Every kernel you started, with its memory and CPU: shut down what you no longer need' },
    });
    kernelsButton.addEventListener('click', () => this.kernels.drawer.toggle());
    this.formError.hidden = true;
    this.fileInput.hidden = true;
    this.teamSelect.hidden = true;

    const form = h('form', { className: 'new-notebook' }, this.titleInput, this.createButton, this.importButton, this.fileInput, this.formError);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.importButton.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => void this.importFile());

    this.filterButtons = FILTERS.map(([filter, label]) => {
      const button = h('button', { className: 'button filter', text: label, dataset: { filter }, attrs: { type: 'button', 'aria-pressed': String(filter === 'all') } });
      button.dataset.testid = `filter-${filter}`;
      button.addEventListener('click', () => this.setFilter(filter));
      return button;
    });
    this.search.addEventListener('input', () => {
      if (this.searchTimer !== null) clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => void this.load(), SEARCH_DELAY_MS);
    });
    this.teamSelect.addEventListener('change', () => void this.load());

    this.element = h(
      'main',
      { className: 'notebook-list-page' },
      h('div', { className: 'page-heading' }, h('h1', { text: 'Notebooks' }), h('span', { className: 'spacer' }), kernelsButton),
      form,
      h('div', { className: 'list-controls' }, h('div', { className: 'filters', attrs: { role: 'group', 'aria-label': 'Which notebooks' } }, ...this.filterButtons), this.teamSelect, this.search),
      this.status,
      this.list,
      this.kernels.element,
    );
  }

  async load(): Promise<void> {
    const mine = ++this.loadCount;
    try {
      const query = { q: this.search.value.trim(), filter: this.filter, team: this.teamSelect.value };
      const { results, count } = await this.options.listNotebooks(query);
      if (mine !== this.loadCount) return; // a newer search overtook this one
      this.list.replaceChildren(...results.map((notebook) => this.item(notebook)));
      this.status.textContent =
        count === 0
          ? query.q || this.filter !== 'all'
            ? 'No notebooks match.'
            : 'No notebooks yet.'
          : count > results.length
            ? `Showing ${results.length} of ${count}.`
            : '';
    } catch (error) {
      this.status.textContent = `Could not load notebooks: ${(error as Error).message}`;
    }
    this.status.hidden = this.status.textContent === '';
  }

  private async setFilter(filter: ListFilter): Promise<void> {
    this.filter = filter;
    for (const button of this.filterButtons) button.setAttribute('aria-pressed', String(button.dataset.filter === filter));
    if (filter === 'team' && this.teamSelect.options.length === 0) {
      try {
        const teams = await this.options.listTeams();
        this.teamSelect.replaceChildren(...teams.map((team) => h('option', { text: team.name, attrs: { value: team.slug } })));
      } catch {
        // Without the team list, "Team" lists every team notebook one can read.
      }
    }
    this.teamSelect.hidden = filter !== 'team' || this.teamSelect.options.length === 0;
    await this.load();
  }

  private currentTeam(): string | undefined {
    return this.filter === 'team' && this.teamSelect.value ? this.teamSelect.value : undefined;
  }

  private async create(): Promise<void> {
    const title = this.titleInput.value.trim() || 'Untitled notebook';
    this.createButton.disabled = true;
    this.formError.hidden = true;
    try {
      const team = this.currentTeam();
      const notebook = team ? await this.options.createNotebook(title, team) : await this.options.createNotebook(title);
      this.options.navigate(notebookUrl(notebook.id));
    } catch (error) {
      this.showError(`Could not create the notebook: ${(error as Error).message}`);
      this.createButton.disabled = false;
    }
  }

  private async importFile(): Promise<void> {
    const file = this.fileInput.files?.[0];
    if (!file) return;
    this.importButton.disabled = true;
    this.formError.hidden = true;
    try {
      const team = this.currentTeam();
      const notebook = team ? await this.options.importNotebook(file, team) : await this.options.importNotebook(file);
      this.options.navigate(notebookUrl(notebook.id));
    } catch (error) {
      this.showError(`Could not import ${file.name}: ${(error as Error).message}`);
    } finally {
      this.importButton.disabled = false;
      this.fileInput.value = '';
    }
  }

  /** One row: the link, who and when, and for its owner Rename and Delete. */
  private item(notebook: NotebookSummary): HTMLElement {
    const updated = new Date(notebook.updated_at);
    const link = h('a', { testId: 'notebook-link', text: notebook.title || 'Untitled notebook', attrs: { href: notebookUrl(notebook.id) } });
    const row = h(
      'li',
      { dataset: { notebookId: String(notebook.id) } },
      link,
      h('span', { className: 'notebook-meta', text: notebook.team ? `${notebook.owner} · ${notebook.team}` : notebook.owner }),
      notebook.role && h('span', { className: `role-badge role-${notebook.role}`, text: notebook.role }),
      h('time', {
        className: 'notebook-meta',
        text: Number.isNaN(updated.getTime()) ? '' : updated.toLocaleString(),
        attrs: { datetime: notebook.updated_at },
      }),
    );
    if (notebook.role !== 'owner') return row;
    const rename = h('button', { className: 'button subtle', testId: 'rename-notebook', text: 'Rename', attrs: { type: 'button' } });
    const remove = h('button', { className: 'button subtle danger', testId: 'delete-notebook', text: 'Delete', attrs: { type: 'button' } });
    rename.addEventListener('click', () => this.startRename(notebook, link));
    remove.addEventListener('click', () => void this.remove(notebook));
    row.append(h('span', { className: 'row-actions' }, rename, remove));
    return row;
  }

  private startRename(notebook: NotebookSummary, link: HTMLAnchorElement): void {
    const input = h('input', {
      testId: 'rename-input',
      attrs: { type: 'text', value: notebook.title, maxlength: '200', 'aria-label': `New title for ${notebook.title}` },
    });
    link.replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save: boolean): Promise<void> => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (!save || !title || title === notebook.title) {
        input.replaceWith(link);
        return;
      }
      try {
        await this.options.renameNotebook(notebook.id, title);
        await this.load();
      } catch (error) {
        input.replaceWith(link);
        this.showError(`Could not rename "${notebook.title}": ${(error as Error).message}`);
      }
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') void finish(true);
      else if (event.key === 'Escape') void finish(false);
    });
    input.addEventListener('blur', () => void finish(true));
  }

  private async remove(notebook: NotebookSummary): Promise<void> {
    if (!this.options.confirm(`Delete "${notebook.title}" for everyone it is shared with? Its versions go too.`)) return;
    try {
      await this.options.deleteNotebook(notebook.id);
      await this.load();
    } catch (error) {
      this.showError(`Could not delete "${notebook.title}": ${(error as Error).message}`);
    }
  }

  private showError(text: string): void {
    this.formError.textContent = text;
    this.formError.hidden = false;
  }
}

