/**
 * The notebook page's sidebar: the person's notebooks, last changed first (the server's order), searched by title,
 * folded away on request. Notebooks have no folders, so it is a flat list. Going to another notebook waits for
 * the page's text to be saved (`leave`).
 */
import { api, itemsOf, type NotebookSummary } from '../api';
import { h } from '../lib/dom';
import { notebookUrl } from './NotebookList';

export interface NotebookSidebarOptions {
  /** The notebook open on this page, marked in the list. */
  currentId: number;
  /** The notebooks whose title contains `query`, last changed first (the REST list, unless a test gives its own). */
  list?: (query: string) => Promise<NotebookSummary[]>;
  /** Readies the page to be left; false when the person chose to stay. */
  leave: () => Promise<boolean>;
  /** Goes to another page (the browser's location, unless a test gives its own). */
  go?: (href: string) => void;
}

const FOLDED_KEY = 'quire.sidebar';
const SEARCH_DELAY_MS = 250;

function folded(): boolean {
  try {
    return localStorage.getItem(FOLDED_KEY) === 'folded';
  } catch {
    return false;
  }
}

function rememberFolded(value: boolean): void {
  try {
    localStorage.setItem(FOLDED_KEY, value ? 'folded' : 'open');
  } catch {
    // Storage refused (private mode, quota): the choice lasts for this page only.
  }
}

export class NotebookSidebar {
  readonly element: HTMLElement;
  private readonly toggle = h('button', {
    className: 'button subtle sidebar-toggle',
    testId: 'sidebar-toggle',
    attrs: { type: 'button', 'aria-controls': 'notebook-sidebar-list' },
  });
  private readonly search = h('input', {
    className: 'sidebar-search',
    testId: 'sidebar-search',
    attrs: { type: 'search', placeholder: 'Search notebooks', 'aria-label': 'Search your notebooks by title' },
  });
  private readonly list = h('ul', { className: 'sidebar-list', testId: 'sidebar-list', attrs: { id: 'notebook-sidebar-list' } });
  private readonly status = h('p', { className: 'sidebar-status muted', testId: 'sidebar-status', attrs: { role: 'status' } });
  private readonly listNotebooks: (query: string) => Promise<NotebookSummary[]>;
  private readonly go: (href: string) => void;
  private open = !folded();
  private loaded = false;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  /** The latest request: an older answer arriving late never replaces a newer one. */
  private request = 0;

  constructor(private readonly options: NotebookSidebarOptions) {
    this.listNotebooks = options.list ?? (async (query) => itemsOf(await api.listNotebooks(query ? { q: query } : {})));
    this.go = options.go ?? ((href) => window.location.assign(href));
    this.element = h(
      'nav',
      { className: 'notebook-sidebar', testId: 'notebook-sidebar', attrs: { 'aria-label': 'Your notebooks' } },
      this.toggle,
      this.search,
      this.status,
      this.list,
    );
    this.toggle.addEventListener('click', () => this.setOpen(!this.open));
    this.search.addEventListener('input', () => {
      if (this.searchTimer !== null) clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => {
        this.searchTimer = null;
        void this.refresh();
      }, SEARCH_DELAY_MS);
    });
    this.list.addEventListener('click', (event) => void this.follow(event));
    this.show();
  }

  /** Reads the list, unless the sidebar is folded: it is read when first opened. */
  async load(): Promise<void> {
    if (this.open) await this.refresh();
  }

  private setOpen(open: boolean): void {
    this.open = open;
    rememberFolded(!open);
    this.show();
    if (open && !this.loaded) void this.refresh();
  }

  private show(): void {
    this.element.classList.toggle('folded', !this.open);
    this.toggle.setAttribute('aria-expanded', String(this.open));
    this.toggle.textContent = this.open ? '« Notebooks' : '»';
    this.toggle.title = this.open ? 'Fold the list of notebooks away' : 'Show your notebooks';
    this.search.hidden = this.list.hidden = this.status.hidden = !this.open;
    if (this.open) this.status.hidden = this.status.textContent === '';
  }

  private async refresh(): Promise<void> {
    const request = ++this.request;
    const query = this.search.value.trim();
    let notebooks: NotebookSummary[];
    try {
      notebooks = await this.listNotebooks(query);
    } catch (error) {
      if (request === this.request) this.render([], `Could not load your notebooks: ${(error as Error).message}`);
      return;
    }
    if (request !== this.request) return;
    this.loaded = true;
    this.render(notebooks, notebooks.length === 0 ? (query ? `No notebook matches “${query}”.` : 'No notebooks yet.') : '');
  }

  private render(notebooks: NotebookSummary[], status: string): void {
    this.list.replaceChildren(
      ...notebooks.map((notebook) => {
        const link = h('a', {
          className: 'sidebar-item',
          testId: 'sidebar-item',
          text: notebook.title,
          attrs: { href: notebookUrl(notebook.id), title: `${notebook.title} — changed ${new Date(notebook.updated_at).toLocaleString()}` },
        });
        if (notebook.id === this.options.currentId) link.setAttribute('aria-current', 'page');
        return h('li', {}, link);
      }),
    );
    this.status.textContent = status;
    this.show();
  }

  /** A click on a notebook: this page's text is saved first. A new tab or window leaves this page as it is. */
  private async follow(event: MouseEvent): Promise<void> {
    const link = (event.target as HTMLElement).closest<HTMLAnchorElement>('a.sidebar-item');
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const href = link.getAttribute('href');
    if (href && (await this.options.leave())) this.go(href);
  }
}
