/**
 * The code editor inside a cell. CellView only uses the `CellEditor` interface, so the textarea
 * below can be swapped for Monaco without touching anything else.
 */
import type { RemoteCaret } from '../cursors';
import { h } from '../lib/dom';
import type { Completions, ErrorPosition, HoverText, Language, Signature } from '../protocol';
import type { LineRange } from '../notebookModel';
import { type TextChange, diffText, transformPosition } from '../lib/textChanges';

export interface CellEditor {
  readonly element: HTMLElement;
  getValue(): string;
  /** Replaces the text without reporting it through onChange (it came from elsewhere). */
  setValue(source: string): void;
  /** Applies someone else's changes in place, keeping the caret and selection where the user left them. */
  applyRemote(changes: readonly TextChange[]): void;
  setLanguage(language: Language): void;
  setReadOnly(readOnly: boolean): void;
  /** Marks the statement being run (1-based, inclusive lines), or clears the mark. */
  highlightLines(range: LineRange | null): void;
  /** Underlines the places the kernel reported errors at (or clears them with []). */
  setErrors(positions: readonly ErrorPosition[]): void;
  /** Changes the text as the user would (reported through onEdit/onChange, so it is saved and shared). */
  edit(offset: number, deleteCount: number, insert: string): void;
  /** The caret's offset in the text. */
  cursorOffset(): number;
  /** Long lines wrap at the editor's width instead of scrolling. */
  setWrap(wrap: boolean): void;
  /** Draws the other editors' carets and selections (offsets into the text as it is now), replacing those drawn. */
  setRemoteCarets(carets: readonly RemoteCaret[]): void;
  focus(): void;
  hasFocus(): boolean;
  dispose(): void;
}

export interface CellEditorOptions {
  value: string;
  language: Language;
  readOnly: boolean;
  /** Called on every change the user makes. */
  onChange(source: string): void;
  /** The same changes as offsets, before onChange (collaborative editing needs where, not just what). */
  onEdit?(changes: TextChange[]): void;
  /** Shift+Enter: run, then move to the next cell. */
  onRun(): void;
  /** Ctrl+Enter: run and stay. Defaults to onRun. */
  onRunInPlace?(): void;
  /** Escape: leave the editor for command mode. */
  onEscape?(): void;
  /** Ctrl+Shift+-: split the cell at the caret. */
  onSplit?(): void;
  onFocus?(): void;
  /** The user's caret or selection moved while the editor has the focus: where the selection started, and the caret. */
  onCaret?(anchor: number, head: number): void;
  /** The editor lost the focus. */
  onBlur?(): void;
  /** Completion, signature help and hovers from the kernel, when the cell's language has them. */
  assist?: EditorAssist;
}

/** What the kernel can tell an editor about the code being typed; `pos` is a character offset. */
export interface EditorAssist {
  complete(source: string, pos: number): Promise<Completions>;
  signature(source: string, pos: number): Promise<Signature[]>;
  /** The type and docs of the symbol at the character `pos`, or null. */
  hover(source: string, pos: number): Promise<HoverText | null>;
  /** The errors the compiler finds in `source` without running it. */
  check(source: string): Promise<ErrorPosition[]>;
}

export type CellEditorFactory = (options: CellEditorOptions) => CellEditor;

/** Jupyter's split key, Ctrl+Shift+- (the key, not the character, which Shift makes "_" on most layouts). */
export function isSplitKey(event: KeyboardEvent): boolean {
  return event.code === 'Minus' && event.shiftKey && (event.ctrlKey || event.metaKey) && !event.altKey;
}

/** A plain textarea that grows with its text, with a band behind it marking running lines. */
export const createTextareaEditor: CellEditorFactory = (options) => {
  const textarea = h('textarea', {
    className: 'cell-source',
    testId: 'cell-source',
    attrs: { spellcheck: 'false', wrap: 'off', autocapitalize: 'off', 'aria-label': 'Cell source' },
  });
  const band = h('div', { className: 'running-lines', attrs: { 'aria-hidden': 'true' } });
  const element = h('div', { className: 'cell-editor' }, band, textarea);

  // Sized to its lines so the band can be placed by line number without tracking scrolling.
  const fit = (): void => {
    textarea.rows = Math.max(1, textarea.value.split('\n').length);
  };
  textarea.value = options.value;
  textarea.readOnly = options.readOnly;
  element.dataset.language = options.language;
  band.hidden = true;
  fit();

  // What the textarea held after the last change, to tell what the next one did.
  let last = options.value;
  textarea.addEventListener('input', () => {
    fit();
    const change = diffText(last, textarea.value, textarea.selectionEnd);
    last = textarea.value;
    if (change) options.onEdit?.([change]);
    options.onChange(textarea.value);
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.shiftKey) {
      event.preventDefault();
      options.onRun();
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      (options.onRunInPlace ?? options.onRun)();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      textarea.blur();
      options.onEscape?.();
    } else if (isSplitKey(event)) {
      event.preventDefault();
      options.onSplit?.();
    } else if (event.key === 'Tab' && !event.shiftKey && !textarea.readOnly) {
      // Indent instead of leaving the editor; Shift+Tab still moves focus for keyboard users.
      event.preventDefault();
      textarea.setRangeText('    ', textarea.selectionStart, textarea.selectionEnd, 'end');
      textarea.dispatchEvent(new Event('input'));
    }
  });

  textarea.addEventListener('focus', () => options.onFocus?.());
  const caret = (): void => {
    if (document.activeElement !== textarea) return;
    const { selectionStart, selectionEnd, selectionDirection } = textarea;
    if (selectionDirection === 'backward') options.onCaret?.(selectionEnd, selectionStart);
    else options.onCaret?.(selectionStart, selectionEnd);
  };
  for (const event of ['focus', 'input', 'select', 'keyup', 'mouseup']) textarea.addEventListener(event, caret);
  textarea.addEventListener('blur', () => options.onBlur?.());

  return {
    element,
    getValue: () => textarea.value,
    edit(offset, deleteCount, insert) {
      textarea.setRangeText(insert, offset, offset + deleteCount, 'end');
      textarea.dispatchEvent(new Event('input'));
    },
    cursorOffset: () => textarea.selectionStart,
    setWrap(wrap) {
      textarea.setAttribute('wrap', wrap ? 'soft' : 'off');
    },
    setValue(source) {
      if (source === textarea.value) return;
      const { selectionStart, selectionEnd } = textarea;
      textarea.value = source;
      last = source;
      textarea.setSelectionRange(Math.min(selectionStart, source.length), Math.min(selectionEnd, source.length));
      fit();
    },
    applyRemote(changes) {
      if (changes.length === 0) return;
      const { selectionStart, selectionEnd, selectionDirection } = textarea;
      const focused = document.activeElement === textarea;
      let value = textarea.value;
      for (const change of changes) {
        value = value.slice(0, change.offset) + change.insert + value.slice(change.offset + change.deleteCount);
      }
      textarea.value = value;
      last = value;
      if (focused || selectionStart !== 0 || selectionEnd !== 0) {
        textarea.setSelectionRange(
          transformPosition(selectionStart, changes),
          transformPosition(selectionEnd, changes),
          selectionDirection ?? 'none',
        );
      }
      fit();
    },
    setLanguage(language) {
      element.dataset.language = language;
    },
    setReadOnly(readOnly) {
      textarea.readOnly = readOnly;
    },
    highlightLines(range) {
      band.hidden = range === null;
      if (range) {
        band.style.setProperty('--first-line', String(range.start));
        band.style.setProperty('--line-count', String(Math.max(1, range.end - range.start + 1)));
      }
    },
    setErrors(positions) {
      // A textarea cannot underline; the error output lists the places, so only mark the editor.
      element.classList.toggle('has-errors', positions.length > 0);
    },
    setRemoteCarets() {
      // A textarea cannot draw them; Monaco takes over from it as soon as it has loaded, and draws them.
    },
    focus: () => textarea.focus(),
    hasFocus: () => document.activeElement === textarea,
    dispose: () => element.remove(),
  };
};
