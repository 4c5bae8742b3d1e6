import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NotebookPage } from '../src/components/NotebookPage';
import { COMMAND_BINDINGS } from '../src/commandMode';
import type { FakeWebSocket, fakeSockets } from './support/FakeWebSocket';
import { closeOpenedPages, openPage } from './support/openPage';
import { aliceSnapshot, cell } from './support/scenarios';

let page: NotebookPage;
let socket: FakeWebSocket;
let sockets: ReturnType<typeof fakeSockets>;

/** Opens notebook 7 in a page wired to a fake socket, as `role`. */
async function openNotebook(role: 'owner' | 'runner' | 'viewer' = 'owner'): Promise<void> {
  ({ page, socket, sockets } = await openPage({ you: { username: 'alice', role } }));
}

const q = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
};
/** What the page asked the server to do; presence and scope look-ups are left out. */
const commands = () => socket.sentMessages.filter((m) => m.type !== 'focus' && m.type !== 'inspect_scope');
const cellEl = (id: string) => q(`[data-testid="cell"][data-cell-id="${id}"]`);
const sourceOf = (id: string) => q<HTMLTextAreaElement>('[data-testid="cell-source"]', cellEl(id));

function type(textarea: HTMLTextAreaElement, text: string): void {
  textarea.value = text;
  textarea.dispatchEvent(new Event('input'));
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  closeOpenedPages();
  vi.useRealTimers();
});

describe('the notebook page', () => {
  it('shows the title, the kernel state and each cell from the snapshot', async () => {
    await openNotebook();
    expect(q('[data-testid="notebook-title"]').textContent).toBe('Sales');
    expect(q('[data-testid="kernel-status"]').textContent).toBe('idle');
    expect([...document.querySelectorAll<HTMLElement>('[data-testid="cell"]')].map((c) => c.dataset.cellId)).toEqual(['c1', 'c2']);
    expect(sourceOf('c2').value).toBe('print(x)');
  });

  it('shows a banner and a grey "disconnected" badge while the socket is down', async () => {
    await openNotebook();
    const banner = q('[data-testid="connection-banner"]');
    expect(banner.hidden).toBe(true);

    socket.serverDrops();

    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toMatch(/Reconnecting/);
    expect(q('[data-testid="kernel-status"]').textContent).toBe('disconnected');
    expect(q('[data-testid="kernel-status"]').dataset.colour).toBe('grey');

    vi.advanceTimersByTime(500);
    sockets.latest().serverOpens();
    sockets.latest().serverSends(aliceSnapshot());
    expect(banner.hidden).toBe(true);
    expect(q('[data-testid="kernel-status"]').textContent).toBe('idle');
  });

  it('shows a first run waiting for the notebook\'s packages in the task list and the queued cells, with the build\'s progress', async () => {
    await openNotebook();
    socket.serverSends({ type: 'kernel_status', state: 'starting' });
    expect(q('[data-testid="kernel-status"]').textContent).toBe('starting');
    socket.serverSends({ type: 'environment', kind: 'python', key: 'py-1', state: 'building', log_tail: '' });
    socket.serverSends({ type: 'tasks', queue: ['c1', 'c2'], running: null, building: [{ kind: 'python', key: 'py-1' }] });
    expect(q('[data-testid="task-building"]').textContent).toContain("Building the notebook's Python packages");
    expect([...document.querySelectorAll('[data-testid="task-queued"]')].length).toBe(2);
    expect(q('[data-testid="cell-state"]', cellEl('c2')).textContent).toBe('queued #2');
    expect(q('[data-testid="cell-waiting"]', cellEl('c1')).hidden).toBe(false);
    expect(q('[data-testid="cell-waiting"]', cellEl('c1')).textContent).toBe("Waiting for the notebook's Python packages to build…");

    // The build's own progress events reach the queue that waits for it; another build's do not.
    socket.serverSends({ type: 'environment', kind: 'python', key: 'py-1', state: 'building', log_tail: 'Resolved 3 packages\nInstalling pandas\n' });
    socket.serverSends({ type: 'environment', kind: 'python', key: 'py-other', state: 'building', log_tail: 'elsewhere\n' });
    expect(q('[data-testid="task-building-progress"]').textContent).toBe('Installing pandas');
    expect(q('[data-testid="cell-waiting"]', cellEl('c2')).textContent).toBe("Waiting for the notebook's Python packages to build: Installing pandas");

    // Built: the kernel's own task list replaces the wait, and the cells run.
    socket.serverSends({ type: 'kernel_status', state: 'busy' });
    socket.serverSends({ type: 'tasks', queue: ['c2'], running: 'c1' });
    expect(document.querySelector('[data-testid="task-building"]')).toBeNull();
    expect(q('[data-testid="cell-waiting"]', cellEl('c1')).hidden).toBe(true);
    expect(q('[data-testid="cell-waiting"]', cellEl('c2')).hidden).toBe(true);
    expect(q('[data-testid="kernel-status"]').textContent).toBe('busy');
  });

  it('shows the kernel as starting while a cell starts its JVM, and busy once it is up', async () => {
    await openNotebook();
    socket.serverSends({ type: 'kernel_status', state: 'busy' });
    socket.serverSends({ type: 'kernel_status', state: 'starting', reason: 'starting the JVM for Spark and Scala' });
    const badge = q('[data-testid="kernel-status"]');
    expect(badge.textContent).toBe('starting');
    expect(badge.dataset.colour).toBe('yellow');
    expect(badge.title).toBe('Kernel: starting (starting the JVM for Spark and Scala)');
    socket.serverSends({ type: 'kernel_status', state: 'busy' });
    expect(badge.textContent).toBe('busy');
    expect(badge.title).toBe('Kernel: busy');
  });

  it('sends typed text once typing pauses for 300 ms', async () => {
    await openNotebook();
    type(sourceOf('c1'), 'x = 4');
    type(sourceOf('c1'), 'x = 42');
    vi.advanceTimersByTime(299);
    expect(commands()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(commands()).toMatchObject([{ type: 'update_cell', cell_id: 'c1', source: 'x = 42' }]);
  });

  it('runs with Shift+Enter, sending the pending text first', async () => {
    await openNotebook();
    type(sourceOf('c1'), 'x = 2');
    sourceOf('c1').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true }));
    expect(commands()).toMatchObject([
      { type: 'update_cell', cell_id: 'c1', source: 'x = 2' },
      { type: 'run_cell', cell_id: 'c1' },
    ]);
    vi.advanceTimersByTime(1000);
    expect(commands()).toHaveLength(2);
  });

  it('brings back a cell deleted with dd when z is pressed, where it was, in command mode', async () => {
    await openNotebook();
    const press = (key: string) => (document.activeElement ?? document.body).dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    cellEl('c1').click();
    cellEl('c1').focus();
    press('j');
    expect(document.activeElement).toBe(cellEl('c2'));
    press('d');
    press('d');
    expect(commands()).toMatchObject([{ type: 'delete_cell', cell_id: 'c2' }]);
    press('z');
    expect(commands()[1]).toMatchObject({ type: 'insert_cell', index: 1, cell: { language: 'python', source: 'print(x)' } });
  });

  it('shows every command-mode binding on h, and gives the focus back when closed', async () => {
    await openNotebook();
    cellEl('c1').click();
    cellEl('c1').dispatchEvent(new KeyboardEvent('keydown', { key: 'h', bubbles: true }));
    const sheet = q('[data-testid="shortcut-sheet"]');
    expect(sheet.hidden).toBe(false);
    for (const binding of COMMAND_BINDINGS) expect(sheet.textContent).toContain(binding.description);
    sheet.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(sheet.hidden).toBe(true);
    expect(document.activeElement).toBe(cellEl('c1'));
  });

  it('splits a cell at the caret with Ctrl+Shift+-: the rest goes to a new cell below', async () => {
    await openNotebook();
    const source = sourceOf('c2');
    type(source, 'a = 1\nb = 2');
    vi.advanceTimersByTime(300);
    source.setSelectionRange(6, 6);
    source.dispatchEvent(new KeyboardEvent('keydown', { key: '_', code: 'Minus', ctrlKey: true, shiftKey: true, bubbles: true }));
    vi.advanceTimersByTime(300);
    expect(sourceOf('c2').value).toBe('a = 1');
    expect(commands().slice(1)).toMatchObject([
      { type: 'insert_cell', index: 2, cell: { language: 'python', source: 'b = 2' } },
      { type: 'update_cell', cell_id: 'c2', source: 'a = 1' },
    ]);
  });

  it('merges the cell below into the selected one with Shift+M, and inserts cells from the bar under a cell', async () => {
    await openNotebook();
    cellEl('c1').click();
    cellEl('c1').focus();
    cellEl('c1').dispatchEvent(new KeyboardEvent('keydown', { key: 'M', shiftKey: true, bubbles: true }));
    vi.advanceTimersByTime(300);
    expect(sourceOf('c1').value).toBe('x = 1\nprint(x)');
    expect(commands()).toMatchObject([
      { type: 'update_cell', cell_id: 'c1', source: 'x = 1\nprint(x)' },
      { type: 'delete_cell', cell_id: 'c2' },
    ]);
    q<HTMLButtonElement>('[data-testid="insert-text-below"]', cellEl('c1')).click();
    expect(commands()[2]).toMatchObject({ type: 'insert_cell', index: 1, cell: { language: 'text', source: '' } });
  });

  it('wraps long lines in every editor when asked, and remembers it in this browser', async () => {
    localStorage.removeItem('quire.wrapLines');
    await openNotebook();
    const wrap = q<HTMLButtonElement>('[data-testid="wrap-lines"]');
    expect(wrap.getAttribute('aria-pressed')).toBe('false');
    wrap.click();
    expect(wrap.getAttribute('aria-pressed')).toBe('true');
    expect(sourceOf('c1').getAttribute('wrap')).toBe('soft');
    expect(localStorage.getItem('quire.wrapLines')).toBe('1');
    closeOpenedPages();
    await openNotebook();
    expect(sourceOf('c2').getAttribute('wrap')).toBe('soft');
    localStorage.removeItem('quire.wrapLines');
  });

  it('colours a notice by what it is: errors red and read out at once, the rest quieter', async () => {
    await openNotebook();
    const notice = q('[data-testid="notice"]');
    q<HTMLButtonElement>('[data-testid="run-cell"]', cellEl('c2')).click();
    socket.serverSends({ type: 'error', req: commands()[0]!.req, code: 'forbidden', message: 'You may not run this notebook.' });
    expect(notice.textContent).toBe('You may not run this notebook.');
    expect(notice.dataset.kind).toBe('error');
    expect(notice.getAttribute('role')).toBe('alert');
    page.showNotice('Saved version 3.', 'success');
    expect(notice.dataset.kind).toBe('success');
    expect(notice.getAttribute('role')).toBe('status');
    socket.serverSends({ type: 'notice', level: 'warning', message: 'spark.executor.memory lowered to your quota' });
    expect(notice.dataset.kind).toBe('warning');
  });

  it("copies, scrolls and, for a viewer, hides a cell's output on this page only", async () => {
    await openNotebook('viewer');
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    socket.serverSends({ type: 'output', cell_id: 'c2', output: { output_type: 'stream', name: 'stdout', text: '\u001b[32mgreen\u001b[0m\n' } });
    socket.serverSends({ type: 'output', cell_id: 'c2', output: { output_type: 'execute_result', data: { 'text/plain': '42', 'text/html': '<b>42</b>' }, metadata: {} } });
    const cell = cellEl('c2');
    expect(q('[data-testid="output-tools"]', cell).hidden).toBe(false);
    expect(q('[data-testid="output-tools"]', cellEl('c1')).hidden).toBe(true);
    q<HTMLButtonElement>('[data-testid="copy-output"]', cell).click();
    await vi.waitFor(() => expect(writeText).toHaveBeenCalledWith('green\n42'));
    q<HTMLButtonElement>('[data-testid="scroll-output"]', cell).click();
    expect(q('[data-testid="cell-output"]', cell).classList.contains('scrolled')).toBe(true);
    q<HTMLButtonElement>('[data-testid="hide-output"]', cell).click();
    expect(q('[data-testid="cell-output"]', cell).hidden).toBe(true);
    socket.serverSends({ type: 'output', cell_id: 'c2', output: { output_type: 'stream', name: 'stdout', text: 'more\n' } });
    expect(q('[data-testid="cell-output"]', cell).hidden).toBe(true);
    q<HTMLButtonElement>('[data-testid="output-hidden-note"]', cell).click();
    expect(q('[data-testid="cell-output"]', cell).hidden).toBe(false);
    expect(q('[data-testid="cell-output"]', cell).textContent).toContain('more');
    expect(commands()).toEqual([]);
  });

  it('edits a text cell as rich text and saves Markdown, with the source one toggle away', async () => {
    localStorage.removeItem('quire.textEditor');
    ({ page, socket, sockets } = await openPage({
      notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('t1', '# Notes', { language: 'text' })] },
    }));
    q('[data-testid="markdown"]', cellEl('t1')).dispatchEvent(new MouseEvent('dblclick'));
    const rich = q('[data-testid="rich-text"]', cellEl('t1'));
    await vi.waitFor(() => expect(rich.querySelector('h1')?.textContent).toBe('Notes'));
    rich.innerHTML = '<h1>Notes</h1><p>Churn is <strong>down</strong>.</p>';
    rich.dispatchEvent(new Event('input'));
    vi.advanceTimersByTime(150 + 300);
    expect(commands()).toMatchObject([{ type: 'update_cell', cell_id: 't1', source: '# Notes\n\nChurn is **down**.' }]);
    q<HTMLButtonElement>('[data-testid="text-mode"]', cellEl('t1')).click();
    expect(q('[data-testid="rich-text-editor"]', cellEl('t1')).hidden).toBe(true);
    expect(sourceOf('t1').value).toBe('# Notes\n\nChurn is **down**.');
    expect(localStorage.getItem('quire.textEditor')).toBe('markdown');
    localStorage.removeItem('quire.textEditor');
  });

  it('runs from the run button', async () => {
    await openNotebook();
    q<HTMLButtonElement>('[data-testid="run-cell"]', cellEl('c2')).click();
    expect(commands()).toMatchObject([{ type: 'run_cell', cell_id: 'c2' }]);
  });

  it('does not rewind the editor when the echo of an older save arrives', async () => {
    await openNotebook();
    type(sourceOf('c1'), 'x = 1');
    vi.advanceTimersByTime(300);
    const save = commands()[0]!;
    type(sourceOf('c1'), 'x = 12');
    socket.serverSends({ type: 'cell_updated', cell_id: 'c1', source: 'x = 1', revision: 4 });
    socket.serverSends({ type: 'ack', req: save.req });
    expect(sourceOf('c1').value).toBe('x = 12');
  });

  it('keeps the typed text when the ack of its save arrives before the echo', async () => {
    await openNotebook();
    type(sourceOf('c1'), 'x = 99');
    vi.advanceTimersByTime(300);
    const save = commands()[0]!;
    socket.serverSends({ type: 'ack', req: save.req, revision: 4 });
    await Promise.resolve();
    await Promise.resolve();
    expect(sourceOf('c1').value).toBe('x = 99');
  });

  it("shows another user's edit when there is nothing unsaved", async () => {
    await openNotebook();
    socket.serverSends({ type: 'cell_updated', cell_id: 'c2', source: 'print(x * 2)', revision: 4 });
    expect(sourceOf('c2').value).toBe('print(x * 2)');
  });

  it('adds, moves and deletes cells through the server and follows its events', async () => {
    await openNotebook();
    q<HTMLButtonElement>('[data-testid="add-cell"]').click();
    q<HTMLButtonElement>('[title="Move down"]', cellEl('c1')).click();
    q<HTMLButtonElement>('[data-testid="delete-cell"]', cellEl('c2')).click();
    expect(commands()).toMatchObject([
      { type: 'insert_cell', index: 2, cell: { language: 'python', source: '' } },
      { type: 'move_cell', cell_id: 'c1', index: 1 },
      { type: 'delete_cell', cell_id: 'c2' },
    ]);

    const c1Editor = sourceOf('c1');
    socket.serverSends({ type: 'cell_inserted', index: 2, cell: cell('c3'), revision: 4 });
    socket.serverSends({ type: 'cell_moved', cell_id: 'c1', index: 1, revision: 5 });
    socket.serverSends({ type: 'cell_deleted', cell_id: 'c2', revision: 6 });
    expect([...document.querySelectorAll<HTMLElement>('[data-testid="cell"]')].map((c) => c.dataset.cellId)).toEqual(['c1', 'c3']);
    expect(sourceOf('c1')).toBe(c1Editor);
  });

  it('clears one cell\'s output or every cell\'s, and shows them cleared when the server says so', async () => {
    await openNotebook();
    const printed = { output_type: 'stream', name: 'stdout', text: 'hello\n' };
    socket.serverSends({ type: 'cell_sync', cell_id: 'c1', state: 'done', outputs: [printed] });
    socket.serverSends({ type: 'cell_sync', cell_id: 'c2', state: 'done', outputs: [printed] });
    const clearOne = q<HTMLButtonElement>('[data-testid="clear-output"]', cellEl('c1'));
    expect(clearOne.hidden).toBe(false);
    expect(cellEl('c1').textContent).toContain('hello');

    clearOne.click();
    q<HTMLButtonElement>('[data-testid="clear-outputs"]').click();
    expect(commands()).toMatchObject([
      { type: 'clear_outputs', cell_id: 'c1' },
      { type: 'clear_outputs', cell_id: null },
    ]);

    socket.serverSends({ type: 'outputs_cleared', cell_ids: ['c1'], revision: 4 });
    expect(cellEl('c1').textContent).not.toContain('hello');
    expect(cellEl('c2').textContent).toContain('hello');
    // A cell with nothing to clear offers nothing to clear.
    expect(q<HTMLButtonElement>('[data-testid="clear-output"]', cellEl('c1')).hidden).toBe(true);
    socket.serverSends({ type: 'outputs_cleared', cell_ids: ['c1', 'c2'], revision: 5 });
    expect(cellEl('c2').textContent).not.toContain('hello');
  });

  it('lets its owner rename and delete the notebook from the page, and no one else', async () => {
    const renameNotebook = vi.fn(() => Promise.resolve({}));
    const deleteNotebook = vi.fn(() => Promise.resolve());
    const go = vi.fn();
    ({ socket } = await openPage({ you: { username: 'bob', role: 'editor' } }, { renameNotebook, deleteNotebook, go }));
    expect(q('[data-testid="rename-notebook"]').hidden).toBe(true);
    expect(q('[data-testid="delete-notebook"]').hidden).toBe(true);
    closeOpenedPages();

    ({ socket } = await openPage({}, { renameNotebook, deleteNotebook, go }));
    vi.spyOn(window, 'prompt').mockReturnValue('  Sales 2027 ');
    q<HTMLButtonElement>('[data-testid="rename-notebook"]').click();
    expect(renameNotebook).toHaveBeenCalledWith(7, 'Sales 2027');
    // The title follows the server's word, which every page gets.
    socket.serverSends({ type: 'notebook_renamed', title: 'Sales 2027' });
    expect(q('[data-testid="notebook-title"]').textContent).toBe('Sales 2027');

    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(false);
    q<HTMLButtonElement>('[data-testid="delete-notebook"]').click();
    expect(deleteNotebook).not.toHaveBeenCalled();
    confirm.mockReturnValue(true);
    q<HTMLButtonElement>('[data-testid="delete-notebook"]').click();
    await vi.waitFor(() => expect(go).toHaveBeenCalledWith('/'));
    expect(deleteNotebook).toHaveBeenCalledWith(7);

    deleteNotebook.mockImplementationOnce(() => Promise.reject(new Error('you are not the owner')));
    go.mockClear();
    q<HTMLButtonElement>('[data-testid="delete-notebook"]').click();
    await vi.waitFor(() => expect(q('[data-testid="notice"]').textContent).toContain('you are not the owner'));
    expect(go).not.toHaveBeenCalled();
    vi.restoreAllMocks();
  });

  it('offers clearing outputs to editors only', async () => {
    for (const role of ['runner', 'viewer'] as const) {
      await openNotebook(role);
      socket.serverSends({ type: 'cell_sync', cell_id: 'c1', state: 'done', outputs: [{ output_type: 'stream', name: 'stdout', text: 'hi\n' }] });
      expect(q<HTMLButtonElement>('[data-testid="clear-outputs"]').hidden).toBe(true);
      expect(q<HTMLButtonElement>('[data-testid="clear-output"]', cellEl('c1')).hidden).toBe(true);
      closeOpenedPages();
    }
    await openNotebook('owner');
  });

  it('shuts the kernel down from the toolbar once asked to, and says when none was running', async () => {
    await openNotebook('runner');
    const shutdown = q<HTMLButtonElement>('[data-testid="shutdown"]');
    expect(shutdown.hidden).toBe(false);
    socket.serverSends({ type: 'kernel_status', state: 'idle' });
    expect(shutdown.disabled).toBe(false);
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValue(true);
    shutdown.click();
    expect(commands()).toEqual([]);
    shutdown.click();
    expect(commands()).toMatchObject([{ type: 'shutdown' }]);
    socket.serverSends({ type: 'ack', req: commands()[0]!.req, stopping: false });
    await Promise.resolve();
    await Promise.resolve();
    expect(q('[data-testid="notice"]').textContent).toContain('No kernel is running');
    socket.serverSends({ type: 'kernel_status', state: 'stopped' });
    expect(shutdown.disabled).toBe(true);
    confirm.mockRestore();
  });

  it('offers shutting down to runners and up only', async () => {
    await openNotebook('viewer');
    expect(q<HTMLButtonElement>('[data-testid="shutdown"]').hidden).toBe(true);
  });

  it('names the cell it inserts and focuses that one when it arrives', async () => {
    await openNotebook();
    q<HTMLButtonElement>('[data-testid="add-cell"]').click();
    const id = (commands()[0]!.cell as { id: string }).id;
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    socket.serverSends({ type: 'cell_inserted', index: 2, cell: cell(id), revision: 4 });
    expect(cellEl(id)).toBeTruthy();
  });

  it('changes a cell language and puts it back if the server refuses', async () => {
    await openNotebook();
    const select = q<HTMLSelectElement>('[data-testid="cell-language"]', cellEl('c1'));
    select.value = 'scala';
    select.dispatchEvent(new Event('change'));
    const request = commands()[0]!;
    expect(request).toMatchObject({ type: 'set_language', cell_id: 'c1', language: 'scala' });

    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    socket.serverSends({ type: 'error', req: request.req, code: 'forbidden', message: 'Not allowed.' });
    await vi.waitFor(() => expect(select.value).toBe('python'));
    expect(q('[data-testid="notice"]').textContent).toBe('Not allowed.');
  });

  it('shows a running cell: state, cleared outputs, running lines, outputs and symbols', async () => {
    await openNotebook();
    const c1 = cellEl('c1');
    socket.serverSends({ type: 'cell_status', cell_id: 'c1', state: 'running' });
    socket.serverSends({ type: 'statement', cell_id: 'c1', line_start: 1, line_end: 1 });
    expect(q('[data-testid="cell-state"]', c1).textContent).toBe('running');
    expect(q('.running-lines', c1).hidden).toBe(false);

    socket.serverSends({ type: 'output', cell_id: 'c1', output: { output_type: 'stream', name: 'stdout', text: 'hello\n' } });
    socket.serverSends({ type: 'cell_result', cell_id: 'c1', symbols: [{ name: 'x', language: 'python', type: 'int', repr: '1' }], stale: ['c2'] });
    socket.serverSends({ type: 'cell_status', cell_id: 'c1', state: 'done' });

    expect(q('[data-testid="cell-state"]', c1).textContent).toBe('done');
    expect(q('.running-lines', c1).hidden).toBe(true);
    expect(q('[data-testid="cell-output"]', c1).textContent).toBe('hello\n');
    expect(q('[data-testid="cell-symbols"]', c1).textContent).toBe('xint1');
    expect(cellEl('c2').classList.contains('stale')).toBe(true);
  });

  it("shows each cell's symbols and last state from the snapshot", async () => {
    await openNotebook();
    socket.serverSends(
      aliceSnapshot({
        notebook: {
          id: 7,
          title: 'Sales',
          revision: 3,
          config: {},
          cells: [cell('c1', 'x = 1', { state: 'done', symbols: [{ name: 'x', language: 'python', type: 'int', repr: '1' }] }), cell('c2', '', { state: null })],
        },
      }),
    );
    expect(q('[data-testid="cell-symbols"]', cellEl('c1')).textContent).toBe('xint1');
    expect(q('[data-testid="cell-state"]', cellEl('c1')).textContent).toBe('done');
    expect(q('[data-testid="cell-symbols"]', cellEl('c2')).hidden).toBe(true);
  });

  it('shows the outputs a final cell status carries, e.g. when the kernel died', async () => {
    await openNotebook();
    socket.serverSends({ type: 'cell_status', cell_id: 'c1', state: 'running' });
    socket.serverSends({ type: 'kernel_status', state: 'dead', reason: 'out of memory' });
    socket.serverSends({
      type: 'cell_status',
      cell_id: 'c1',
      state: 'error',
      outputs: [{ output_type: 'error', ename: 'KernelDied', evalue: 'out of memory', traceback: [] }],
    });
    expect(q('[data-testid="cell-output"]', cellEl('c1')).textContent).toBe('KernelDied: out of memory');
    const badge = q('[data-testid="kernel-status"]');
    expect([badge.textContent, badge.dataset.colour, badge.title]).toEqual(['dead', 'red', 'Kernel: dead (out of memory)']);
  });

  it('follows a rename', async () => {
    await openNotebook();
    socket.serverSends({ v: 1, type: 'notebook_renamed', title: 'Sales 2025' });
    expect(q('[data-testid="notebook-title"]').textContent).toBe('Sales 2025');
    expect(document.title).toBe('Sales 2025 · Quire');
  });

  it('tells the user to sign in again instead of retrying when the session has ended', async () => {
    await openNotebook();
    socket.serverDrops(4401);
    const banner = q('[data-testid="connection-banner"]');
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toMatch(/Sign in again/);
    expect(q<HTMLAnchorElement>('a', banner).getAttribute('href')).toMatch(/^\/accounts\/login\//);
    vi.advanceTimersByTime(60_000);
    expect(sockets.sockets).toHaveLength(1);
  });

  it('interrupts the kernel', async () => {
    await openNotebook();
    q<HTMLButtonElement>('[data-testid="interrupt"]').click();
    expect(commands()).toMatchObject([{ type: 'interrupt' }]);
  });
});

describe('roles', () => {
  it('gives viewers read-only editors and no run, add or delete buttons', async () => {
    await openNotebook('viewer');
    const c1 = cellEl('c1');
    expect(sourceOf('c1').readOnly).toBe(true);
    expect(q('[data-testid="run-cell"]', c1).hidden).toBe(true);
    expect(q('[data-testid="delete-cell"]', c1).closest<HTMLElement>('.cell-edit-buttons')!.hidden).toBe(true);
    expect(q('[data-testid="add-cell"]').hidden).toBe(true);
    expect(q('[data-testid="interrupt"]').hidden).toBe(true);

    sourceOf('c1').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true }));
    expect(commands()).toEqual([]);
  });

  it('lets runners run cells they cannot edit', async () => {
    await openNotebook('runner');
    expect(sourceOf('c1').readOnly).toBe(true);
    expect(q('[data-testid="run-cell"]', cellEl('c1')).hidden).toBe(false);
  });

  it('stays read-only until the snapshot says who we are', async () => {
    await openPage(null);
    await vi.waitFor(() => expect(document.querySelector('[data-testid="cell"]')).not.toBeNull());
    expect(sourceOf('c1').readOnly).toBe(true);
    expect(q('[data-testid="connection-banner"]').textContent).toBe('Connecting…');
  });
});
