import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { CollabSources, type EditOutcome, REFUSED_EDIT_NOTICE, deltaToChanges, fromBase64, toBase64 } from '../src/collab';
import { NotebookPage } from '../src/components/NotebookPage';
import { applyChanges, diffText, transformPosition } from '../src/lib/textChanges';
import { NotebookClient } from '../src/protocol';
import { type FakeWebSocket, fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

describe('text changes', () => {
  it('finds the one change between two texts, at the caret when ambiguous', () => {
    expect(diffText('aa', 'aaa', 1)).toEqual({ offset: 0, deleteCount: 0, insert: 'a' });
    expect(diffText('aa', 'aaa', 3)).toEqual({ offset: 2, deleteCount: 0, insert: 'a' });
    expect(diffText('abc', 'ac', 1)).toEqual({ offset: 1, deleteCount: 1, insert: '' });
    expect(diffText('x = 1', 'x = 42', 6)).toEqual({ offset: 4, deleteCount: 1, insert: '42' });
    expect(diffText('same', 'same')).toBeNull();
    for (const [before, after] of [['hello world', 'hello brave world'], ['abcabc', 'abc'], ['', 'new'], ['gone', '']]) {
      const change = diffText(before!, after!)!;
      expect(applyChanges(before!, [change])).toBe(after);
    }
  });

  it('moves a caret past text inserted or deleted before it, not past text inserted at it', () => {
    expect(transformPosition(5, [{ offset: 2, deleteCount: 0, insert: 'abc' }])).toBe(8);
    expect(transformPosition(5, [{ offset: 5, deleteCount: 0, insert: 'abc' }])).toBe(5);
    expect(transformPosition(5, [{ offset: 6, deleteCount: 0, insert: 'abc' }])).toBe(5);
    expect(transformPosition(5, [{ offset: 1, deleteCount: 2, insert: '' }])).toBe(3);
    expect(transformPosition(5, [{ offset: 3, deleteCount: 4, insert: '' }])).toBe(3);
  });

  it('turns a Y.Text delta into changes applied in order', () => {
    expect(deltaToChanges([{ retain: 2 }, { insert: 'ab' }, { retain: 1 }, { delete: 3 }])).toEqual([
      { offset: 2, deleteCount: 0, insert: 'ab' },
      { offset: 5, deleteCount: 3, insert: '' },
    ]);
  });
});

/**
 * The server's half of collaborative editing, as notebooks/collab.py does it: one document, each
 * `edit_source` applied to it and passed on to every client as `cell_updated` with the update.
 */
class FakeServer {
  readonly doc = new Y.Doc();
  revision = 3;
  /** How many of the next edits it refuses (as a demoted editor's or an oversize edit would be), applying none. */
  refuseNext = 0;
  private readonly sockets: FakeWebSocket[] = [];
  private readonly read = new Map<FakeWebSocket, number>();

  constructor(cells: Record<string, string>) {
    const sources = this.doc.getMap<Y.Text>('sources');
    for (const [id, source] of Object.entries(cells)) sources.set(id, new Y.Text(source));
  }

  source(cellId: string): string {
    return this.doc.getMap<Y.Text>('sources').get(cellId)!.toString();
  }

  /** A client connects: it gets the snapshot, document included. */
  connect(socket: FakeWebSocket, username: string, role: 'owner' | 'editor' | 'viewer' = 'editor'): void {
    this.sockets.push(socket);
    this.read.set(socket, socket.sent.length);
    socket.serverOpens();
    const cells = [...this.doc.getMap<Y.Text>('sources').entries()].map(([id, text]) => cell(id, text.toString()));
    socket.serverSends(
      aliceSnapshot({
        notebook: { id: 7, title: 'Together', revision: this.revision, config: {}, cells, ydoc: toBase64(Y.encodeStateAsUpdate(this.doc)) },
        you: { username, role },
      }),
    );
  }

  /** Handles what the clients sent since last time, in the order each sent it. */
  deliver(): void {
    for (const socket of this.sockets) {
      const frames = socket.sent.slice(this.read.get(socket));
      this.read.set(socket, socket.sent.length);
      for (const frame of frames) {
        const message = JSON.parse(frame) as { type: string; req: number; cell_id: string; update: string };
        if (message.type !== 'edit_source') continue;
        if (this.refuseNext > 0) {
          this.refuseNext--;
          socket.serverSends({ type: 'error', req: message.req, code: 'forbidden', message: 'you can only view this notebook' });
          continue;
        }
        Y.applyUpdate(this.doc, fromBase64(message.update));
        this.revision++;
        socket.serverSends({ type: 'ack', req: message.req, revision: this.revision });
        for (const other of this.sockets) {
          other.serverSends({
            type: 'cell_updated',
            cell_id: message.cell_id,
            source: this.source(message.cell_id),
            revision: this.revision,
            ydoc_update: message.update,
          });
        }
      }
    }
  }
}

interface Client {
  page: NotebookPage;
  socket: FakeWebSocket;
  sockets: ReturnType<typeof fakeSockets>;
}

const pages: NotebookPage[] = [];

function open(server: FakeServer, username: string, role: 'owner' | 'editor' | 'viewer' = 'editor'): Client {
  const sockets = fakeSockets();
  const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
  const page = new NotebookPage({ notebookId: 7, client, loadNotebook: () => new Promise(() => undefined) });
  pages.push(page);
  document.body.append(page.element);
  page.start();
  server.connect(sockets.latest(), username, role);
  return { page, socket: sockets.latest(), sockets };
}

const editorOf = (client: Client, cellId: string): HTMLTextAreaElement => {
  const textarea = client.page.element.querySelector<HTMLTextAreaElement>(`[data-cell-id="${cellId}"] textarea`);
  if (!textarea) throw new Error(`no editor for ${cellId}`);
  return textarea;
};

/** Types `text` at `offset` as the browser would: the value changes, the caret follows, an input event fires. */
function typeAt(textarea: HTMLTextAreaElement, offset: number, text: string): void {
  textarea.value = textarea.value.slice(0, offset) + text + textarea.value.slice(offset);
  textarea.setSelectionRange(offset + text.length, offset + text.length);
  textarea.dispatchEvent(new Event('input'));
}

const sentTypes = (client: Client): string[] => client.socket.sentMessages.map((m) => String(m.type)).filter((t) => t !== 'focus' && t !== 'inspect_scope');

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const page of pages.splice(0)) page.dispose();
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe('collaborative editing', () => {
  it('keeps both people’s keystrokes when they type in one cell at once', () => {
    const server = new FakeServer({ c1: 'line one\nline two' });
    const alice = open(server, 'alice', 'owner');
    const bob = open(server, 'bob');

    // Both type before either hears of the other: alice at the end of line one, bob at the end of line two.
    for (const ch of 'ABC') {
      const a = editorOf(alice, 'c1');
      typeAt(a, a.value.indexOf('\n'), ch);
      const b = editorOf(bob, 'c1');
      typeAt(b, b.value.length, ch.toLowerCase());
    }
    expect(editorOf(alice, 'c1').value).toBe('line oneABC\nline two');
    expect(editorOf(bob, 'c1').value).toBe('line one\nline twoabc');
    // Batched for 50 ms: one edit_source per person, and no whole-source update_cell.
    vi.advanceTimersByTime(50);
    expect(sentTypes(alice)).toEqual(['edit_source']);
    expect(sentTypes(bob)).toEqual(['edit_source']);

    server.deliver();

    const expected = 'line oneABC\nline twoabc';
    expect(server.source('c1')).toBe(expected);
    expect(editorOf(alice, 'c1').value).toBe(expected);
    expect(editorOf(bob, 'c1').value).toBe(expected);
    expect(alice.page.model.cell('c1')?.source).toBe(expected);
    expect(bob.page.model.cell('c1')?.source).toBe(expected);
  });

  it('converges when both insert at the same place, keeping both', () => {
    const server = new FakeServer({ c1: 'xy' });
    const alice = open(server, 'alice', 'owner');
    const bob = open(server, 'bob');
    typeAt(editorOf(alice, 'c1'), 1, 'alice');
    typeAt(editorOf(bob, 'c1'), 1, 'bob');
    vi.advanceTimersByTime(50);
    server.deliver();
    const text = server.source('c1');
    expect(text).toMatch(/^x(alicebob|bobalice)y$/);
    expect(editorOf(alice, 'c1').value).toBe(text);
    expect(editorOf(bob, 'c1').value).toBe(text);
  });

  it('keeps the local caret where it was when someone else types above it', () => {
    const server = new FakeServer({ c1: 'first\nsecond' });
    const alice = open(server, 'alice', 'owner');
    const bob = open(server, 'bob');
    const mine = editorOf(bob, 'c1');
    mine.focus();
    mine.setSelectionRange(9, 9); // "sec|ond"
    typeAt(editorOf(alice, 'c1'), 0, '# ');
    vi.advanceTimersByTime(50);
    server.deliver();
    expect(mine.value).toBe('# first\nsecond');
    expect(mine.selectionStart).toBe(11);
    expect(mine.selectionEnd).toBe(11);
  });

  it('sends a cell’s pending edits before running it', () => {
    const server = new FakeServer({ c1: 'x = 1' });
    const alice = open(server, 'alice', 'owner');
    const editor = editorOf(alice, 'c1');
    typeAt(editor, 5, '0');
    editor.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true }));
    expect(sentTypes(alice)).toEqual(['edit_source', 'run_cell']);
    server.deliver();
    expect(server.source('c1')).toBe('x = 10');
  });

  it('gives viewers a read-only editor that follows the others', () => {
    const server = new FakeServer({ c1: 'x = 1' });
    const alice = open(server, 'alice', 'owner');
    const carol = open(server, 'carol', 'viewer');
    expect(editorOf(carol, 'c1').readOnly).toBe(true);
    typeAt(editorOf(alice, 'c1'), 5, '23');
    vi.advanceTimersByTime(50);
    server.deliver();
    expect(editorOf(carol, 'c1').value).toBe('x = 123');
    expect(sentTypes(carol)).toEqual([]);
  });

  it('rebuilds the document from a fresh snapshot after reconnecting', () => {
    const server = new FakeServer({ c1: 'before' });
    const alice = open(server, 'alice', 'owner');
    alice.socket.serverDrops();
    // Someone else changed the cell meanwhile.
    server.doc.getMap<Y.Text>('sources').get('c1')!.insert(6, ' and after');
    vi.advanceTimersByTime(500);
    server.connect(alice.sockets.latest(), 'alice', 'owner');
    expect(editorOf(alice, 'c1').value).toBe('before and after');
    // Typing goes on against the new document.
    typeAt(editorOf(alice, 'c1'), 0, '> ');
    vi.advanceTimersByTime(50);
    server.deliver();
    expect(server.source('c1')).toBe('> before and after');
  });

  it('applies the document update that comes with an inserted cell', () => {
    const server = new FakeServer({ c1: 'x' });
    const alice = open(server, 'alice', 'owner');
    const before = Y.encodeStateVector(server.doc);
    server.doc.getMap<Y.Text>('sources').set('c2', new Y.Text(''));
    const update = toBase64(Y.encodeStateAsUpdate(server.doc, before));
    alice.socket.serverSends({ type: 'cell_inserted', index: 1, cell: cell('c2', ''), revision: 4, ydoc_update: update });
    typeAt(editorOf(alice, 'c2'), 0, 'y = 2');
    vi.advanceTimersByTime(50);
    expect(sentTypes(alice)).toEqual(['edit_source']);
    server.deliver();
    expect(server.source('c2')).toBe('y = 2');
  });
});

describe('CollabSources', () => {
  it('merges a cell’s updates typed within the batch window into one', () => {
    const sent: [string, string][] = [];
    const doc = new Y.Doc();
    doc.getMap<Y.Text>('sources').set('c1', new Y.Text(''));
    const collab = new CollabSources({ send: (cellId, update) => void sent.push([cellId, update]), batchMs: 50 });
    collab.load(toBase64(Y.encodeStateAsUpdate(doc)));
    for (const [i, ch] of [...'hello'].entries()) collab.edit('c1', [{ offset: i, deleteCount: 0, insert: ch }]);
    vi.advanceTimersByTime(49);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(1);
    Y.applyUpdate(doc, fromBase64(sent[0]![1]));
    expect(doc.getMap<Y.Text>('sources').get('c1')!.toString()).toBe('hello');
  });

  it('sends updates in the order they were made, whichever cell is flushed: each builds on the ones before', () => {
    const sent: [string, string][] = [];
    const server = new Y.Doc();
    server.getMap<Y.Text>('sources').set('c1', new Y.Text('a'));
    server.getMap<Y.Text>('sources').set('c2', new Y.Text('b'));
    const collab = new CollabSources({ send: (cellId, update) => void sent.push([cellId, update]), batchMs: 50 });
    collab.load(toBase64(Y.encodeStateAsUpdate(server)));
    collab.edit('c2', [{ offset: 1, deleteCount: 0, insert: '2' }]);
    collab.edit('c1', [{ offset: 1, deleteCount: 0, insert: '1' }]);
    collab.edit('c2', [{ offset: 2, deleteCount: 0, insert: '!' }]);
    expect(collab.hasPending('c1')).toBe(true);
    // Running c1 sends its text, and the c2 edit made before it first.
    collab.flush('c1');
    expect(sent.map(([cellId]) => cellId)).toEqual(['c2', 'c1', 'c2']);
    for (const [, update] of sent) {
      const before = Y.encodeStateVector(server);
      Y.applyUpdate(server, fromBase64(update));
      // Each one applied in full on arrival, nothing held back waiting for a later one.
      expect(Y.encodeStateVector(server)).not.toEqual(before);
      expect(server.store.pendingStructs).toBeNull();
    }
    expect(server.getMap<Y.Text>('sources').get('c1')!.toString()).toBe('a1');
    expect(server.getMap<Y.Text>('sources').get('c2')!.toString()).toBe('b2!');
    vi.advanceTimersByTime(50);
    expect(sent).toHaveLength(3);
    expect(collab.hasPending('c2')).toBe(false);
  });
});

describe('an edit the server refuses', () => {
  const sentOn = (socket: FakeWebSocket): string[] => socket.sentMessages.map((m) => String(m.type)).filter((t) => t === 'edit_source');
  const notice = (client: Client): HTMLElement => client.page.element.querySelector<HTMLElement>('[data-testid="notice"]')!;

  it('rolls the editor back to the server’s text, visibly, and typing goes on from there', async () => {
    const server = new FakeServer({ c1: 'total = 1' });
    const alice = open(server, 'alice', 'owner');
    typeAt(editorOf(alice, 'c1'), 0, '"');
    vi.advanceTimersByTime(50);
    server.refuseNext = 1;
    server.deliver();
    await vi.advanceTimersByTimeAsync(0);

    expect(notice(alice).hidden).toBe(false);
    expect(notice(alice).textContent).toContain(REFUSED_EDIT_NOTICE);
    // The page asked for the server's state: a new connection, whose snapshot replaces the document.
    const fresh = alice.sockets.latest();
    expect(fresh).not.toBe(alice.socket);
    // Typing meanwhile builds on the refused edit, which the server could never apply: it is not sent.
    typeAt(editorOf(alice, 'c1'), 1, 'x');
    vi.advanceTimersByTime(50);
    expect(sentOn(alice.socket)).toEqual(['edit_source']);
    server.connect(fresh, 'alice', 'owner');
    expect(editorOf(alice, 'c1').value).toBe('total = 1');
    expect(alice.page.model.cell('c1')?.source).toBe('total = 1');

    typeAt(editorOf(alice, 'c1'), 9, '0');
    vi.advanceTimersByTime(50);
    expect(sentOn(fresh)).toEqual(['edit_source']);
    server.deliver();
    expect(server.source('c1')).toBe('total = 10');
    expect(editorOf(alice, 'c1').value).toBe('total = 10');
  });

  it('also drops what was sent after the refused edit: the editor ends as the server has it', async () => {
    const server = new FakeServer({ c1: 'a' });
    const alice = open(server, 'alice', 'owner');
    typeAt(editorOf(alice, 'c1'), 1, 'b');
    vi.advanceTimersByTime(50);
    typeAt(editorOf(alice, 'c1'), 2, 'c');
    vi.advanceTimersByTime(50);
    expect(sentOn(alice.socket)).toEqual(['edit_source', 'edit_source']);
    // The first is refused; the second, built on it, cannot be applied by the server either.
    server.refuseNext = 2;
    server.deliver();
    await vi.advanceTimersByTimeAsync(0);
    expect(alice.sockets.sockets).toHaveLength(2);
    server.connect(alice.sockets.latest(), 'alice', 'owner');
    expect(editorOf(alice, 'c1').value).toBe(server.source('c1'));
    expect(server.source('c1')).toBe('a');
  });

  it('is not what a lost connection is: no notice, the reconnect’s snapshot tells the truth', async () => {
    const server = new FakeServer({ c1: 'x' });
    const alice = open(server, 'alice', 'owner');
    typeAt(editorOf(alice, 'c1'), 1, 'y');
    vi.advanceTimersByTime(50);
    alice.socket.serverDrops();
    await vi.advanceTimersByTimeAsync(0);
    expect(notice(alice).textContent ?? '').not.toContain(REFUSED_EDIT_NOTICE);
  });
});

describe('CollabSources after a refusal', () => {
  function loaded(text: string): { collab: CollabSources; sent: string[]; answers: ((o: EditOutcome) => void)[]; refused: string[] } {
    const sent: string[] = [];
    const answers: ((o: EditOutcome) => void)[] = [];
    const refused: string[] = [];
    const collab = new CollabSources({
      send: (_cellId, update) => {
        sent.push(update);
        return new Promise<EditOutcome>((resolve) => answers.push(resolve));
      },
      refused: (cellId, reason) => refused.push(`${cellId}: ${reason}`),
      batchMs: 10,
    });
    const doc = new Y.Doc();
    doc.getMap<Y.Text>('sources').set('c1', new Y.Text(text));
    collab.load(toBase64(Y.encodeStateAsUpdate(doc)));
    return { collab, sent, answers, refused };
  }
  const type = (collab: CollabSources, offset: number, insert: string): void => {
    collab.edit('c1', [{ offset, deleteCount: 0, insert }]);
    vi.advanceTimersByTime(10);
  };

  it('tells the page once and sends nothing more until the server’s state is loaded', async () => {
    const { collab, sent, answers, refused } = loaded('');
    type(collab, 0, 'a');
    type(collab, 1, 'b');
    expect(sent).toHaveLength(2);
    answers[0]!({ ok: false, code: 'too_large', message: 'an update is limited' });
    answers[1]!({ ok: false, code: 'invalid', message: 'malformed' });
    await vi.advanceTimersByTimeAsync(0);
    expect(refused).toEqual(['c1: an update is limited']);
    expect(collab.resyncing).toBe(true);
    type(collab, 2, 'c');
    collab.flush();
    expect(sent).toHaveLength(2);

    const server = new Y.Doc();
    server.getMap<Y.Text>('sources').set('c1', new Y.Text('saved'));
    collab.load(toBase64(Y.encodeStateAsUpdate(server)));
    expect(collab.resyncing).toBe(false);
    expect(collab.text('c1')).toBe('saved');
    type(collab, 5, '!');
    expect(sent).toHaveLength(3);
  });

  it('ignores an answer about a document the server’s state has since replaced, and a lost connection', async () => {
    const { collab, sent, answers, refused } = loaded('x');
    type(collab, 1, 'y');
    answers[0]!({ ok: false, code: 'connection_lost', message: 'The connection was lost.' });
    type(collab, 2, 'z');
    collab.load(toBase64(Y.encodeStateAsUpdate(new Y.Doc())));
    answers[1]!({ ok: false, code: 'forbidden', message: 'late' });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    expect(refused).toEqual([]);
    expect(collab.resyncing).toBe(false);
  });
});
