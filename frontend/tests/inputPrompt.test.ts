import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseServerMessage } from '../src/protocol';
import type { FakeWebSocket } from './support/FakeWebSocket';
import { closeOpenedPages, openPage } from './support/openPage';
import { aliceSnapshot } from './support/scenarios';

const EXEC = '0b9f8a52-4c8e-4d57-9a4e-2f1c5d0e7a31';

let socket: FakeWebSocket;

/** Opens notebook 7 as alice, with `role`, and c2 running. */
async function openNotebook(role: 'owner' | 'runner' | 'viewer' = 'runner'): Promise<void> {
  ({ socket } = await openPage({ you: { username: 'alice', role } }));
  socket.serverSends({ v: 1, type: 'cell_status', cell_id: 'c2', state: 'running' });
}

const cellEl = (id: string): HTMLElement => {
  const element = document.querySelector<HTMLElement>(`[data-testid="cell"][data-cell-id="${id}"]`);
  if (!element) throw new Error(`no cell ${id}`);
  return element;
};
const promptOf = (id: string) => cellEl(id).querySelector<HTMLElement>('[data-testid="input-prompt"]');
const fieldOf = (id: string) => cellEl(id).querySelector<HTMLInputElement>('[data-testid="input-field"]');
const asks = (fields: Record<string, unknown> = {}) => ({
  v: 1, type: 'input_request', cell_id: 'c2', exec_id: EXEC, prompt: 'Your name? ', password: false, username: 'alice', ...fields,
});
const replies = () => socket.sentMessages.filter((m) => m.type === 'input_reply');

function enter(field: HTMLInputElement, value: string): void {
  field.value = value;
  field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  closeOpenedPages();
  vi.useRealTimers();
});

describe('the server messages of input() and display updates', () => {
  it('accepts input_request, input_done and a cell_sync carrying a pending request', () => {
    for (const message of [
      asks(),
      asks({ password: true }),
      { v: 1, type: 'input_done', cell_id: 'c2', exec_id: EXEC },
      { v: 1, type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [], input_request: { exec_id: EXEC, prompt: '', password: false, username: 'bob' } },
    ]) {
      expect(parseServerMessage(JSON.stringify(message)), JSON.stringify(message)).toHaveProperty('message');
    }
  });

  it('refuses a malformed request', () => {
    for (const message of [
      asks({ password: 'yes' }),
      asks({ prompt: undefined }),
      asks({ username: 7 }),
      asks({ exec_id: null }),
      { v: 1, type: 'input_done', cell_id: 'c2' },
      { v: 1, type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [], input_request: { exec_id: EXEC } },
    ]) {
      expect(parseServerMessage(JSON.stringify(message)), JSON.stringify(message)).toHaveProperty('problem');
    }
  });

  it('accepts update_display_data and clear_output outputs live, and only there', () => {
    const update = { output_type: 'update_display_data', data: { 'text/plain': '2' }, metadata: {}, transient: { display_id: 'd1' } };
    expect(parseServerMessage(JSON.stringify({ v: 1, type: 'output', cell_id: 'c2', output: update }))).toHaveProperty('message');
    expect(parseServerMessage(JSON.stringify({ v: 1, type: 'output', cell_id: 'c2', output: { output_type: 'clear_output', wait: true } }))).toHaveProperty('message');
    expect(parseServerMessage(JSON.stringify({ v: 1, type: 'output', cell_id: 'c2', output: { output_type: 'update_display_data' } }))).toHaveProperty('problem');
    // What is stored has them applied: a cell's list of outputs never holds one.
    expect(parseServerMessage(JSON.stringify({ v: 1, type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [update] }))).toHaveProperty('problem');
  });

  it('shows only the updated value of a display, and nothing after a clear', async () => {
    await openNotebook();
    const display = { output_type: 'display_data', data: { 'text/plain': 'loading 10%' }, metadata: {}, transient: { display_id: 'd1' } };
    socket.serverSends({ v: 1, type: 'output', cell_id: 'c2', output: display });
    socket.serverSends({ v: 1, type: 'output', cell_id: 'c2', output: { ...display, output_type: 'update_display_data', data: { 'text/plain': 'loaded' } } });
    const outputs = cellEl('c2').querySelector<HTMLElement>('[data-testid="cell-output"]');
    expect(outputs?.textContent).toContain('loaded');
    expect(outputs?.textContent).not.toContain('10%');
    socket.serverSends({ v: 1, type: 'output', cell_id: 'c2', output: { output_type: 'clear_output', wait: false } });
    expect(outputs?.textContent).toBe('');
  });
});

describe('the prompt of a cell that asks for input', () => {
  it('lets the person who ran the cell answer: Enter sends the line, once', async () => {
    await openNotebook();
    expect(promptOf('c2') === null || promptOf('c2')?.hidden).toBe(true);
    socket.serverSends(asks());
    const prompt = promptOf('c2');
    expect(prompt?.hidden).toBe(false);
    expect(prompt?.textContent).toContain('Your name? ');
    const field = fieldOf('c2');
    expect(field?.disabled).toBe(false);
    expect(field?.type).toBe('text');
    enter(field!, 'Ada');
    expect(replies()).toEqual([expect.objectContaining({ type: 'input_reply', cell_id: 'c2', exec_id: EXEC, value: 'Ada' })]);
    // Sent: nothing more goes until the server says the request is over.
    expect(field?.disabled).toBe(true);
    enter(field!, 'Ada again');
    expect(replies()).toHaveLength(1);
    expect(promptOf('c2')?.textContent).not.toContain('Ada');
  });

  it('masks a password', async () => {
    await openNotebook();
    socket.serverSends(asks({ prompt: 'Password: ', password: true }));
    expect(fieldOf('c2')?.type).toBe('password');
  });

  it('shows everyone else who is being asked, with no field to type in', async () => {
    await openNotebook('owner');
    socket.serverSends(asks({ username: 'bob' }));
    expect(promptOf('c2')?.textContent).toContain('waiting for bob to answer');
    expect(fieldOf('c2') === null || fieldOf('c2')?.disabled).toBe(true);
    expect(replies()).toEqual([]);
  });

  it('gives a viewer no field even under the name of the person asked', async () => {
    await openNotebook('viewer');
    socket.serverSends(asks());
    expect(fieldOf('c2') === null || fieldOf('c2')?.disabled).toBe(true);
  });

  it('says so when the answer found no kernel, and lets the person try again', async () => {
    await openNotebook();
    socket.serverSends(asks());
    enter(fieldOf('c2')!, 'Ada');
    const [reply] = replies();
    socket.serverSends({ v: 1, type: 'ack', req: reply?.req, sent: false });
    await Promise.resolve();
    await Promise.resolve();
    expect(promptOf('c2')?.textContent).toMatch(/no kernel/i);
    expect(fieldOf('c2')?.disabled).toBe(false);
  });

  it('disappears on input_done', async () => {
    await openNotebook();
    socket.serverSends(asks());
    socket.serverSends({ v: 1, type: 'input_done', cell_id: 'c2', exec_id: 'another-run' });
    expect(promptOf('c2')?.hidden).toBe(false);
    socket.serverSends({ v: 1, type: 'input_done', cell_id: 'c2', exec_id: EXEC });
    expect(promptOf('c2') === null || promptOf('c2')?.hidden).toBe(true);
  });

  it('disappears when the cell ends', async () => {
    await openNotebook();
    socket.serverSends(asks());
    expect(promptOf('c2')?.hidden).toBe(false);
    socket.serverSends({ v: 1, type: 'cell_status', cell_id: 'c2', state: 'interrupted' });
    expect(promptOf('c2') === null || promptOf('c2')?.hidden).toBe(true);
  });

  it('follows a snapshot and the cell_sync after it: kept when the sync carries it, gone when not', async () => {
    await openNotebook();
    socket.serverSends(asks());
    expect(promptOf('c2')?.hidden).toBe(false);
    socket.serverSends(aliceSnapshot({ you: { username: 'alice', role: 'runner' } }));
    expect(promptOf('c2') === null || promptOf('c2')?.hidden).toBe(true);
    socket.serverSends({
      v: 1, type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [],
      input_request: { exec_id: EXEC, prompt: 'Your name? ', password: false, username: 'alice' },
    });
    expect(promptOf('c2')?.hidden).toBe(false);
    expect(fieldOf('c2')?.disabled).toBe(false);
    socket.serverSends({ v: 1, type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [] });
    expect(promptOf('c2') === null || promptOf('c2')?.hidden).toBe(true);
  });
});
