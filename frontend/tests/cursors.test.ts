import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { CollabSources, fromBase64, toBase64 } from '../src/collab';
import { type CellEditorFactory, createTextareaEditor } from '../src/components/CellEditor';
import { NotebookPage } from '../src/components/NotebookPage';
import { PresenceList } from '../src/components/PresenceList';
import { CARET_THROTTLE_MS, type CaretPlace, CaretSender, type RemoteCaret, RemoteCarets } from '../src/cursors';
import { PERSON_COLOURS, personColour, personColourIndex } from '../src/lib/personColour';
import { NotebookClient, validateServerMessage } from '../src/protocol';
import { type FakeWebSocket, fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot, cell } from './support/scenarios';

function documentOf(cells: Record<string, string>): Y.Doc {
  const doc = new Y.Doc();
  const sources = doc.getMap<Y.Text>('sources');
  for (const [id, source] of Object.entries(cells)) sources.set(id, new Y.Text(source));
  return doc;
}

/** Two pages' documents, each sending its updates to the other only when `deliver` is called. */
function twoDocuments(cells: Record<string, string>): { a: CollabSources; b: CollabSources; deliver(): void } {
  const queue: { to: () => CollabSources; update: string }[] = [];
  const a: CollabSources = new CollabSources({ send: (_cellId, update) => void queue.push({ to: () => b, update }), batchMs: 0 });
  const b: CollabSources = new CollabSources({ send: (_cellId, update) => void queue.push({ to: () => a, update }), batchMs: 0 });
  const state = toBase64(Y.encodeStateAsUpdate(documentOf(cells)));
  a.load(state);
  b.load(state);
  return {
    a,
    b,
    deliver() {
      a.flush();
      b.flush();
      for (const { to, update } of queue.splice(0)) to().applyUpdate(update);
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a caret as a relative position', () => {
  it('stays by its character when text is typed or deleted before it, and in no other cell', () => {
    const { a, b, deliver } = twoDocuments({ c1: 'first\nsecond', c2: 'other' });
    const caret = a.relativePosition('c1', 9)!; // "sec|ond"
    expect(b.resolvePosition('c1', caret)).toBe(9);
    b.edit('c1', [{ offset: 0, deleteCount: 0, insert: '# ' }]);
    expect(b.resolvePosition('c1', caret)).toBe(11);
    b.edit('c1', [{ offset: 0, deleteCount: 6, insert: '' }]);
    expect(b.resolvePosition('c1', caret)).toBe(5);
    deliver();
    expect(a.resolvePosition('c1', caret)).toBe(5);
    expect(a.resolvePosition('c2', caret)).toBeNull();
    expect(a.resolvePosition('c1', 'not a position')).toBeNull();
    expect(a.relativePosition('nope', 0)).toBeNull();
  });

  it('waits for the text it names: unplaced until the change that made it arrives', () => {
    const { a, b, deliver } = twoDocuments({ c1: 'ab' });
    a.edit('c1', [{ offset: 1, deleteCount: 0, insert: 'NEW' }]);
    const caret = a.relativePosition('c1', 3)!; // inside what only a has yet
    const changed: (string[] | null)[] = [];
    b.onTextsChanged((cells) => changed.push(cells && [...cells]));
    expect(b.resolvePosition('c1', caret)).toBeNull();
    deliver();
    expect(changed).toEqual([['c1']]);
    expect(b.resolvePosition('c1', caret)).toBe(3);
  });
});

describe('sending this page’s caret', () => {
  it('sends at once, then at most every 50 ms with the latest place, and nothing unchanged', () => {
    const sent: (CaretPlace | null)[] = [];
    const sender = new CaretSender((place) => sent.push(place));
    const at = (head: string): CaretPlace => ({ cellId: 'c1', anchor: head, head });
    sender.move(at('A'));
    sender.move(at('B'));
    sender.move(at('C'));
    expect(sent).toEqual([at('A')]);
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(sent).toEqual([at('A'), at('C')]);
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    sender.move(at('C'));
    expect(sent).toHaveLength(2);
    sender.resend();
    expect(sent).toEqual([at('A'), at('C'), at('C')]);
  });

  it('takes the caret away when its editor loses the focus, not when another cell’s does', () => {
    const sent: (CaretPlace | null)[] = [];
    const sender = new CaretSender((place) => sent.push(place));
    sender.leave('c1');
    expect(sent).toEqual([]); // nothing was shown
    sender.move({ cellId: 'c2', anchor: 'A', head: 'A' });
    sender.leave('c1');
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    sender.leave('c2');
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(sent).toEqual([{ cellId: 'c2', anchor: 'A', head: 'A' }, null]);
    sender.resend();
    expect(sent).toHaveLength(2);
  });
});

describe('the others’ carets', () => {
  it('are kept by connection, moved, taken away, and coloured as their avatars', () => {
    const carets = new RemoteCarets();
    const resolve = (_cellId: string, encoded: string): number | null => (encoded === 'later' ? null : Number(encoded));
    expect(carets.apply({ type: 'cursor', conn: 'k1', username: 'bob', cell_id: 'c1', anchor: '2', head: '5' })).toEqual(['c1']);
    expect(carets.apply({ type: 'cursor', conn: 'k2', username: 'bob', cell_id: 'c1', anchor: '7', head: 'later' })).toEqual(['c1']);
    expect(carets.inCell('c1', resolve)).toEqual([{ id: 'k1', username: 'bob', colour: personColourIndex('bob'), anchor: 2, head: 5 }]);
    expect(carets.apply({ type: 'cursor', conn: 'k1', username: 'bob', cell_id: 'c2', anchor: '1', head: '1' })).toEqual(['c1', 'c2']);
    expect(carets.inCell('c1', resolve)).toEqual([]);
    expect(carets.inCell('c2', resolve, 'bob')).toEqual([]); // one's own, from another tab, is not drawn
    expect(carets.apply({ type: 'cursor', conn: 'k1', username: 'bob', cell_id: null })).toEqual(['c2']);
    carets.apply({ type: 'cursor', conn: 'k3', username: 'carol', cell_id: 'c3', anchor: '0', head: '0' });
    expect(carets.keepOnly(new Set(['bob']))).toEqual(['c3']);
    expect(carets.clear()).toEqual(['c1']);

    const presence = new PresenceList();
    presence.render([{ username: 'bob', cell_id: 'c1' }], 'alice', () => 'Cell 1');
    const avatar = presence.element.querySelector<HTMLElement>('[data-username="bob"]')!;
    expect(avatar.style.background).toBe(hexToRgb(PERSON_COLOURS[personColourIndex('bob')]!));
    expect(personColour('bob')).toBe(personColour('bob'));
    expect(personColourIndex('alice')).not.toBe(personColourIndex('bob'));
  });

  it('are read from the server only in their two shapes', () => {
    const ok = (m: object): boolean => 'message' in validateServerMessage({ v: 1, type: 'cursor', ...m });
    expect(ok({ conn: 'k1', username: 'bob', cell_id: 'c1', anchor: 'AQ==', head: 'AQ==' })).toBe(true);
    expect(ok({ conn: 'k1', username: 'bob', cell_id: null })).toBe(true);
    expect(ok({ conn: 'k1', username: 'bob', cell_id: 'c1', anchor: 'AQ==' })).toBe(false);
    expect(ok({ conn: 'k1', username: 'bob', cell_id: null, anchor: 'AQ==', head: 'AQ==' })).toBe(false);
    expect(ok({ username: 'bob', cell_id: null })).toBe(false);
  });
});

function hexToRgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

/**
 * The server's side, as notebooks/consumers.py does it: edits applied to one document and broadcast; a caret
 * relayed, with its sender's name and connection, to every other connection; taken away when one leaves.
 */
class FakeServer {
  readonly doc = documentOf({ c1: 'first\nsecond', c2: 'other' });
  private revision = 3;
  private readonly clients: { socket: FakeWebSocket; username: string; conn: string; read: number }[] = [];

  connect(socket: FakeWebSocket, username: string, role: 'owner' | 'editor' | 'viewer'): void {
    this.clients.push({ socket, username, conn: `conn-${this.clients.length}`, read: 0 });
    socket.serverOpens();
    const cells = [...this.doc.getMap<Y.Text>('sources').entries()].map(([id, text]) => cell(id, text.toString()));
    socket.serverSends(
      aliceSnapshot({
        notebook: { id: 7, title: 'Together', revision: this.revision, config: {}, cells, ydoc: toBase64(Y.encodeStateAsUpdate(this.doc)) },
        you: { username, role },
      }),
    );
  }

  presence(): void {
    const users = this.clients.map((client) => ({ username: client.username, cell_id: null }));
    for (const client of this.clients) client.socket.serverSends({ type: 'presence', users });
  }

  leave(socket: FakeWebSocket): void {
    const client = this.clients.find((c) => c.socket === socket)!;
    this.clients.splice(this.clients.indexOf(client), 1);
    this.relay(client, { type: 'cursor', cell_id: null });
    this.presence();
  }

  deliver(): void {
    for (const client of this.clients) {
      const messages = client.socket.sentMessages.slice(client.read);
      client.read = client.socket.sent.length;
      for (const message of messages) {
        if (message.type === 'cursor') this.relay(client, message);
        if (message.type !== 'edit_source') continue;
        Y.applyUpdate(this.doc, fromBase64(String(message.update)));
        this.revision++;
        client.socket.serverSends({ type: 'ack', req: message.req, revision: this.revision });
        for (const other of this.clients) {
          const cellId = String(message.cell_id);
          const source = this.doc.getMap<Y.Text>('sources').get(cellId)!.toString();
          other.socket.serverSends({ type: 'cell_updated', cell_id: cellId, source, revision: this.revision, ydoc_update: message.update });
        }
      }
    }
  }

  private relay(from: { username: string; conn: string }, message: Record<string, unknown>): void {
    const { v: _v, req: _req, ...position } = message;
    for (const other of this.clients) {
      if (other.conn !== from.conn) other.socket.serverSends({ ...position, conn: from.conn, username: from.username });
    }
  }
}

interface Person {
  page: NotebookPage;
  socket: FakeWebSocket;
  /** What each cell's editor was last asked to draw. */
  drawn: Map<string, readonly RemoteCaret[]>;
}

const pages: NotebookPage[] = [];

function open(server: FakeServer, username: string, role: 'owner' | 'editor' | 'viewer' = 'editor'): Person {
  const sockets = fakeSockets();
  const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
  const drawn = new Map<string, readonly RemoteCaret[]>();
  let made = 0;
  // The textarea, remembering what it is asked to draw (Monaco draws it; the browser test looks at that).
  const createEditor: CellEditorFactory = (options) => {
    const cellId = ['c1', 'c2'][made++]!;
    const editor = createTextareaEditor(options);
    editor.element.dataset.cell = cellId;
    return { ...editor, setRemoteCarets: (carets) => void drawn.set(cellId, carets) };
  };
  const page = new NotebookPage({ notebookId: 7, client, createEditor, loadNotebook: () => new Promise(() => undefined) });
  pages.push(page);
  document.body.append(page.element);
  page.start();
  server.connect(sockets.latest(), username, role);
  return { page, socket: sockets.latest(), drawn };
}

const editorOf = (person: Person, cellId: string): HTMLTextAreaElement =>
  person.page.element.querySelector<HTMLTextAreaElement>(`[data-cell-id="${cellId}"] textarea`)!;

/** Puts the caret (and a selection from `anchor`) where a click or the arrow keys would. */
function placeCaret(textarea: HTMLTextAreaElement, anchor: number, head = anchor): void {
  textarea.focus();
  textarea.setSelectionRange(Math.min(anchor, head), Math.max(anchor, head), head < anchor ? 'backward' : 'forward');
  textarea.dispatchEvent(new Event('keyup'));
}

function typeAt(textarea: HTMLTextAreaElement, offset: number, text: string): void {
  textarea.value = textarea.value.slice(0, offset) + text + textarea.value.slice(offset);
  textarea.setSelectionRange(offset + text.length, offset + text.length);
  textarea.dispatchEvent(new Event('input'));
}

const cursorsSent = (person: Person): Record<string, unknown>[] => person.socket.sentMessages.filter((m) => m.type === 'cursor');
const settle = async (): Promise<void> => {
  await Promise.resolve();
  await Promise.resolve();
};

describe('carets between pages', () => {
  afterEach(() => {
    for (const page of pages.splice(0)) page.dispose();
    document.body.replaceChildren();
  });

  it('draws alice’s caret and selection in bob’s cell, following her text as bob types above it', async () => {
    const server = new FakeServer();
    const alice = open(server, 'alice', 'owner');
    const bob = open(server, 'bob');
    placeCaret(editorOf(alice, 'c1'), 6, 9); // "first\n|sec|ond"
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    const sent = cursorsSent(alice).at(-1);
    // A notification: no req, nothing waits for an answer.
    expect(sent).toMatchObject({ v: 1, type: 'cursor', cell_id: 'c1' });
    expect(sent).not.toHaveProperty('req');
    server.deliver();
    await settle();
    expect(bob.drawn.get('c1')).toEqual([{ id: 'conn-0', username: 'alice', colour: personColourIndex('alice'), anchor: 6, head: 9 }]);
    expect(alice.drawn.get('c1') ?? []).toEqual([]); // never her own

    typeAt(editorOf(bob, 'c1'), 0, '# ');
    await settle();
    expect(bob.drawn.get('c1')).toMatchObject([{ anchor: 8, head: 11 }]);
    vi.advanceTimersByTime(50);
    server.deliver();
    await settle();
    expect(editorOf(alice, 'c1').value).toBe('# first\nsecond');

    // She leaves the editor: her caret goes.
    editorOf(alice, 'c1').blur();
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(cursorsSent(alice).at(-1)).toEqual({ v: 1, type: 'cursor', cell_id: null });
    server.deliver();
    await settle();
    expect(bob.drawn.get('c1')).toEqual([]);
  });

  it('sends a moving caret at most every 50 ms, and again when someone new comes', async () => {
    const server = new FakeServer();
    const alice = open(server, 'alice', 'owner');
    server.presence();
    const textarea = editorOf(alice, 'c1');
    for (let offset = 0; offset < 6; offset++) placeCaret(textarea, offset);
    expect(cursorsSent(alice)).toHaveLength(1);
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(cursorsSent(alice)).toHaveLength(2);
    server.deliver();

    const bob = open(server, 'bob');
    server.presence();
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(cursorsSent(alice)).toHaveLength(3);
    server.deliver();
    await settle();
    expect(bob.drawn.get('c1')).toMatchObject([{ username: 'alice', head: 5 }]);

    // She closes her page: the server takes her caret away.
    server.leave(alice.socket);
    await settle();
    expect(bob.drawn.get('c1')).toEqual([]);
  });

  it('sends no caret for a viewer', () => {
    const server = new FakeServer();
    const vic = open(server, 'vic', 'viewer');
    placeCaret(editorOf(vic, 'c1'), 3);
    vi.advanceTimersByTime(CARET_THROTTLE_MS);
    expect(cursorsSent(vic)).toEqual([]);
  });

  it('forgets the carets it holds when a snapshot starts the notebook afresh', async () => {
    const server = new FakeServer();
    const alice = open(server, 'alice', 'owner');
    const bob = open(server, 'bob');
    placeCaret(editorOf(alice, 'c2'), 2);
    server.deliver();
    await settle();
    expect(bob.drawn.get('c2')).toHaveLength(1);
    bob.socket.serverSends({ type: 'resync' });
    server.connect(bob.socket, 'bob', 'editor');
    await settle();
    expect(bob.drawn.get('c2')).toEqual([]);
  });
});

describe('typing just before a cell is merged away or moved', () => {
  afterEach(() => {
    for (const page of pages.splice(0)) page.dispose();
    document.body.replaceChildren();
  });

  it('sends the typed text before the structural change, so the server has it first', async () => {
    const server = new FakeServer();
    const alice = open(server, 'alice', 'owner');
    typeAt(editorOf(alice, 'c2'), 5, ' thing');
    // Within the batch window: Shift+M on the cell above merges c2 into it and deletes c2.
    const above = alice.page.element.querySelector<HTMLElement>('[data-cell-id="c1"]')!;
    above.click();
    above.focus();
    above.dispatchEvent(new KeyboardEvent('keydown', { key: 'M', shiftKey: true, bubbles: true }));
    const kinds = alice.socket.sentMessages.filter((m) => m.type === 'edit_source' || m.type === 'delete_cell');
    // Both the typing in c2 and the merged text in c1 go out before c2 is deleted.
    expect(kinds.map((m) => `${m.type} ${m.cell_id}`).sort()).toEqual(['delete_cell c2', 'edit_source c1', 'edit_source c2']);
    expect(kinds.at(-1)).toMatchObject({ type: 'delete_cell', cell_id: 'c2' });
    vi.advanceTimersByTime(100);
    server.deliver();
    await settle();
    expect(server.doc.getMap<Y.Text>('sources').get('c1')!.toString()).toBe('first\nsecond\nother thing');
  });
});
