import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotebookModel } from '../src/notebookModel';
import { type ConnectionStatus, NotebookClient, notebookSocketUrl, parseServerMessage } from '../src/protocol';
import { fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

const URL = 'ws://quire.test/ws/notebooks/7/';

function connectedClient() {
  const factory = fakeSockets();
  // random() = 0 takes no jitter off, so delays are exactly the backoff schedule.
  const client = new NotebookClient({ url: URL, createSocket: factory.create, random: () => 0 });
  const statuses: ConnectionStatus[] = [];
  client.onConnection((status) => statuses.push(status));
  client.connect();
  return { client, factory, statuses };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('NotebookClient sending', () => {
  it('sends versioned messages with increasing request ids', () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();

    const first = client.insertCell(0, { language: 'sql', source: 'select 1' });
    const second = client.runCell('c1');
    client.interrupt();

    expect(socket.url).toBe(URL);
    expect(second.req).toBe(first.req + 1);
    expect(socket.sentMessages).toEqual([
      { v: 1, type: 'insert_cell', req: first.req, index: 0, cell: { id: first.cellId, language: 'sql', source: 'select 1' } },
      { v: 1, type: 'run_cell', req: second.req, cell_id: 'c1' },
      { v: 1, type: 'interrupt', req: second.req + 1 },
    ]);
  });

  it('holds messages sent before the socket opens and sends them in order once it does', () => {
    const { client, factory } = connectedClient();
    client.updateCell('c1', 'x = 2');
    client.runCell('c1');
    const socket = factory.latest();
    expect(socket.sent).toEqual([]);

    socket.serverOpens();

    expect(socket.sentMessages.map((m) => m.type)).toEqual(['update_cell', 'run_cell']);
  });

  it('settles a request with the ack or error carrying its id', async () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const run = client.runCell('c1');
    const remove = client.deleteCell('nope');

    socket.serverSends({ v: 1, type: 'error', req: remove.req, code: 'not_found', message: 'No such cell.' });
    socket.serverSends({ v: 1, type: 'ack', req: run.req });

    await expect(run.settled).resolves.toMatchObject({ type: 'ack', req: run.req });
    await expect(remove.settled).resolves.toMatchObject({ type: 'error', code: 'not_found' });
  });

  it('settles requests left on a dropped socket as connection_lost', async () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    const run = client.runCell('c1');

    factory.latest().serverDrops();

    await expect(run.settled).resolves.toMatchObject({ type: 'error', code: 'connection_lost' });
  });
});

describe('structural requests are safe to retry', () => {
  it('names each inserted cell with a fresh id of its own, or the one given', () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    const first = client.insertCell(0, { language: 'python', source: '' });
    const second = client.insertCell(1, { language: 'python', source: '' });
    const named = client.insertCell(2, { id: 'mine', language: 'sql', source: '' });
    expect(first.cellId).toMatch(/^[0-9a-f]{12}$/);
    expect(second.cellId).not.toBe(first.cellId);
    expect(named.cellId).toBe('mine');
    expect(factory.latest().sentMessages.map((m) => (m.cell as { id: string }).id)).toEqual([first.cellId, second.cellId, 'mine']);
  });

  it('sends unanswered structural requests again, unchanged and first, after reconnecting', async () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    const insert = client.insertCell(1, { language: 'python', source: 'x' });
    const move = client.moveCell('c1', 0);
    const clear = client.clearOutputs();
    const run = client.runCell('c1');
    const sentFirst = factory.latest().sentMessages;

    factory.latest().serverDrops();
    await expect(run.settled).resolves.toMatchObject({ code: 'connection_lost' });
    client.runAll();
    vi.advanceTimersByTime(500);
    const fresh = factory.latest();
    fresh.serverOpens();

    expect(fresh.sentMessages.slice(0, 3)).toEqual(sentFirst.slice(0, 3));
    expect(fresh.sentMessages.map((m) => m.type)).toEqual(['insert_cell', 'move_cell', 'clear_outputs', 'run_all']);
    fresh.serverSends({ v: 1, type: 'ack', req: insert.req, cell_id: insert.cellId, revision: 3 });
    fresh.serverSends({ v: 1, type: 'ack', req: move.req, revision: 4 });
    fresh.serverSends({ v: 1, type: 'ack', req: clear.req, revision: 5, cell_ids: ['c1'] });
    await expect(insert.settled).resolves.toMatchObject({ type: 'ack', cell_id: insert.cellId });
    await expect(move.settled).resolves.toMatchObject({ type: 'ack' });
    await expect(clear.settled).resolves.toMatchObject({ type: 'ack' });

    // Answered: not sent a third time.
    fresh.serverDrops();
    vi.advanceTimersByTime(1000);
    expect(factory.latest()).not.toBe(fresh);
    factory.latest().serverOpens();
    expect(factory.latest().sentMessages).toEqual([]);
  });

  it('takes a resent delete that finds its cell gone as done, and tells no one of an error', async () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.code));
    const remove = client.deleteCell('c1');
    factory.latest().serverDrops();
    vi.advanceTimersByTime(500);
    const fresh = factory.latest();
    fresh.serverOpens();
    fresh.serverSends({ v: 1, type: 'error', req: remove.req, code: 'not_found', message: 'no cell' });
    await expect(remove.settled).resolves.toMatchObject({ type: 'ack', req: remove.req });
    expect(errors).toEqual([]);

    // A first delete of a cell that is not there is still an error.
    const other = client.deleteCell('nope');
    fresh.serverSends({ v: 1, type: 'error', req: other.req, code: 'not_found', message: 'no cell' });
    await expect(other.settled).resolves.toMatchObject({ type: 'error', code: 'not_found' });
    expect(errors).toEqual(['not_found']);
  });
});

describe('clearing outputs', () => {
  it('asks for one cell or all', () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    client.clearOutputs('c1');
    client.clearOutputs();
    expect(factory.latest().sentMessages).toMatchObject([
      { type: 'clear_outputs', cell_id: 'c1' },
      { type: 'clear_outputs', cell_id: null },
    ]);
  });

  it('empties the named cells when the server says they were cleared', () => {
    const model = new NotebookModel();
    const printed = { output_type: 'stream' as const, name: 'stdout' as const, text: 'hi\n' };
    model.apply(aliceSnapshot({
      notebook: { id: 7, title: 'T', revision: 1, config: {}, cells: [cell('a', '', { outputs: [printed] }), cell('b', '', { outputs: [printed] })] },
    }));
    const parsed = parseServerMessage(JSON.stringify({ v: 1, type: 'outputs_cleared', cell_ids: ['a'], revision: 2 }));
    expect('message' in parsed).toBe(true);
    if ('message' in parsed) model.apply(parsed.message);
    expect(model.cells.map((c) => c.outputs.length)).toEqual([0, 1]);
    expect(model.revision).toBe(2);
    expect('problem' in parseServerMessage(JSON.stringify({ v: 1, type: 'outputs_cleared', cell_ids: 'a', revision: 2 }))).toBe(true);
  });
});

describe('NotebookClient reconnecting', () => {
  it('reconnects with exponential backoff, capped, and reports each wait', () => {
    const factory = fakeSockets();
    const client = new NotebookClient({
      url: URL,
      createSocket: factory.create,
      random: () => 0,
      backoff: { initialMs: 100, factor: 2, maxMs: 300 },
    });
    const waits: number[] = [];
    client.onConnection((s) => s.state === 'reconnecting' && s.retryInMs !== undefined && waits.push(s.retryInMs));
    client.connect();

    for (let attempt = 0; attempt < 4; attempt++) {
      factory.latest().serverDrops();
      const made = factory.sockets.length;
      vi.advanceTimersByTime(waits[waits.length - 1]! - 1);
      expect(factory.sockets.length).toBe(made);
      vi.advanceTimersByTime(1);
      expect(factory.sockets.length).toBe(made + 1);
    }
    expect(waits).toEqual([100, 200, 300, 300]);
  });

  it('takes jitter off the delay so many tabs do not retry at once', () => {
    const factory = fakeSockets();
    const client = new NotebookClient({ url: URL, createSocket: factory.create, random: () => 1, backoff: { initialMs: 1000, jitter: 0.2 } });
    const statuses: ConnectionStatus[] = [];
    client.onConnection((s) => statuses.push(s));
    client.connect();
    factory.latest().serverDrops();
    expect(statuses.at(-1)).toEqual({ state: 'reconnecting', attempt: 1, retryInMs: 800 });
  });

  it('starts the backoff afresh once a snapshot arrives', () => {
    const { factory, statuses } = connectedClient();
    factory.latest().serverDrops();
    vi.advanceTimersByTime(500);
    factory.latest().serverDrops();
    expect(statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 2, retryInMs: 1000 });

    vi.advanceTimersByTime(1000);
    factory.latest().serverOpens();
    factory.latest().serverSends(aliceSnapshot());
    factory.latest().serverDrops();

    expect(statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, retryInMs: 500 });
  });

  it('reports connecting, open and reconnecting in turn', () => {
    const { factory, statuses } = connectedClient();
    factory.latest().serverOpens();
    factory.latest().serverDrops();
    vi.advanceTimersByTime(500);
    factory.latest().serverOpens();
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'open', 'reconnecting', 'reconnecting', 'open']);
  });

  it('does not reconnect after close()', () => {
    const { client, factory, statuses } = connectedClient();
    factory.latest().serverOpens();
    client.close();
    vi.advanceTimersByTime(60_000);
    expect(factory.sockets).toHaveLength(1);
    expect(factory.latest().closedByClient).toBe(true);
    expect(statuses.at(-1)?.state).toBe('closed');
  });

  it.each([4401, 4404])('stops for good when the server refuses with close code %i', async (code) => {
    const { client, factory, statuses } = connectedClient();
    factory.latest().serverOpens();
    const run = client.runCell('c1');
    factory.latest().serverDrops(code);
    vi.advanceTimersByTime(60_000);
    expect(factory.sockets).toHaveLength(1);
    expect(statuses.at(-1)).toEqual({ state: 'closed', attempt: 0, closeCode: code });
    await expect(run.settled).resolves.toMatchObject({ code: 'connection_lost' });
  });

  it('resyncs at once on a new socket, for a fresh snapshot, and only when one is open', async () => {
    const { client, factory } = connectedClient();
    client.resync(); // not open yet: its snapshot is coming anyway
    expect(factory.sockets).toHaveLength(1);
    factory.latest().serverOpens();
    const run = client.runCell('c1');
    client.resync();
    expect(factory.sockets).toHaveLength(2);
    expect(factory.sockets[0]!.closedByClient).toBe(true);
    await expect(run.settled).resolves.toMatchObject({ code: 'connection_lost' });
    factory.latest().serverOpens();
    client.interrupt();
    expect(factory.latest().sentMessages).toMatchObject([{ type: 'interrupt' }]);
  });

  it('sends messages queued while reconnecting on the new socket', () => {
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    factory.latest().serverDrops();
    client.updateCell('c1', 'y = 2');
    vi.advanceTimersByTime(500);
    const fresh = factory.latest();
    fresh.serverOpens();
    expect(fresh.sentMessages).toMatchObject([{ type: 'update_cell', cell_id: 'c1', source: 'y = 2' }]);
  });
});

describe('NotebookClient receiving', () => {
  it('delivers each message to the listeners of its type only, until they unsubscribe', () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const kernel = vi.fn();
    const outputs = vi.fn();
    const stop = client.on('kernel_status', kernel);
    client.on('output', outputs);

    socket.serverSends({ v: 1, type: 'kernel_status', state: 'busy' });
    stop();
    socket.serverSends({ v: 1, type: 'kernel_status', state: 'idle' });

    expect(kernel).toHaveBeenCalledTimes(1);
    expect(kernel).toHaveBeenCalledWith({ v: 1, type: 'kernel_status', state: 'busy' });
    expect(outputs).not.toHaveBeenCalled();
  });

  it.each([
    ['not JSON', '{oops'],
    ['an array', '[1, 2]'],
    ['an unknown type', { v: 1, type: 'launch_rockets' }],
    ['another protocol version', { v: 2, type: 'kernel_status', state: 'idle' }],
    ['a missing field', { v: 1, type: 'output', cell_id: 'c1' }],
    ['a bad enum value', { v: 1, type: 'kernel_status', state: 'sleepy' }],
    ['a bad output', { v: 1, type: 'output', cell_id: 'c1', output: { output_type: 'stream', name: 'stdlog', text: 'x' } }],
  ])('ignores %s with a console warning and keeps working', (_label, frame) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const seen = vi.fn();
    client.onAny(seen);

    socket.serverSends(frame);
    expect(seen).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/ignoring server message/);

    socket.serverSends({ v: 1, type: 'kernel_status', state: 'idle' });
    expect(seen).toHaveBeenCalledTimes(1);
  });

  it('accepts messages without "v" from servers that leave it out', () => {
    expect(parseServerMessage(JSON.stringify({ type: 'cell_deleted', cell_id: 'c1', revision: 2 }))).toEqual({
      message: { type: 'cell_deleted', cell_id: 'c1', revision: 2 },
    });
  });

  it('keeps delivering when one listener throws', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { client, factory } = connectedClient();
    factory.latest().serverOpens();
    const second = vi.fn();
    client.on('kernel_status', () => {
      throw new Error('broken view');
    });
    client.on('kernel_status', second);
    factory.latest().serverSends({ v: 1, type: 'kernel_status', state: 'busy' });
    expect(second).toHaveBeenCalled();
  });
});

describe('snapshot after reconnecting', () => {
  it('replaces the local state with the server state', () => {
    const { client, factory } = connectedClient();
    const model = new NotebookModel();
    client.onAny((message) => model.apply(message));
    factory.latest().serverOpens();
    factory.latest().serverSends(aliceSnapshot());
    factory.latest().serverSends({ v: 1, type: 'cell_inserted', index: 2, cell: cell('c3', 'z = 3'), revision: 4 });
    factory.latest().serverSends({ v: 1, type: 'output', cell_id: 'c1', output: { output_type: 'stream', name: 'stdout', text: 'hi' } });
    expect(model.cells.map((c) => c.id)).toEqual(['c1', 'c2', 'c3']);

    factory.latest().serverDrops();
    vi.advanceTimersByTime(500);
    factory.latest().serverOpens();
    factory.latest().serverSends(
      aliceSnapshot({
        notebook: { id: 7, title: 'Sales (renamed)', revision: 9, config: {}, cells: [cell('c2', 'print(x + 1)', { state: 'done' })] },
        kernel: { state: 'busy' },
        you: { username: 'alice', role: 'viewer' },
      }),
    );

    expect(model.title).toBe('Sales (renamed)');
    expect(model.revision).toBe(9);
    expect(model.kernel).toBe('busy');
    expect(model.you).toEqual({ username: 'alice', role: 'viewer' });
    expect(model.cells).toMatchObject([{ id: 'c2', source: 'print(x + 1)', state: 'done', outputs: [] }]);
    expect(model.cell('c1')).toBeUndefined();
  });
});

describe('notebookSocketUrl', () => {
  it('uses wss on https pages and ws otherwise', () => {
    expect(notebookSocketUrl(7, { protocol: 'https:', host: 'quire.example' } as Location)).toBe('wss://quire.example/ws/notebooks/7/');
    expect(notebookSocketUrl(7, { protocol: 'http:', host: 'localhost:8000' } as Location)).toBe('ws://localhost:8000/ws/notebooks/7/');
  });
});

describe('messages too long for one frame', () => {
  function chunksOf(message: object, size: number, id = 'm1') {
    const text = JSON.stringify(message);
    const count = Math.ceil(text.length / size);
    return Array.from({ length: count }, (_, index) => ({
      v: 1, type: 'chunk', id, index, count, data: text.slice(index * size, (index + 1) * size),
    }));
  }

  it('joins chunks into the message they carry and delivers it once, whatever their order', () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const seen: string[] = [];
    client.on('snapshot', (m) => seen.push(m.notebook.title));
    const snapshot = aliceSnapshot();
    const chunks = chunksOf(snapshot, 50);
    expect(chunks.length).toBeGreaterThan(3);
    const [first, ...rest] = chunks;
    for (const chunk of rest.reverse()) socket.serverSends(chunk);
    expect(seen).toEqual([]);
    socket.serverSends(first);
    expect(seen).toEqual([snapshot.notebook.title]);
  });

  it('forgets the pieces of a message when its connection is lost', () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const seen: unknown[] = [];
    client.on('kernel_status', (m) => seen.push(m.state));
    const [first, second] = chunksOf({ v: 1, type: 'kernel_status', state: 'busy' }, 20);
    socket.serverSends(first);
    socket.serverDrops(1006);
    vi.runOnlyPendingTimers();
    const fresh = factory.latest();
    fresh.serverOpens();
    fresh.serverSends(second);
    expect(seen).toEqual([]);
  });
});

describe('hover', () => {
  it('asks the kernel about the character at an offset and reads its Markdown and span', async () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const asked = client.hover('c1', 'python', 'print(x)', 2);
    const sent = socket.sentMessages.at(-1) as { req: number };
    expect(sent).toEqual({ v: 1, type: 'hover', req: sent.req, cell_id: 'c1', language: 'python', source: 'print(x)', pos: 2 });
    socket.serverSends({ v: 1, type: 'ack', req: sent.req, text: '```python\nprint()\n```', start: 0, end: 5 });
    await expect(asked).resolves.toEqual({ ok: true, value: { text: '```python\nprint()\n```', start: 0, end: 5 } });
  });

  it('answers nothing when there is nothing to say or no kernel runs', async () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const empty = client.hover('c1', 'python', 'x', 0);
    socket.serverSends({ v: 1, type: 'ack', req: (socket.sentMessages.at(-1) as { req: number }).req, text: '', start: 0, end: 0 });
    await expect(empty).resolves.toEqual({ ok: true, value: null });
    const idle = client.hover('c1', 'python', 'x', 0);
    socket.serverSends({ v: 1, type: 'ack', req: (socket.sentMessages.at(-1) as { req: number }).req, kernel: 'not_running' });
    await expect(idle).resolves.toEqual({ ok: true, value: null });
  });
});

describe('check', () => {
  it('asks the kernel for a source’s errors and reads their positions', async () => {
    const { client, factory } = connectedClient();
    const socket = factory.latest();
    socket.serverOpens();
    const asked = client.check('c1', 'python', 'x = (');
    const sent = socket.sentMessages.at(-1) as { req: number };
    expect(sent).toEqual({ v: 1, type: 'check', req: sent.req, cell_id: 'c1', language: 'python', source: 'x = (' });
    const position = { line: 1, column: 5, end_line: 1, end_column: 6, message: "'(' was never closed" };
    socket.serverSends({ v: 1, type: 'ack', req: sent.req, positions: [position, { line: 'x' }] });
    await expect(asked).resolves.toEqual({ ok: true, value: [position] });
    const idle = client.check('c1', 'python', 'x');
    socket.serverSends({ v: 1, type: 'ack', req: (socket.sentMessages.at(-1) as { req: number }).req, kernel: 'not_running' });
    await expect(idle).resolves.toEqual({ ok: true, value: [] });
  });
});
