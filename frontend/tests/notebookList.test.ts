import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from '../src/api';
import { NotebookList } from '../src/components/NotebookList';
import { TopBar } from '../src/components/TopBar';
import { readCookie } from '../src/lib/cookies';

afterEach(() => {
  document.body.replaceChildren();
  document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
  vi.unstubAllGlobals();
});

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('NotebookList', () => {
  it('lists notebooks as links to their pages', async () => {
    const list = new NotebookList({
      listNotebooks: () =>
        Promise.resolve({
          count: 2,
          results: [
            { id: 1, title: 'Sales', owner: 'alice', updated_at: '2025-01-02T10:00:00Z' },
            { id: 2, title: '<b>Ops</b>', owner: 'bob', updated_at: '2025-01-03T10:00:00Z' },
          ],
        }),
    });
    document.body.append(list.element);
    await list.load();
    const links = [...document.querySelectorAll<HTMLAnchorElement>('[data-testid="notebook-link"]')];
    expect(links.map((a) => [a.textContent, a.getAttribute('href')])).toEqual([
      ['Sales', '/notebooks/1/'],
      ['<b>Ops</b>', '/notebooks/2/'],
    ]);
    expect(document.querySelector('h1')?.textContent).toBe('Notebooks');
  });

  it('lets the owner rename and delete a notebook from its row; others get neither', async () => {
    let rows = [
      { id: 1, title: 'Sales', owner: 'alice', role: 'owner' as const, updated_at: '2025-01-02T10:00:00Z' },
      { id: 2, title: 'Ops', owner: 'bob', role: 'editor' as const, updated_at: '2025-01-03T10:00:00Z' },
    ];
    const renameNotebook = vi.fn((id: number, title: string) => {
      rows = rows.map((row) => (row.id === id ? { ...row, title } : row));
      return Promise.resolve({});
    });
    const deleteNotebook = vi.fn((id: number) => {
      rows = rows.filter((row) => row.id !== id);
      return Promise.resolve();
    });
    const list = new NotebookList({
      listNotebooks: () => Promise.resolve({ count: rows.length, results: rows }),
      renameNotebook,
      deleteNotebook,
      confirm: () => true,
    });
    document.body.append(list.element);
    await list.load();
    expect(list.element.querySelectorAll('[data-testid="rename-notebook"]')).toHaveLength(1);
    list.element.querySelector<HTMLButtonElement>('[data-testid="rename-notebook"]')!.click();
    const input = list.element.querySelector<HTMLInputElement>('[data-testid="rename-input"]')!;
    expect(document.activeElement).toBe(input);
    input.value = 'Sales 2026';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    await vi.waitFor(() => expect(list.element.querySelector('[data-testid="notebook-link"]')?.textContent).toBe('Sales 2026'));
    expect(renameNotebook).toHaveBeenCalledWith(1, 'Sales 2026');
    list.element.querySelector<HTMLButtonElement>('[data-testid="delete-notebook"]')!.click();
    await vi.waitFor(() => expect(list.element.querySelectorAll('[data-testid="notebook-link"]')).toHaveLength(1));
    expect(deleteNotebook).toHaveBeenCalledWith(1);
  });

  it('says when there are no notebooks', async () => {
    const list = new NotebookList({ listNotebooks: () => Promise.resolve({ count: 0, results: [] }) });
    await list.load();
    expect(list.element.textContent).toContain('No notebooks yet.');
  });

  it('creates a notebook with the typed title and opens it', async () => {
    const createNotebook = vi.fn(() => Promise.resolve({ id: 42 }));
    const navigate = vi.fn();
    const list = new NotebookList({ listNotebooks: () => Promise.resolve({ count: 0, results: [] }), createNotebook, navigate });
    document.body.append(list.element);
    list.element.querySelector<HTMLInputElement>('[data-testid="new-notebook-title"]')!.value = '  Forecast ';
    list.element.querySelector<HTMLButtonElement>('[data-testid="new-notebook"]')!.click();
    await vi.waitFor(() => expect(navigate).toHaveBeenCalledWith('/notebooks/42/'));
    expect(createNotebook).toHaveBeenCalledWith('Forecast');
  });

  it('shows why a notebook could not be created', async () => {
    const list = new NotebookList({ createNotebook: () => Promise.reject(new Error('Quota reached.')), navigate: vi.fn() });
    document.body.append(list.element);
    list.element.querySelector<HTMLButtonElement>('[data-testid="new-notebook"]')!.click();
    await vi.waitFor(() => expect(list.element.textContent).toContain('Quota reached.'));
  });
});

describe('api', () => {
  it('posts JSON with the CSRF token from the cookie, within the session', async () => {
    document.cookie = 'csrftoken=tok%3D123; path=/';
    const fetch = vi.fn(() => Promise.resolve(jsonResponse(201, { id: 5, title: 'T', owner: 'alice', updated_at: '' })));
    vi.stubGlobal('fetch', fetch);

    await expect(api.createNotebook('T')).resolves.toMatchObject({ id: 5 });

    expect(fetch).toHaveBeenCalledWith('/api/notebooks/', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRFToken': 'tok=123' },
      credentials: 'same-origin',
      body: JSON.stringify({ title: 'T' }),
    });
  });

  it('sends no CSRF header on reads, and reports DRF error details', async () => {
    const fetch = vi.fn(() => Promise.resolve(jsonResponse(404, { detail: 'Not found.' })));
    vi.stubGlobal('fetch', fetch);
    await expect(api.getNotebook(9)).rejects.toMatchObject({ status: 404, message: 'Not found.' });
    expect(fetch).toHaveBeenCalledWith('/api/notebooks/9/?outputs=heads', expect.objectContaining({ method: 'GET', headers: { Accept: 'application/json' } }));
  });
});

describe('TopBar', () => {
  it('shows the user and signs out with a POST carrying the CSRF token', () => {
    document.cookie = 'csrftoken=abc; path=/';
    const bar = TopBar('alice');
    document.body.append(bar);
    const form = bar.querySelector('form')!;
    expect(bar.querySelector('[data-testid="username"]')?.textContent).toBe('alice');
    expect(form.getAttribute('method')).toBe('post');
    expect(form.getAttribute('action')).toBe('/accounts/logout/');
    expect(form.querySelector<HTMLInputElement>('input[name="csrfmiddlewaretoken"]')?.value).toBe('abc');
  });

  it('offers sign-in when nobody is signed in', () => {
    expect(TopBar('').querySelector('a.sign-in')?.getAttribute('href')).toMatch(/^\/accounts\/login\/\?next=/);
  });
});

describe('readCookie', () => {
  it('finds a cookie among others and decodes it', () => {
    expect(readCookie('csrftoken', 'sessionid=x; csrftoken=a%20b; theme=dark')).toBe('a b');
    expect(readCookie('csrftoken', 'xcsrftoken=no')).toBeNull();
  });
});
