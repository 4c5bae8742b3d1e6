/** Jupyter's command-mode keys: which notebook command a key press means, with "dd" spanning two presses. */

export type Command =
  | 'insert_above'
  | 'insert_below'
  | 'delete'
  | 'select_previous'
  | 'select_next'
  | 'edit'
  | 'run_and_advance'
  | 'run'
  | 'to_text'
  | 'to_code'
  | 'interrupt';

export interface KeyPress {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

/** How long the second "d" (or "i") may take, as in Jupyter. */
const DOUBLE_PRESS_MS = 800;

export class CommandKeys {
  private pending: { key: string; at: number } | null = null;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** The command a key press completes, or null (the press may be half of "dd"). */
  press(event: KeyPress): Command | null {
    const modified = event.ctrlKey || event.metaKey || event.altKey;
    if (event.key === 'Enter') {
      this.pending = null;
      if (event.shiftKey) return 'run_and_advance';
      if (event.ctrlKey || event.metaKey) return 'run';
      return modified ? null : 'edit';
    }
    if (modified) return null;
    const pending = this.pending;
    this.pending = null;
    switch (event.key) {
      case 'a':
        return 'insert_above';
      case 'b':
        return 'insert_below';
      case 'ArrowUp':
      case 'k':
        return 'select_previous';
      case 'ArrowDown':
      case 'j':
        return 'select_next';
      case 'm':
        return 'to_text';
      case 'y':
        return 'to_code';
      case 'd':
      case 'i':
        if (pending?.key === event.key && this.now() - pending.at <= DOUBLE_PRESS_MS) return event.key === 'd' ? 'delete' : 'interrupt';
        this.pending = { key: event.key, at: this.now() };
        return null;
      default:
        return null;
    }
  }
}
