import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CommandKeys } from '../src/commandMode';
import { errorPositions } from '../src/components/CellView';
import { SymbolTable, scopeFromCells } from '../src/components/SymbolTable';
import { TableView } from '../src/components/TableView';
import { TaskList } from '../src/components/TaskList';
import { TruncatedText, truncate } from '../src/components/TruncatedText';
import { renderMarkdown } from '../src/markdownHtml';
import { NotebookModel } from '../src/notebookModel';
import { NotebookClient, parseServerMessage } from '../src/protocol';
import { fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

const X = { name: 'x', language: 'python', type: 'int', repr: '1' };

function openClient() {
  const factory = fakeSockets();
  const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: factory.create, random: () => 0 });
  client.connect();
  const socket = factory.latest();
  socket.serverOpens();
  return { client, socket };
}

function modelWithAlice(): NotebookModel {
  const model = new NotebookModel();
  model.apply(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('c1', 'x = 1'), cell('c2', 'print(x)'), cell('c3', 'y = x')] } }));
  return model;
}

afterEach(() => {
  document.body.replaceChildren();
});

describe('protocol additions', () => {
  it('sends the run, kernel and presence commands', () => {
    const { client, socket } = openClient();
    client.runAll();
    client.runFrom('c2');
    client.runStale();
    client.restart();
    client.shutdown();
    client.focus('c1');
    client.focus(null);
    expect(socket.sentMessages.map(({ req: _req, v: _v, ...rest }) => rest)).toEqual([
      { type: 'run_all' },
      { type: 'run_from', cell_id: 'c2' },
      { type: 'run_stale' },
      { type: 'restart' },
      { type: 'shutdown' },
      { type: 'focus', cell_id: 'c1' },
      { type: 'focus', cell_id: null },
    ]);
  });

  it('asks for completions and reads the items from the ack', async () => {
    const { client, socket } = openClient();
    const reply = client.complete('c1', 'python', 'import os; os.pa', 16);
    const sent = socket.sentMessages[0]!;
    expect(sent).toMatchObject({ type: 'complete', cell_id: 'c1', language: 'python', source: 'import os; os.pa', pos: 16 });
    expect(client.isQuiet(sent.req as number)).toBe(true);
    socket.serverSends({ type: 'ack', req: sent.req, items: [{ label: 'path', kind: 'module', detail: 'module path' }, { nope: 1 }], incomplete: true });
    await expect(reply).resolves.toEqual({ ok: true, value: { items: [{ label: 'path', kind: 'module', detail: 'module path' }], incomplete: true } });
  });

  it('treats "no kernel running" as no completions, and as a reason for no table page', async () => {
    const { client, socket } = openClient();
    const completions = client.complete('c1', 'scala', 'List(1).ma', 10);
    const page = client.tablePage('c1', 'c1:0', 10, 10);
    const [c, p] = socket.sentMessages;
    socket.serverSends({ type: 'ack', req: c!.req, kernel: 'not_running' });
    socket.serverSends({ type: 'ack', req: p!.req, kernel: 'not_running' });
    await expect(completions).resolves.toEqual({ ok: true, value: { items: [], incomplete: false } });
    await expect(page).resolves.toMatchObject({ ok: false, code: 'not_running' });
  });

  it('reads signatures, table pages and scopes; reports errors and malformed replies', async () => {
    const { client, socket } = openClient();
    const signature = client.signature('c1', 'python', 'print(', 6);
    const page = client.tablePage('c1', 'c1:1', 20, 10);
    const scope = client.inspectScope('c2');
    const broken = client.inspectScope('c3');
    const [s, p, sc, b] = socket.sentMessages;
    expect(p).toMatchObject({ type: 'table_page', cell_id: 'c1', ref: 'c1:1', offset: 20, page_size: 10 });
    socket.serverSends({ type: 'ack', req: s!.req, signatures: [{ label: 'print(*values)', params: ['*values'], active_param: 0, doc: 'Prints.' }] });
    socket.serverSends({ type: 'error', req: p!.req, code: 'not_found', message: 'no table' });
    socket.serverSends({ type: 'ack', req: sc!.req, defined: [], visible: [X] });
    socket.serverSends({ type: 'ack', req: b!.req });
    await expect(signature).resolves.toEqual({ ok: true, value: [{ label: 'print(*values)', params: ['*values'], active_param: 0, doc: 'Prints.' }] });
    await expect(page).resolves.toEqual({ ok: false, code: 'not_found', message: 'no table' });
    await expect(scope).resolves.toEqual({ ok: true, value: { defined: [], visible: [X] } });
    await expect(broken).resolves.toMatchObject({ ok: false, code: 'malformed' });
  });

  it('accepts the new server messages and refuses malformed ones', () => {
    const ok = (m: unknown) => 'message' in parseServerMessage(JSON.stringify(m));
    expect(ok({ type: 'presence', users: [{ username: 'bob', cell_id: null }] })).toBe(true);
    expect(ok({ type: 'tasks', queue: ['c2'], running: 'c1' })).toBe(true);
    expect(ok({ type: 'spark_progress', cell_id: 'c1', jobs: [{ job_id: 0, status: 'RUNNING', stages: [{ stage_id: 1, name: 'count', done: 3, total: 8, failed: 0 }] }], ui_url: null })).toBe(true);
    expect(ok({ type: 'draft_replaced', revision: 9 })).toBe(true);
    expect(ok({ type: 'tasks', queue: 'c2', running: null })).toBe(false);
    expect(ok({ type: 'presence', users: [{ cell_id: 'c1' }] })).toBe(false);
    expect(ok({ type: 'spark_progress', cell_id: 'c1', jobs: [{ job_id: 'x' }] })).toBe(false);
  });
});

describe('the notebook model', () => {
  it('marks cells stale until they run again', () => {
    const model = modelWithAlice();
    model.apply({ type: 'cell_result', cell_id: 'c1', symbols: [X], stale: ['c2', 'c3'] });
    expect(model.staleCells).toEqual(['c2', 'c3']);
    model.apply({ type: 'cell_status', cell_id: 'c2', state: 'queued' });
    expect(model.staleCells).toEqual(['c3']);
  });

  it('keeps the run queue, the running cell and Spark progress', () => {
    const model = modelWithAlice();
    const changes: string[] = [];
    model.subscribe((change) => changes.push(change.kind));
    model.apply({ type: 'tasks', queue: ['c3', 'c2'], running: 'c1' });
    model.apply({ type: 'spark_progress', cell_id: 'c1', jobs: [], ui_url: 'http://spark:4040' });
    expect(model.queuePosition('c2')).toBe(2);
    expect(model.queuePosition('c1')).toBeNull();
    expect(model.runningCell).toBe('c1');
    expect(model.sparkProgress('c1')).toEqual({ jobs: [], uiUrl: 'http://spark:4040', uiNote: null });
    model.apply({ type: 'spark_progress', cell_id: 'c1', jobs: [], ui_url: null, ui_note: 'No Spark UI: it is off.' });
    expect(model.sparkProgress('c1')).toEqual({ jobs: [], uiUrl: null, uiNote: 'No Spark UI: it is off.' });
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'running' });
    expect(model.sparkProgress('c1')).toBeUndefined();
    expect(changes).toEqual(['tasks', 'spark', 'spark', 'spark', 'cell']);
  });

  it('knows who is in which cell, leaving us out', () => {
    const model = modelWithAlice();
    model.apply({ type: 'presence', users: [{ username: 'alice', cell_id: 'c1' }, { username: 'bob', cell_id: 'c1' }, { username: 'carol', cell_id: 'c2' }, { username: 'dan', cell_id: null }] });
    expect(Object.fromEntries(model.othersByCell())).toEqual({ c1: ['bob'], c2: ['carol'] });
  });

  it('announces a replaced draft and forgets tasks on a new snapshot', () => {
    const model = modelWithAlice();
    const changes: unknown[] = [];
    model.subscribe((change) => changes.push(change));
    model.apply({ type: 'draft_replaced', revision: 12 });
    model.apply({ type: 'tasks', queue: ['c2'], running: null });
    model.apply(aliceSnapshot());
    expect(changes[0]).toEqual({ kind: 'draft_replaced', revision: 12 });
    expect(model.queue).toEqual([]);
  });
});

describe('Markdown with LaTeX', () => {
  it('renders Markdown and KaTeX', () => {
    const html = renderMarkdown('# Title\n\nThe area is $x^2$.\n\n$$\\int_0^1 x\\,dx$$\n');
    const div = document.createElement('div');
    div.innerHTML = html;
    expect(div.querySelector('h1')?.textContent).toBe('Title');
    expect(div.querySelectorAll('.katex').length).toBe(2);
    expect(div.querySelector('.katex-display')).not.toBeNull();
  });

  it('leaves dollar amounts alone', () => {
    expect(renderMarkdown('It costs $5 and $6.')).not.toContain('katex');
  });

  it.each([
    '<script>window.pwned = 1</script>',
    '<img src=x onerror="window.pwned = 1">',
    '[click](javascript:window.pwned=1)',
    '<iframe src="https://example.com"></iframe>',
    '<a href="#" onclick="window.pwned=1">x</a>',
    '$\\href{javascript:alert(1)}{x}$',
  ])('removes script from %s', (source) => {
    const div = document.createElement('div');
    div.innerHTML = renderMarkdown(source);
    expect(div.querySelector('script, iframe')).toBeNull();
    for (const element of div.querySelectorAll('*')) {
      for (const attribute of element.attributes) {
        expect(attribute.name).not.toMatch(/^on/i);
        expect(attribute.value).not.toMatch(/^\s*javascript:/i);
      }
    }
  });
});

describe('command mode keys', () => {
  it('maps Jupyter keys and needs d twice, quickly', () => {
    let now = 0;
    const keys = new CommandKeys(() => now);
    expect(keys.press({ key: 'a' })).toBe('insert_above');
    expect(keys.press({ key: 'b' })).toBe('insert_below');
    expect(keys.press({ key: 'Enter' })).toBe('edit');
    expect(keys.press({ key: 'Enter', shiftKey: true })).toBe('run_and_advance');
    expect(keys.press({ key: 'Enter', ctrlKey: true })).toBe('run');
    expect(keys.press({ key: 'ArrowDown' })).toBe('select_next');
    expect(keys.press({ key: 'd' })).toBeNull();
    expect(keys.press({ key: 'd' })).toBe('delete');
    expect(keys.press({ key: 'd' })).toBeNull();
    now = 2000;
    expect(keys.press({ key: 'd' })).toBeNull();
    expect(keys.press({ key: 'a', ctrlKey: true })).toBeNull();
  });
});

describe('side panels', () => {
  it('says why there is no Spark UI link', () => {
    const tasks = new TaskList(vi.fn(), vi.fn());
    tasks.render({
      running: 'c1',
      queue: [],
      spark: [['c1', { jobs: [], uiUrl: null, uiNote: 'No Spark UI: spark.ui.enabled is false.' }]],
      building: [],
      label: (id) => id,
      canStop: true,
    });
    expect(tasks.element.querySelector('[data-testid="spark-ui-link"]')).toBeNull();
    expect(tasks.element.querySelector('[data-testid="spark-ui-note"]')?.textContent).toBe('No Spark UI: spark.ui.enabled is false.');
  });

  it('lists the running cell, the queue in order and Spark stages with progress', () => {
    const stop = vi.fn();
    const tasks = new TaskList(stop, vi.fn());
    tasks.render({
      running: 'c1',
      queue: ['c3', 'c2'],
      spark: [['c1', { jobs: [{ job_id: 4, status: 'RUNNING', stages: [{ stage_id: 7, name: 'count', done: 3, total: 4, failed: 0 }] }], uiUrl: 'http://driver:4040', uiNote: null }]],
      building: [],
      label: (id) => `Cell ${id.slice(1)}`,
      canStop: true,
    });
    const el = tasks.element;
    expect(el.querySelector('[data-testid="task-running"]')?.textContent).toBe('Cell 1 running');
    expect([...el.querySelectorAll('[data-testid="task-queued"]')].map((e) => e.textContent)).toEqual(['#1Cell 3', '#2Cell 2']);
    expect(el.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')).toBe('3');
    expect(el.querySelector<HTMLElement>('.progress-fill')?.style.width).toBe('75%');
    expect(el.querySelector('[data-testid="spark-ui-link"]')?.getAttribute('href')).toBe('http://driver:4040');
    el.querySelector<HTMLButtonElement>('[data-testid="task-stop"]')!.click();
    expect(stop).toHaveBeenCalled();
  });

  it('shows what a cell defined and what it sees from above, and inspects a symbol', () => {
    const y = { name: 'y', language: 'scala', type: 'Int', repr: '2' };
    const scope = scopeFromCells([{ id: 'c1', symbols: [X] }, { id: 'c2', symbols: [{ ...X, repr: '5' }, y] }, { id: 'c3', symbols: [{ ...X, repr: '9' }] }], 'c3');
    expect(scope.visible.map((s) => `${s.name}=${s.repr}`)).toEqual(['x=5', 'y=2']);
    const table = new SymbolTable();
    document.body.append(table.element);
    table.render('Cell 3', scope);
    expect(table.element.querySelector('[data-testid="symbols-defined"]')?.textContent).toBe('xint9');
    table.element.querySelectorAll<HTMLElement>('[data-testid="symbols-visible"] tr')[1]!.click();
    const inspector = table.element.querySelector<HTMLElement>('[data-testid="inspector"]')!;
    expect(inspector.hidden).toBe(false);
    expect(inspector.textContent).toContain('Int');
  });
});

describe('outputs', () => {
  beforeEach(() => vi.useRealTimers());

  it('truncates huge text and shows the rest on request', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n');
    expect(truncate(text)?.hiddenLines).toBe(600);
    const view = TruncatedText(text, 'output-text');
    expect(view.querySelector('pre')!.textContent!.split('\n').length).toBe(401);
    view.querySelector<HTMLButtonElement>('[data-testid="show-more"]')!.click();
    expect(view.querySelector('pre')!.textContent).toBe(text);
    expect(truncate('short')).toBeNull();
  });

  it('pages through a table the kernel holds', async () => {
    const pager = vi.fn((_ref: string, offset: number, pageSize: number) =>
      Promise.resolve({ ok: true as const, value: { schema: [{ name: 'n', type: 'int' }], rows: [[offset + 1], [offset + 2]], total_rows: 5, offset, page_size: pageSize } }),
    );
    const view = TableView({ schema: [{ name: 'n', type: 'int' }], rows: [[1], [2]], total_rows: 5, offset: 0, page_size: 2, ref: 'c1:1' }, pager);
    const next = view.querySelector<HTMLButtonElement>('[data-testid="table-next"]')!;
    expect(view.querySelector<HTMLButtonElement>('[data-testid="table-prev"]')!.disabled).toBe(true);
    next.click();
    await vi.waitFor(() => expect(view.querySelector('tbody')!.textContent).toBe('34'));
    expect(pager).toHaveBeenCalledWith('c1:1', 2, 2);
    expect(view.querySelector('[data-testid="table-summary"]')!.textContent).toBe('showing 2 of 5 rows (3–4)');
  });

  it('collects the error positions for underlines', () => {
    const position = { line: 2, column: 1, end_line: 2, end_column: 4, message: 'bad' };
    expect(errorPositions([{ output_type: 'stream', name: 'stdout', text: '' }, { output_type: 'error', ename: 'E', evalue: '', traceback: [], positions: [position] }])).toEqual([position]);
  });
});

describe('reconnecting', () => {
  it("takes the kernel's word on runs in progress after the snapshot", () => {
    const model = modelWithAlice();
    model.apply({ type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [{ output_type: 'stream', name: 'stdout', text: 'so far\n' }] });
    expect(model.cell('c2')).toMatchObject({ state: 'running', outputs: [{ text: 'so far\n' }] });
  });

  it('takes a run that finished while connecting, symbols included', () => {
    const model = modelWithAlice();
    const symbol = { name: 'x', language: 'python', type: 'int', repr: '2' };
    const message = { type: 'cell_sync', cell_id: 'c2', state: 'done', outputs: [{ output_type: 'stream', name: 'stdout', text: 'all\n' }], symbols: [symbol] };
    const parsed = parseServerMessage(JSON.stringify({ v: 1, ...message }));
    if (!('message' in parsed)) throw new Error(parsed.problem);
    model.apply(parsed.message);
    expect(model.cell('c2')).toMatchObject({ state: 'done', outputs: [{ text: 'all\n' }], symbols: [symbol] });
  });

  it("keeps the snapshot's stale mark on a finished run, and drops it for one in progress", () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [{ ...cell('c1', 'y = x'), stale: true }, { ...cell('c2', 'z = x'), stale: true }] } }));
    // The stored mark came after the run finished (a cell it read was deleted): the run does not clear it.
    model.apply({ type: 'cell_sync', cell_id: 'c1', state: 'done', outputs: [] });
    model.apply({ type: 'cell_sync', cell_id: 'c2', state: 'running', outputs: [] });
    expect(model.cell('c1')?.stale).toBe(true);
    expect(model.cell('c2')?.stale).toBe(false);
  });
});
