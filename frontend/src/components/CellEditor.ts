/**
 * The code editor inside a cell. CellView only uses the `CellEditor` interface, so the textarea
 * below can be swapped for Monaco without touching anything else.
 */
import { h } from '../lib/dom';
import type { Language } from '../protocol';
import type { LineRange } from '../notebookModel';

export interface CellEditor {
  readonly element: HTMLElement;
  getValue(): string;
  /** Replaces the text without reporting it through onChange (it came from elsewhere). */
  setValue(source: string): void;
  setLanguage(language: Language): void;
  setReadOnly(readOnly: boolean): void;
  /** Marks the statement being run (1-based, inclusive lines), or clears the mark. */
  highlightLines(range: LineRange | null): void;
  focus(): void;
  dispose(): void;
}

export interface CellEditorOptions {
  value: string;
  language: Language;
  readOnly: boolean;
  /** Called on every change the user makes. */
  onChange(source: string): void;
  /** Shift+Enter. */
  onRun(): void;
}

export type CellEditorFactory = (options: CellEditorOptions) => CellEditor;

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

  textarea.addEventListener('input', () => {
    fit();
    options.onChange(textarea.value);
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.shiftKey) {
      event.preventDefault();
      options.onRun();
    } else if (event.key === 'Tab' && !event.shiftKey && !textarea.readOnly) {
      // Indent instead of leaving the editor; Shift+Tab still moves focus for keyboard users.
      event.preventDefault();
      textarea.setRangeText('    ', textarea.selectionStart, textarea.selectionEnd, 'end');
      textarea.dispatchEvent(new Event('input'));
    }
  });

  return {
    element,
    getValue: () => textarea.value,
    setValue(source) {
      if (source === textarea.value) return;
      const { selectionStart, selectionEnd } = textarea;
      textarea.value = source;
      textarea.setSelectionRange(Math.min(selectionStart, source.length), Math.min(selectionEnd, source.length));
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
    focus: () => textarea.focus(),
    dispose: () => element.remove(),
  };
};
