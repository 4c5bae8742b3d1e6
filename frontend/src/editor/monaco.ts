/**
 * Monaco behind the CellEditor interface. Loaded lazily (its own chunk): cells start as
 * textareas and are upgraded when this module arrives, see LazyEditor.
 */
import type * as Monaco from 'monaco-editor';
// The editor core and its standard features, without Monaco's TypeScript/CSS/HTML/JSON language
// services and their workers: the kernel is our language service.
import * as monacoApi from 'monaco-editor/esm/vs/editor/edcore.main.js';
import 'monaco-editor/esm/vs/basic-languages/python/python.contribution.js';
import 'monaco-editor/esm/vs/basic-languages/scala/scala.contribution.js';
import 'monaco-editor/esm/vs/basic-languages/sql/sql.contribution.js';
import 'monaco-editor/esm/vs/basic-languages/markdown/markdown.contribution.js';
import 'monaco-editor/esm/vs/basic-languages/javascript/javascript.contribution.js';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import type { CellEditor, CellEditorOptions, EditorAssist } from '../components/CellEditor';
import type { RemoteCaret } from '../cursors';
import { h } from '../lib/dom';
import { PERSON_COLOURS } from '../lib/personColour';
import type { ErrorPosition, Language } from '../protocol';
import { type TextChange, transformPosition } from '../lib/textChanges';
import { checkAsYouType } from './checkAsYouType';

const monaco = monacoApi as unknown as typeof Monaco;

(self as unknown as { MonacoEnvironment: Monaco.Environment }).MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
};

/** Monaco's language id for each cell language; Vega specs are JSON, which the JS tokenizer colours. */
const MONACO_LANGUAGE: Record<Language, string> = {
  python: 'python',
  scala: 'scala',
  sql: 'sql',
  vega: 'javascript',
  text: 'markdown',
};

// Providers are registered once per language; they find the cell's assist through its model.
const assists = new Map<string, EditorAssist>();
let nextModel = 0;

function completionKind(kind: string): Monaco.languages.CompletionItemKind {
  const k = monaco.languages.CompletionItemKind;
  switch (kind) {
    case 'module':
      return k.Module;
    case 'class':
    case 'type':
      return k.Class;
    case 'function':
    case 'method':
      return k.Function;
    case 'keyword':
      return k.Keyword;
    case 'property':
    case 'attribute':
      return k.Property;
    case 'param':
      return k.Variable;
    case 'path':
      return k.File;
    default:
      return k.Variable;
  }
}

function registerProviders(): void {
  for (const language of ['python', 'scala', 'sql']) {
    monaco.languages.registerCompletionItemProvider(language, {
      triggerCharacters: ['.'],
      async provideCompletionItems(model, position) {
        const assist = assists.get(model.uri.toString());
        if (!assist) return { suggestions: [] };
        const { items, incomplete } = await assist.complete(model.getValue(), model.getOffsetAt(position));
        const word = model.getWordUntilPosition(position);
        const range = new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, position.column);
        return {
          suggestions: items.map((item) => ({
            label: item.label,
            kind: completionKind(item.kind),
            detail: item.detail,
            insertText: item.label,
            range,
          })),
          // A cut list is asked for again as the prefix grows; filtering it would hide what came after the cut.
          incomplete,
        };
      },
    });
    monaco.languages.registerSignatureHelpProvider(language, {
      signatureHelpTriggerCharacters: ['(', ','],
      signatureHelpRetriggerCharacters: [','],
      async provideSignatureHelp(model, position) {
        const assist = assists.get(model.uri.toString());
        if (!assist) return null;
        const signatures = await assist.signature(model.getValue(), model.getOffsetAt(position));
        if (signatures.length === 0) return null;
        return {
          value: {
            signatures: signatures.map((s) => ({
              label: s.label,
              documentation: s.doc,
              parameters: s.params.map((label) => ({ label })),
            })),
            activeSignature: 0,
            activeParameter: signatures[0]?.active_param ?? 0,
          },
          dispose: () => undefined,
        };
      },
    });
    monaco.languages.registerHoverProvider(language, {
      async provideHover(model, position) {
        const assist = assists.get(model.uri.toString());
        if (!assist) return null;
        const found = await assist.hover(model.getValue(), model.getOffsetAt(position));
        if (!found) return null;
        const start = model.getPositionAt(found.start);
        const end = model.getPositionAt(found.end);
        return {
          contents: [{ value: found.text }],
          range: new monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column),
        };
      },
    });
  }
}
registerProviders();

// Decorations are styled by class: one selection class per person's colour, written from the one palette.
let caretStyles: HTMLStyleElement | null = null;
function ensureCaretStyles(): void {
  if (caretStyles?.isConnected) return;
  caretStyles = document.createElement('style');
  caretStyles.textContent = PERSON_COLOURS.map((colour, i) => `.remote-selection.remote-colour-${i} { background-color: ${colour}40; }`).join('\n');
  document.head.append(caretStyles);
}

interface CaretWidget {
  widget: Monaco.editor.IContentWidget;
  node: HTMLElement;
  position: Monaco.IPosition;
}

/** Draws others' carets in an editor: their selections as decorations, each caret and name as a widget at its place. */
function remoteCarets(editor: Monaco.editor.IStandaloneCodeEditor, model: Monaco.editor.ITextModel): (carets: readonly RemoteCaret[]) => void {
  const selections = editor.createDecorationsCollection();
  const widgets = new Map<string, CaretWidget>();
  return (carets) => {
    ensureCaretStyles();
    selections.set(
      carets
        .filter((caret) => caret.anchor !== caret.head)
        .map((caret) => ({
          // Range orders its ends itself: a selection made backwards covers the same text.
          range: monaco.Range.fromPositions(model.getPositionAt(caret.anchor), model.getPositionAt(caret.head)),
          options: {
            className: `remote-selection remote-colour-${caret.colour}`,
            stickiness: monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges,
            hoverMessage: { value: caret.username },
          },
        })),
    );
    const shown = new Set(carets.map((caret) => caret.id));
    for (const [id, entry] of widgets) {
      if (shown.has(id)) continue;
      editor.removeContentWidget(entry.widget);
      widgets.delete(id);
    }
    const lineHeight = editor.getOption(monaco.editor.EditorOption.lineHeight);
    for (const caret of carets) {
      const position = model.getPositionAt(caret.head);
      let entry = widgets.get(caret.id);
      if (!entry) {
        const node = h(
          'div',
          { className: 'remote-caret', testId: 'remote-caret', dataset: { username: caret.username }, attrs: { 'aria-hidden': 'true' } },
          h('span', { className: 'remote-caret-name', text: caret.username }),
        );
        const created: CaretWidget = {
          node,
          position,
          widget: {
            getId: () => `quire.caret.${model.uri.toString()}.${caret.id}`,
            getDomNode: () => node,
            getPosition: () => ({ position: created.position, preference: [monaco.editor.ContentWidgetPositionPreference.EXACT] }),
          },
        };
        entry = created;
        widgets.set(caret.id, entry);
        editor.addContentWidget(entry.widget);
      } else {
        entry.position = position;
        editor.layoutContentWidget(entry.widget);
      }
      entry.node.style.setProperty('--caret-colour', PERSON_COLOURS[caret.colour] ?? PERSON_COLOURS[0]);
      entry.node.style.height = `${lineHeight}px`;
      // On the first line the name goes below the caret: above it, the cell's edge would cut it off.
      entry.node.classList.toggle('first-line', position.lineNumber === 1);
    }
  };
}

function toMarker(p: ErrorPosition): Monaco.editor.IMarkerData {
  return {
    severity: monaco.MarkerSeverity.Error,
    startLineNumber: p.line,
    startColumn: p.column,
    endLineNumber: p.end_line,
    endColumn: p.end_column,
    message: p.message,
  };
}

/** Creates a Monaco editor for a cell, starting from `options.value` and a cursor offset. */
export function createMonacoEditor(options: CellEditorOptions, cursor?: { offset: number; focus: boolean }): CellEditor {
  const host = h('div', { className: 'monaco-host', testId: 'cell-source' });
  const element = h('div', { className: 'cell-editor monaco' }, host);
  element.dataset.language = options.language;
  const model = monaco.editor.createModel(
    options.value,
    MONACO_LANGUAGE[options.language],
    monaco.Uri.parse(`quire:cell/${nextModel++}`),
  );
  const uri = model.uri.toString();
  if (options.assist) assists.set(uri, options.assist);

  const editor = monaco.editor.create(host, {
    model,
    readOnly: options.readOnly,
    minimap: { enabled: false },
    scrollBeyondLastLine: false,
    scrollbar: { vertical: 'hidden', alwaysConsumeMouseWheel: false, horizontalScrollbarSize: 8 },
    overviewRulerLanes: 0,
    hideCursorInOverviewRuler: true,
    renderLineHighlight: 'none',
    lineNumbers: 'on',
    lineNumbersMinChars: 3,
    glyphMargin: false,
    folding: false,
    fontSize: 13,
    lineHeight: 20,
    padding: { top: 8, bottom: 8 },
    automaticLayout: true,
    // Suggestions and hovers escape the cell's box instead of being cut off by it.
    fixedOverflowWidgets: true,
    contextmenu: false,
    tabSize: 4,
    wordBasedSuggestions: 'off',
    quickSuggestions: false,
    suggestOnTriggerCharacters: true,
    parameterHints: { enabled: true },
    ariaLabel: 'Cell source',
  });

  // The editor grows with its text; the page scrolls, never the cell.
  const fit = (): void => {
    host.style.height = `${editor.getContentHeight()}px`;
    editor.layout();
  };
  editor.onDidContentSizeChange(fit);
  fit();

  // Errors found as you type are markers of their own: a run's error underlines stay until the next run.
  const assist = options.assist;
  const checker = assist
    ? checkAsYouType({
        check: (source) => assist.check(source),
        show: (positions) => monaco.editor.setModelMarkers(model, 'check', positions.map(toMarker)),
      })
    : null;

  let remote = false;
  model.onDidChangeContent((event) => {
    if (remote) return;
    checker?.changed(model.getValue(), element.dataset.language as Language);
    if (options.onEdit) {
      // The changes' offsets all refer to the text before the event: applied last-first, each stays valid.
      const changes: TextChange[] = [...event.changes]
        .sort((a, b) => b.rangeOffset - a.rangeOffset)
        .map((change) => ({ offset: change.rangeOffset, deleteCount: change.rangeLength, insert: change.text }));
      options.onEdit(changes);
    }
    options.onChange(model.getValue());
  });
  const reportCaret = (selection: Monaco.Selection | null): void => {
    if (!selection || !editor.hasTextFocus()) return;
    options.onCaret?.(model.getOffsetAt(selection.getSelectionStart()), model.getOffsetAt(selection.getPosition()));
  };
  editor.onDidFocusEditorText(() => {
    options.onFocus?.();
    reportCaret(editor.getSelection());
  });
  editor.onDidChangeCursorSelection((event) => reportCaret(event.selection));
  editor.onDidBlurEditorText(() => options.onBlur?.());
  const setRemoteCarets = remoteCarets(editor, model);

  const noWidget = '!suggestWidgetVisible && !parameterHintsVisible && !findWidgetVisible';
  editor.addAction({
    id: 'quire.run',
    label: 'Run cell and advance',
    keybindings: [monaco.KeyMod.Shift | monaco.KeyCode.Enter],
    run: () => options.onRun(),
  });
  editor.addAction({
    id: 'quire.runInPlace',
    label: 'Run cell',
    keybindings: [monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter],
    run: () => (options.onRunInPlace ?? options.onRun)(),
  });
  editor.addAction({
    id: 'quire.commandMode',
    label: 'Command mode',
    keybindings: [monaco.KeyCode.Escape],
    precondition: noWidget,
    run: () => {
      (document.activeElement as HTMLElement | null)?.blur();
      options.onEscape?.();
    },
  });

  editor.addAction({
    id: 'quire.split',
    label: 'Split cell at the cursor',
    keybindings: [monaco.KeyMod.CtrlCmd | monaco.KeyMod.Shift | monaco.KeyCode.Minus],
    run: () => options.onSplit?.(),
  });

  const running = editor.createDecorationsCollection();

  if (cursor) {
    const position = model.getPositionAt(cursor.offset);
    editor.setPosition(position);
    if (cursor.focus) editor.focus();
  }

  return {
    element,
    getValue: () => model.getValue(),
    edit(offset, deleteCount, insert) {
      const start = model.getPositionAt(offset);
      const end = model.getPositionAt(offset + deleteCount);
      // executeEdits, as typing would: it lands in the user's undo history and is reported like their keystrokes.
      editor.executeEdits('quire', [{ range: monaco.Range.fromPositions(start, end), text: insert }]);
    },
    cursorOffset: () => {
      const position = editor.getPosition();
      return position ? model.getOffsetAt(position) : 0;
    },
    setWrap(wrap) {
      editor.updateOptions({ wordWrap: wrap ? 'on' : 'off' });
    },
    setValue(source) {
      if (source === model.getValue()) return;
      remote = true;
      try {
        // An edit rather than setValue: the user's undo history and cursor survive someone else's change.
        model.pushEditOperations([], [{ range: model.getFullModelRange(), text: source }], () => null);
      } finally {
        remote = false;
      }
    },
    applyRemote(changes) {
      if (changes.length === 0) return;
      // Selections as offsets, moved through the changes by hand, so a remote insert at the caret stays after it.
      const selections = (editor.getSelections() ?? []).map((selection) => ({
        anchor: model.getOffsetAt(selection.getSelectionStart()),
        head: model.getOffsetAt(selection.getPosition()),
      }));
      remote = true;
      try {
        for (const change of changes) {
          const start = model.getPositionAt(change.offset);
          const end = model.getPositionAt(change.offset + change.deleteCount);
          // applyEdits keeps others' changes out of the user's undo history.
          model.applyEdits([{ range: monaco.Range.fromPositions(start, end), text: change.insert }]);
        }
      } finally {
        remote = false;
      }
      if (selections.length > 0) {
        editor.setSelections(
          selections.map(({ anchor, head }) => {
            const a = model.getPositionAt(transformPosition(anchor, changes));
            const b = model.getPositionAt(transformPosition(head, changes));
            return new monaco.Selection(a.lineNumber, a.column, b.lineNumber, b.column);
          }),
        );
      }
    },
    setLanguage(language: Language) {
      element.dataset.language = language;
      monaco.editor.setModelLanguage(model, MONACO_LANGUAGE[language]);
    },
    setReadOnly(readOnly) {
      editor.updateOptions({ readOnly });
    },
    highlightLines(range) {
      running.set(
        range
          ? [{ range: new monaco.Range(range.start, 1, range.end, 1), options: { isWholeLine: true, className: 'running-statement' } }]
          : [],
      );
    },
    setErrors(positions) {
      monaco.editor.setModelMarkers(model, 'kernel', positions.map(toMarker));
    },
    setRemoteCarets,
    focus: () => editor.focus(),
    hasFocus: () => editor.hasTextFocus(),
    dispose() {
      checker?.dispose();
      assists.delete(uri);
      editor.dispose();
      model.dispose();
      element.remove();
    },
  };
}
