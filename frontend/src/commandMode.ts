/** Jupyter's command-mode keys: which notebook command a key press means, with "dd" spanning two presses.
 *
 * `COMMAND_BINDINGS` is the one list of them: `CommandKeys` reads it, and so does the shortcut sheet (`h`). */

export type Command =
  | 'insert_above'
  | 'insert_below'
  | 'delete'
  | 'undo_delete'
  | 'select_previous'
  | 'select_next'
  | 'edit'
  | 'run_and_advance'
  | 'run'
  | 'to_text'
  | 'to_code'
  | 'merge_below'
  | 'interrupt'
  | 'shortcuts';

export interface KeyPress {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

export interface Binding {
  /** `KeyboardEvent.key` values that mean the command (any one of them). */
  keys: readonly string[];
  /** The key is pressed twice, quickly ("dd", "ii"). */
  twice?: boolean;
  /** Enter with Shift, or with Ctrl (Cmd on a Mac). */
  modifier?: 'shift' | 'ctrl';
  command: Command;
  /** As the shortcut sheet shows it. */
  label: string;
  description: string;
}

export const COMMAND_BINDINGS: readonly Binding[] = [
  { keys: ['Enter'], command: 'edit', label: 'Enter', description: 'Edit the selected cell' },
  { keys: ['Enter'], modifier: 'shift', command: 'run_and_advance', label: 'Shift+Enter', description: 'Run the cell and select the next' },
  { keys: ['Enter'], modifier: 'ctrl', command: 'run', label: 'Ctrl+Enter', description: 'Run the cell' },
  { keys: ['ArrowUp', 'k'], command: 'select_previous', label: '↑ or K', description: 'Select the cell above' },
  { keys: ['ArrowDown', 'j'], command: 'select_next', label: '↓ or J', description: 'Select the cell below' },
  { keys: ['a'], command: 'insert_above', label: 'A', description: 'Insert a cell above' },
  { keys: ['b'], command: 'insert_below', label: 'B', description: 'Insert a cell below' },
  { keys: ['d'], twice: true, command: 'delete', label: 'D, D', description: 'Delete the selected cell' },
  { keys: ['M'], command: 'merge_below', label: 'Shift+M', description: 'Merge the cell below into the selected one' },
  { keys: ['z'], command: 'undo_delete', label: 'Z', description: 'Bring back the last cell deleted here' },
  { keys: ['m'], command: 'to_text', label: 'M', description: 'Make the cell a text (Markdown) cell' },
  { keys: ['y'], command: 'to_code', label: 'Y', description: 'Make the cell a code cell' },
  { keys: ['i'], twice: true, command: 'interrupt', label: 'I, I', description: 'Interrupt the kernel' },
  { keys: ['h'], command: 'shortcuts', label: 'H', description: 'Show these shortcuts' },
];

/** The editor's own keys (bound by each editor: editor/monaco.ts and CellEditor's textarea), for the sheet. */
export const EDIT_BINDINGS: readonly { label: string; description: string }[] = [
  { label: 'Shift+Enter', description: 'Run the cell and go to the next' },
  { label: 'Ctrl+Enter', description: 'Run the cell' },
  { label: 'Escape', description: 'Leave the editor for command mode' },
  { label: 'Ctrl+Shift+-', description: 'Split the cell at the cursor' },
  { label: 'Ctrl+Space', description: 'Complete (from the kernel)' },
];

/** How long the second "d" (or "i") may take, as in Jupyter. */
const DOUBLE_PRESS_MS = 800;

export class CommandKeys {
  private pending: { key: string; at: number } | null = null;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** The command a key press completes, or null (the press may be half of "dd"). */
  press(event: KeyPress): Command | null {
    const ctrl = event.ctrlKey || event.metaKey;
    if (event.altKey || (ctrl && event.key !== 'Enter')) {
      this.pending = null;
      return null;
    }
    const modifier = event.key === 'Enter' ? (event.shiftKey ? 'shift' : ctrl ? 'ctrl' : undefined) : undefined;
    const binding = COMMAND_BINDINGS.find((b) => b.keys.includes(event.key) && b.modifier === modifier);
    const pending = this.pending;
    this.pending = null;
    if (!binding) return null;
    if (!binding.twice) return binding.command;
    if (pending?.key === event.key && this.now() - pending.at <= DOUBLE_PRESS_MS) return binding.command;
    this.pending = { key: event.key, at: this.now() };
    return null;
  }
}
