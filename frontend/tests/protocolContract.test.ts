import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NotebookDetail } from '../src/api';
import type { HistoryApi } from '../src/components/HistoryPanel';
import { NotebookPage } from '../src/components/NotebookPage';
import { NotebookModel } from '../src/notebookModel';
// Every type the server sends, generated from its classes (kernels/messages.py, `python -m kernels.protocol_codegen`).
import { SERVER_MESSAGE_TYPES as serverTypes } from '../src/generated/protocol';
import { NotebookClient, SERVER_MESSAGE_TYPES, asChunk, validateServerMessage } from '../src/protocol';
import { type FakeWebSocket, fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

describe('the protocol contract', () => {
  it('has a validator and a handler for every message type the server sends', () => {
    const unknown = serverTypes.filter((type) => {
      if (type === 'chunk') return asChunk({ type, id: 'a', index: 0, count: 1, data: '{}' }) === null;
      const parsed = validateServerMessage({ v: 1, type });
      return 'problem' in parsed && parsed.problem.startsWith('unknown type');
    });
    expect(unknown).toEqual([]);
    // The model's switch is exhaustive over these (checked by the compiler); none is left to drop.
    expect([...SERVER_MESSAGE_TYPES, 'chunk'].sort()).toEqual([...serverTypes].sort());
  });

  it("checks each message against the schema generated from the server's classes", () => {
    // Fields the server always sends are required: a message without one is refused, not half applied.
    expect(validateServerMessage({ type: 'cell_moved', cell_id: 'c1', index: 1 })).toEqual({ problem: 'malformed cell_moved message' });
    expect(validateServerMessage({ type: 'cell_moved', cell_id: 'c1', index: 1, revision: 4 })).toHaveProperty('message');
    const { config: _, ...noConfig } = aliceSnapshot().notebook;
    expect(validateServerMessage({ ...aliceSnapshot(), notebook: noConfig })).toEqual({ problem: 'malformed snapshot message' });
    expect(validateServerMessage({ type: 'grants_changed' })).toEqual({ problem: 'malformed grants_changed message' });
    // Values are checked by the schema's types, outputs by the page's own nbformat checks.
    expect(validateServerMessage({ type: 'tasks', queue: ['a'], running: null, building: [{ kind: 'rust', key: 'k' }] })).toHaveProperty('problem');
    expect(validateServerMessage({ type: 'cell_status', cell_id: 'c1', state: 'error', outputs: [{ output_type: 'stream' }] })).toHaveProperty('problem');
    // A field the page does not know (a newer server's) is let through.
    expect(validateServerMessage({ type: 'cells_stale', cell_ids: ['c1'], reason: 'new' })).toHaveProperty('message');
  });

  it('keeps stale marks from the snapshot and from cells_stale', () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('c1', 'x = 1'), cell('c2', 'y', { stale: true })] } }));
    expect(model.staleCells).toEqual(['c2']);
    model.apply({ type: 'cells_stale', cell_ids: ['c1'] });
    expect(model.staleCells).toEqual(['c1', 'c2']);
  });
});

const REST_NOTEBOOK: NotebookDetail = { id: 7, title: 'Sales', revision: 3, cells: [cell('c1', 'x = 1')], config: {} };
let page: NotebookPage | undefined;
let socket: FakeWebSocket;
const listVersions = vi.fn(() => Promise.resolve([]));

async function openAs(role: 'owner' | 'editor' | 'viewer'): Promise<void> {
  const sockets = fakeSockets();
  const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
  const historyApi = { listVersions, listForks: () => Promise.resolve([]) } as unknown as HistoryApi;
  page = new NotebookPage({ notebookId: 7, client, historyApi, loadNotebook: () => Promise.resolve(REST_NOTEBOOK) });
  document.body.append(page.element);
  page.start();
  socket = sockets.latest();
  socket.serverOpens();
  socket.serverSends(aliceSnapshot({ you: { username: 'alice', role } }));
  await Promise.resolve();
}

const q = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
};
const source = (id: string) => q<HTMLTextAreaElement>('[data-testid="cell-source"]', q(`[data-testid="cell"][data-cell-id="${id}"]`));

beforeEach(() => {
  vi.useFakeTimers();
  listVersions.mockClear();
});
afterEach(() => {
  page?.dispose();
  page = undefined;
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe('the page follows what the server says of the notebook', () => {
  it('makes a promoted viewer an editor at once, and a demoted editor read-only', async () => {
    await openAs('viewer');
    expect(source('c1').readOnly).toBe(true);
    socket.serverSends({ type: 'grants_changed', you: { username: 'alice', role: 'editor' } });
    expect(source('c1').readOnly).toBe(false);
    expect(q('[data-testid="add-cell"]').hidden).toBe(false);

    socket.serverSends({ type: 'grants_changed', you: { username: 'alice', role: 'viewer' } });
    expect(source('c1').readOnly).toBe(true);
    expect(q('[data-testid="add-cell"]').hidden).toBe(true);
    expect(q('[data-testid="notice"]').textContent).toContain('You can now only view');
  });

  it('says nothing when a sharing change leaves the role as it was', async () => {
    await openAs('editor');
    socket.serverSends({ type: 'grants_changed', you: { username: 'alice', role: 'editor' } });
    expect(q('[data-testid="notice"]').hidden).toBe(true);
    expect(source('c1').readOnly).toBe(false);
  });

  it('refreshes the history when a version is saved', async () => {
    await openAs('editor');
    q<HTMLButtonElement>('[data-testid="open-history"]').click();
    await vi.waitFor(() => expect(listVersions).toHaveBeenCalledTimes(1));
    socket.serverSends({ type: 'version_saved', number: 2 });
    await vi.waitFor(() => expect(listVersions).toHaveBeenCalledTimes(2));
  });

  it('marks cells stale when told, and from the snapshot', async () => {
    await openAs('editor');
    socket.serverSends({ type: 'cells_stale', cell_ids: ['c2'] });
    expect(q('[data-testid="cell"][data-cell-id="c2"]').classList.contains('stale')).toBe(true);
    expect(q<HTMLButtonElement>('[data-testid="run-stale"]').disabled).toBe(false);
    socket.serverSends(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 4, config: {}, cells: [cell('c1'), cell('c2', '', { stale: true })] } }));
    expect(q('[data-testid="stale-badge"]', q('[data-testid="cell"][data-cell-id="c2"]')).hidden).toBe(false);
  });

  it('says the notebook was deleted and stops editing', async () => {
    await openAs('owner');
    socket.serverSends({ type: 'notebook_deleted' });
    expect(q('[data-testid="notice"]').textContent).toContain('deleted');
    expect(source('c1').readOnly).toBe(true);
  });

  it('shows that it is resyncing until the notebook arrives again', async () => {
    await openAs('editor');
    socket.serverSends({ type: 'resync' });
    expect(q('[data-testid="resync-banner"]').hidden).toBe(false);
    expect(q('[data-testid="resync-banner"]').textContent).toContain('Resyncing');
    socket.serverSends(aliceSnapshot({ you: { username: 'alice', role: 'editor' } }));
    expect(q('[data-testid="resync-banner"]').hidden).toBe(true);
  });
});
