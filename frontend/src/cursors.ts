/**
 * Carets and selections of the people editing a notebook: this page's own, sent to the others as it moves, and
 * the others', kept by connection until they move on, leave the editor or go.
 *
 * Both ends of a selection travel as Yjs relative positions (see CollabSources.relativePosition): they name
 * the character they sit by, so a caret stays by its text whatever anyone types elsewhere, and each page
 * resolves them against its own copy of the text whenever that changes.
 */
import { personColourIndex } from './lib/personColour';
import type { CursorMessage } from './protocol';

/** A caret sent at most this often while it moves; its last place is always sent. */
export const CARET_THROTTLE_MS = 50;

/** Where a caret is: a cell and the two ends of its selection (relative positions, base64). */
export interface CaretPlace {
  cellId: string;
  anchor: string;
  head: string;
}

/** Someone else's caret as an editor draws it: offsets into the cell's text as it is now. */
export interface RemoteCaret {
  /** Their connection: one person may be here twice. */
  id: string;
  username: string;
  /** Index into PERSON_COLOURS: the colour of their avatar. */
  colour: number;
  anchor: number;
  head: number;
}

/** Sends this page's caret: at once, then at most every CARET_THROTTLE_MS while it keeps moving. */
export class CaretSender {
  private latest: CaretPlace | null = null;
  private sent: string | null = null;
  private sentAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly send: (place: CaretPlace | null) => void,
    private readonly throttleMs = CARET_THROTTLE_MS,
  ) {}

  /** The caret is at `place` now. */
  move(place: CaretPlace): void {
    this.latest = place;
    this.schedule();
  }

  /** The editor of `cellId` lost the focus: the caret goes, unless it has moved to another cell meanwhile. */
  leave(cellId: string): void {
    if (this.latest?.cellId !== cellId) return;
    this.latest = null;
    this.schedule();
  }

  /** Sends the caret's place again (someone new came, or the connection is new), if there is a caret. */
  resend(): void {
    if (this.latest === null) return;
    this.sent = null;
    this.schedule();
  }

  /** Forgets the caret without telling anyone (the server takes it away when the connection goes). */
  reset(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.latest = null;
    this.sent = null;
  }

  private schedule(): void {
    if (this.timer !== null) return; // the trailing send takes the latest place
    const wait = this.sentAt + this.throttleMs - Date.now();
    if (wait <= 0) {
      this.flush();
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }

  private flush(): void {
    const key = JSON.stringify(this.latest);
    // Unchanged (an edit by someone else moved the caret's offset, not its place): nothing to say. Nothing ever
    // shown needs no taking away either.
    if (key === this.sent || (this.latest === null && this.sent === null)) return;
    this.sent = key;
    this.sentAt = Date.now();
    this.send(this.latest);
  }
}

interface Held {
  username: string;
  cellId: string;
  anchor: string;
  head: string;
}

/** The others' carets, by connection. */
export class RemoteCarets {
  private readonly byConnection = new Map<string, Held>();

  /** Takes in a `cursor` message; returns the cells whose carets changed. */
  apply(message: CursorMessage): string[] {
    const before = this.byConnection.get(message.conn);
    const cells = before ? [before.cellId] : [];
    if (message.cell_id === null || message.anchor === undefined || message.head === undefined) {
      this.byConnection.delete(message.conn);
    } else {
      this.byConnection.set(message.conn, { username: message.username, cellId: message.cell_id, anchor: message.anchor, head: message.head });
      if (!cells.includes(message.cell_id)) cells.push(message.cell_id);
    }
    return cells;
  }

  /** Keeps only the carets of these people (those still here); returns the cells whose carets changed. */
  keepOnly(usernames: ReadonlySet<string>): string[] {
    const cells = new Set<string>();
    for (const [conn, held] of this.byConnection) {
      if (usernames.has(held.username)) continue;
      this.byConnection.delete(conn);
      cells.add(held.cellId);
    }
    return [...cells];
  }

  /** Forgets every caret (a new connection: they are sent again); returns the cells that had some. */
  clear(): string[] {
    const cells = new Set([...this.byConnection.values()].map((held) => held.cellId));
    this.byConnection.clear();
    return [...cells];
  }

  /** The carets in a cell, at the offsets `resolve` finds for them now; those it cannot place yet are left out. */
  inCell(cellId: string, resolve: (cellId: string, encoded: string) => number | null, except?: string): RemoteCaret[] {
    const carets: RemoteCaret[] = [];
    for (const [id, held] of this.byConnection) {
      if (held.cellId !== cellId || held.username === except) continue;
      const head = resolve(cellId, held.head);
      if (head === null) continue;
      const anchor = resolve(cellId, held.anchor) ?? head;
      carets.push({ id, username: held.username, colour: personColourIndex(held.username), anchor, head });
    }
    return carets;
  }
}
