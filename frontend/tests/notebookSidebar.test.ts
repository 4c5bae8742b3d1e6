import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NotebookDetail, NotebookSummary } from '../src/api';
import { NotebookPage } from '../src/components/NotebookPage';
import { NotebookSidebar } from '../src/components/NotebookSidebar';
import { NotebookClient } from '../src/protocol';
import { fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

const summary = (id: number, title: string, updated: string): NotebookSummary => ({ id, title, owner: 'alice', updated_at: updated });
const NOTEBOOKS = [summary(9, 'Churn', '2026-11-30T10:00:00Z'), summary(7, 'Sales', '2026-11-29T10:00:00Z'), summary(3, 'Old notes', '2026-01-02T10:00:00Z')];

const q = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
};
const items = (root: ParentNode = document) => [...root.querySelectorAll<HTMLAnchorElement>('[data-testid="sidebar-item"]')];
/** Lets promises the page awaits run (fake timers leave microtasks alone). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.removeItem('quire.sidebar');
});
afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe('the notebook sidebar', () => {
  it('lists the notebooks as the server orders them, last changed first, the open one marked', async () => {
    const list = vi.fn((query: string) => Promise.resolve(NOTEBOOKS.filter((n) => n.title.toLowerCase().includes(query))));
    const sidebar = new NotebookSidebar({ currentId: 7, list, leave: () => Promise.resolve(true), go: vi.fn() });
    document.body.append(sidebar.element);
    await sidebar.load();
    expect(list).toHaveBeenCalledWith('');
    expect(items().map((a) => a.textContent)).toEqual(['Churn', 'Sales', 'Old notes']);
    expect(items().map((a) => a.getAttribute('href'))).toEqual(['/notebooks/9/', '/notebooks/7/', '/notebooks/3/']);
    expect(items()[1]!.getAttribute('aria-current')).toBe('page');
    expect(items()[0]!.title).toContain('2026');

    const search = q<HTMLInputElement>('[data-testid="sidebar-search"]');
    search.value = 'sal';
    search.dispatchEvent(new Event('input'));
    expect(list).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(300);
    await settle();
    expect(list).toHaveBeenLastCalledWith('sal');
    expect(items().map((a) => a.textContent)).toEqual(['Sales']);
    search.value = 'zzz';
    search.dispatchEvent(new Event('input'));
    vi.advanceTimersByTime(300);
    await settle();
    expect(q('[data-testid="sidebar-status"]').textContent).toBe('No notebook matches “zzz”.');
  });

  it('folds away, and stays folded in this browser', async () => {
    const list = vi.fn(() => Promise.resolve(NOTEBOOKS));
    const sidebar = new NotebookSidebar({ currentId: 7, list, leave: () => Promise.resolve(true), go: vi.fn() });
    document.body.append(sidebar.element);
    await sidebar.load();
    const toggle = q<HTMLButtonElement>('[data-testid="sidebar-toggle"]');
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    toggle.click();
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(q('[data-testid="sidebar-list"]').hidden).toBe(true);
    expect(q('[data-testid="sidebar-search"]').hidden).toBe(true);

    const again = new NotebookSidebar({ currentId: 7, list, leave: () => Promise.resolve(true), go: vi.fn() });
    await again.load();
    // Folded: nothing is asked of the server until it is opened.
    expect(list).toHaveBeenCalledTimes(1);
    expect(q('[data-testid="sidebar-list"]', again.element).hidden).toBe(true);
    q<HTMLButtonElement>('[data-testid="sidebar-toggle"]', again.element).click();
    await settle();
    expect(list).toHaveBeenCalledTimes(2);
    expect(items(again.element)).toHaveLength(3);
  });

  it("goes to another notebook only once the page's text is saved, and not when the person stays", async () => {
    const go = vi.fn();
    let answer = true;
    const leave = vi.fn(() => Promise.resolve(answer));
    const sidebar = new NotebookSidebar({ currentId: 7, list: () => Promise.resolve(NOTEBOOKS), leave, go });
    document.body.append(sidebar.element);
    await sidebar.load();
    items()[0]!.click();
    await settle();
    expect(go).toHaveBeenCalledWith('/notebooks/9/');
    answer = false;
    items()[2]!.click();
    await settle();
    expect(go).toHaveBeenCalledTimes(1);
    // A new tab leaves this page as it is: the browser opens it.
    const newTab = new MouseEvent('click', { bubbles: true, cancelable: true, ctrlKey: true });
    items()[2]!.dispatchEvent(newTab);
    expect(newTab.defaultPrevented).toBe(false);
    expect(leave).toHaveBeenCalledTimes(2);
  });

  it('on the notebook page, sends the text typed and waits for the server to take it before leaving', async () => {
    const sockets = fakeSockets();
    const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
    const go = vi.fn();
    const detail: NotebookDetail = { id: 7, title: 'Sales', revision: 3, cells: [cell('c1', 'x = 1')], config: {} };
    const page = new NotebookPage({ notebookId: 7, client, loadNotebook: () => Promise.resolve(detail), listNotebooks: () => Promise.resolve(NOTEBOOKS), go });
    document.body.append(page.element);
    page.start();
    const socket = sockets.latest();
    socket.serverOpens();
    socket.serverSends(aliceSnapshot());
    await settle();
    const source = q<HTMLTextAreaElement>('[data-testid="cell"][data-cell-id="c1"] [data-testid="cell-source"]');
    source.value = 'x = 42';
    source.dispatchEvent(new Event('input'));
    items()[0]!.click();
    await settle();
    // Sent at once, not after the typing pause; the page stays until the server has it.
    const update = socket.sentMessages.find((m) => m.type === 'update_cell');
    expect(update).toMatchObject({ cell_id: 'c1', source: 'x = 42' });
    expect(go).not.toHaveBeenCalled();
    socket.serverSends({ type: 'ack', req: update!.req, revision: 4 });
    await settle();
    expect(go).toHaveBeenCalledWith('/notebooks/9/');
    page.dispose();
  });

  it('asks before leaving when the server has not taken the text', async () => {
    const sockets = fakeSockets();
    const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
    const go = vi.fn();
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(false);
    const detail: NotebookDetail = { id: 7, title: 'Sales', revision: 3, cells: [cell('c1', 'x = 1')], config: {} };
    const page = new NotebookPage({ notebookId: 7, client, loadNotebook: () => Promise.resolve(detail), listNotebooks: () => Promise.resolve(NOTEBOOKS), go });
    document.body.append(page.element);
    page.start();
    const socket = sockets.latest();
    socket.serverOpens();
    socket.serverSends(aliceSnapshot());
    await settle();
    const source = q<HTMLTextAreaElement>('[data-testid="cell"][data-cell-id="c1"] [data-testid="cell-source"]');
    source.value = 'x = 42';
    source.dispatchEvent(new Event('input'));
    items()[0]!.click();
    await settle();
    vi.advanceTimersByTime(10_000);
    await settle();
    expect(confirm).toHaveBeenCalledWith(expect.stringMatching(/not saved/));
    expect(go).not.toHaveBeenCalled();
    confirm.mockRestore();
    page.dispose();
  });
});
