/**
 * A CellEditor that starts as the instant textarea and becomes Monaco once Monaco's chunk has
 * loaded and the cell is near the viewport, so a long notebook is usable before Monaco arrives
 * and never builds hundreds of Monaco instances at once.
 */
import { type CellEditor, type CellEditorFactory, type CellEditorOptions, createTextareaEditor } from '../components/CellEditor';
import { h } from '../lib/dom';
import type { LineRange } from '../notebookModel';
import type { ErrorPosition, Language } from '../protocol';
import type { RemoteCaret } from '../cursors';

type MonacoModule = typeof import('./monaco');

let loading: Promise<MonacoModule> | null = null;

/** Starts loading Monaco (once); resolves when it is ready. */
export function loadMonaco(): Promise<MonacoModule> {
  loading ??= import('./monaco');
  return loading;
}

// One observer for every cell: upgrading is cheap to decide and expensive to do.
const waiting = new Map<Element, () => void>();
let observer: IntersectionObserver | null = null;

function whenNearViewport(element: Element, callback: () => void): void {
  if (typeof IntersectionObserver === 'undefined') {
    callback();
    return;
  }
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const upgrade = waiting.get(entry.target);
        waiting.delete(entry.target);
        observer?.unobserve(entry.target);
        upgrade?.();
      }
    },
    { rootMargin: '800px 0px' },
  );
  waiting.set(element, callback);
  observer.observe(element);
}

function forget(element: Element): void {
  if (waiting.delete(element)) observer?.unobserve(element);
}

export const createLazyEditor: CellEditorFactory = (options: CellEditorOptions) => {
  let current: CellEditor = createTextareaEditor(options);
  let disposed = false;
  // What was asked of the editor so far, to replay onto Monaco when it takes over.
  let language: Language = options.language;
  let readOnly = options.readOnly;
  let lines: LineRange | null = null;
  let errors: readonly ErrorPosition[] = [];
  let wrap = false;
  let carets: readonly RemoteCaret[] = [];
  const element = h('div', { className: 'lazy-editor', dataset: { editor: 'textarea' } }, current.element);

  const upgrade = (monaco: MonacoModule): void => {
    if (disposed || element.dataset.editor === 'monaco') return;
    const textarea = current.element.querySelector('textarea');
    const focus = current.hasFocus();
    const offset = textarea?.selectionStart ?? 0;
    const next = monaco.createMonacoEditor({ ...options, value: current.getValue(), language, readOnly }, { offset, focus: false });
    next.highlightLines(lines);
    next.setErrors(errors);
    next.setWrap(wrap);
    next.setRemoteCarets(carets);
    current.dispose();
    current = next;
    element.replaceChildren(next.element);
    element.dataset.editor = 'monaco';
    // Focused only once in the page: focusing a detached editor would drop the focus to the page, and the
    // keys typed next with it.
    if (focus) next.focus();
  };

  whenNearViewport(element, () => {
    void loadMonaco().then(upgrade, (error: unknown) => console.error('Quire: Monaco failed to load; keeping the plain editor', error));
  });

  return {
    element,
    getValue: () => current.getValue(),
    setValue: (source) => current.setValue(source),
    applyRemote: (changes) => current.applyRemote(changes),
    setLanguage(value) {
      language = value;
      current.setLanguage(value);
    },
    setReadOnly(value) {
      readOnly = value;
      current.setReadOnly(value);
    },
    highlightLines(range) {
      lines = range;
      current.highlightLines(range);
    },
    setErrors(positions) {
      errors = positions;
      current.setErrors(positions);
    },
    edit: (offset, deleteCount, insert) => current.edit(offset, deleteCount, insert),
    cursorOffset: () => current.cursorOffset(),
    setWrap(value) {
      wrap = value;
      current.setWrap(value);
    },
    setRemoteCarets(value) {
      carets = value;
      current.setRemoteCarets(value);
    },
    focus: () => current.focus(),
    hasFocus: () => current.hasFocus(),
    dispose() {
      disposed = true;
      forget(element);
      current.dispose();
      element.remove();
    },
  };
};
