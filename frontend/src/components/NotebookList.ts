/** The notebook list page: the notebooks one can open, and a form to start a new one. */
import { api, type NotebookList as NotebookListData, type NotebookSummary } from '../api';
import { h } from '../lib/dom';

export interface NotebookListOptions {
  listNotebooks?: () => Promise<NotebookListData>;
  createNotebook?: (title: string) => Promise<Pick<NotebookSummary, 'id'>>;
  navigate?: (url: string) => void;
}

export function notebookUrl(id: number): string {
  return `/notebooks/${id}/`;
}

export class NotebookList {
  readonly element: HTMLElement;
  private readonly list = h('ul', { className: 'notebook-list' });
  private readonly status = h('p', { className: 'list-status', text: 'Loading…' });
  private readonly titleInput = h('input', {
    testId: 'new-notebook-title',
    attrs: { type: 'text', name: 'title', placeholder: 'Untitled notebook', 'aria-label': 'New notebook title', maxlength: '200' },
  });
  private readonly createButton = h('button', { className: 'button primary', testId: 'new-notebook', text: 'New notebook', attrs: { type: 'submit' } });
  private readonly formError = h('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly listNotebooks: () => Promise<NotebookListData>;
  private readonly createNotebook: (title: string) => Promise<Pick<NotebookSummary, 'id'>>;
  private readonly navigate: (url: string) => void;

  constructor(options: NotebookListOptions = {}) {
    this.listNotebooks = options.listNotebooks ?? api.listNotebooks;
    this.createNotebook = options.createNotebook ?? api.createNotebook;
    this.navigate = options.navigate ?? ((url) => window.location.assign(url));
    this.formError.hidden = true;

    const form = h('form', { className: 'new-notebook' }, this.titleInput, this.createButton, this.formError);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.element = h('main', { className: 'notebook-list-page' }, h('h1', { text: 'Notebooks' }), form, this.status, this.list);
  }

  async load(): Promise<void> {
    try {
      const { results, count } = await this.listNotebooks();
      this.list.replaceChildren(...results.map(NotebookListItem));
      this.status.textContent = count === 0 ? 'No notebooks yet.' : count > results.length ? `Showing ${results.length} of ${count}.` : '';
    } catch (error) {
      this.status.textContent = `Could not load notebooks: ${(error as Error).message}`;
    }
    this.status.hidden = this.status.textContent === '';
  }

  private async create(): Promise<void> {
    const title = this.titleInput.value.trim() || 'Untitled notebook';
    this.createButton.disabled = true;
    this.formError.hidden = true;
    try {
      const notebook = await this.createNotebook(title);
      this.navigate(notebookUrl(notebook.id));
    } catch (error) {
      this.formError.textContent = `Could not create the notebook: ${(error as Error).message}`;
      this.formError.hidden = false;
      this.createButton.disabled = false;
    }
  }
}

function NotebookListItem(notebook: NotebookSummary): HTMLElement {
  const updated = new Date(notebook.updated_at);
  return h(
    'li',
    {},
    h('a', { testId: 'notebook-link', text: notebook.title || 'Untitled notebook', attrs: { href: notebookUrl(notebook.id) } }),
    h('span', { className: 'notebook-meta', text: notebook.owner }),
    h('time', {
      className: 'notebook-meta',
      text: Number.isNaN(updated.getTime()) ? '' : updated.toLocaleString(),
      attrs: { datetime: notebook.updated_at },
    }),
  );
}
