/** One notebook cell: its toolbar, editor (or rendered Markdown), outputs and symbols, kept in step with the model. */
import { h } from '../lib/dom';
import type { CellRecord, Permissions } from '../notebookModel';
import { type ErrorPosition, type HiddenPart, LANGUAGES, type Language, type Output, type SentRequest } from '../protocol';
import type { TextChange } from '../lib/textChanges';
import type { RemoteCaret } from '../cursors';
import { personColour } from '../lib/personColour';
import { type CellEditor, type CellEditorFactory, type EditorAssist, createTextareaEditor } from './CellEditor';
import { MarkdownView } from './MarkdownView';
import { RichTextEditor } from './RichTextEditor';
import { diffText } from '../lib/textChanges';
import type { OutputContext } from './MimeView';
import { InputPrompt } from './InputPrompt';
import { OutputArea, outputsText } from './OutputArea';
import { SymbolList } from './SymbolList';

/** What a cell asks of the page; the page turns these into protocol requests. */
export interface CellActions {
  /** The user changed the text; recorded locally at once. */
  editSource(cellId: string, source: string): void;
  /** Sends the text to the server (debounced by the cell); only when editing is not collaborative. */
  saveSource(cellId: string, source: string): SentRequest;
  /**
   * Collaborative editing: records the user's changes in the shared document (which sends them);
   * false when there is no shared document, and the cell saves its whole text instead.
   */
  editChanges?(cellId: string, changes: TextChange[]): boolean;
  /** Sends the cell's collaborative edits now (before a run). */
  flushEdits?(cellId: string): void;
  /** True while the shared document drives the cell's text. */
  collaborative?(): boolean;
  setLanguage(cellId: string, language: Language): SentRequest;
  /** Runs the cell; `advance` moves the selection to the next cell (Shift+Enter). */
  run(cellId: string, advance?: boolean): void;
  runFrom?(cellId: string): void;
  remove(cellId: string): void;
  /** Clears the outputs the cell shows, for everyone. */
  clearOutputs?(cellId: string): void;
  /** Hides or shows the cell's code or output, for everyone. */
  setHidden?(cellId: string, part: HiddenPart, hidden: boolean): void;
  move(cellId: string, offset: -1 | 1): void;
  /** Inserts a cell right below this one (the insert bar, a split); `edit` puts the cursor in it. */
  insertBelow?(cellId: string, cell: { language: Language; source: string }, edit: boolean): void;
  /** The cell was clicked or its editor focused: it becomes the selected cell. */
  select?(cellId: string, editing: boolean): void;
  /** Escape in the editor: back to command mode on this cell. */
  commandMode?(cellId: string): void;
  /** The user's caret moved in the cell's editor (offsets: where the selection started, and the caret). */
  caret?(cellId: string, anchor: number, head: number): void;
  /** The cell's editor lost the focus. */
  leftEditor?(cellId: string): void;
  assist?(cellId: string): EditorAssist | undefined;
  /** Answers the question of the cell's run `execId` (input(), getpass()). */
  answerInput?(cellId: string, execId: string, value: string): SentRequest;
  /** Who is on this page: a run's question is theirs to answer when they ran it. */
  username?(): string | null;
  outputContext?(cellId: string): OutputContext;
}

export interface CellViewOptions {
  actions: CellActions;
  permissions: Permissions;
  createEditor?: CellEditorFactory;
  /** How long typing must pause before the text is sent. */
  saveDelayMs?: number;
}

const DEFAULT_SAVE_DELAY_MS = 300;

const TEXT_MODE_KEY = 'quire.textEditor';

/** How this browser edits text cells: as rich text (the default) or as Markdown source. */
function textMode(): 'rich' | 'markdown' {
  try {
    return localStorage.getItem(TEXT_MODE_KEY) === 'markdown' ? 'markdown' : 'rich';
  } catch {
    return 'rich';
  }
}

function setTextMode(mode: 'rich' | 'markdown'): void {
  try {
    localStorage.setItem(TEXT_MODE_KEY, mode);
  } catch {
    // Storage refused (private mode, quota): the default, rich text, stays.
  }
}

const LANGUAGE_LABELS: Record<Language, string> = { python: 'Python', scala: 'Scala', sql: 'SQL', vega: 'Vega', text: 'Text' };

/** The places the cell's latest error output points at, for the editor's underlines. */
export function errorPositions(outputs: readonly Output[]): ErrorPosition[] {
  return outputs.flatMap((output) => (output.output_type === 'error' ? (output.positions ?? []) : []));
}

export class CellView {
  readonly element: HTMLElement;
  private readonly editor: CellEditor;
  private readonly language: HTMLSelectElement;
  private readonly stateIndicator = h('span', { className: 'cell-state', testId: 'cell-state' });
  /** Jupyter's prompt: `[n]` for the run shown, `[*]` while it waits or runs, `[ ]` before any. */
  private readonly executionCount = h('span', { className: 'execution-count', testId: 'execution-count', attrs: { title: 'Run number in this kernel session' } });
  private readonly waitingLine = h('div', { className: 'cell-waiting muted', testId: 'cell-waiting', attrs: { role: 'status' } });
  private waiting = '';
  private readonly staleBadge = h('span', { className: 'stale-badge', testId: 'stale-badge', text: 'stale', attrs: { title: 'A cell above changed since this ran' } });
  private readonly presence = h('span', { className: 'cell-presence', testId: 'cell-presence' });
  private readonly runButton = h('button', {
    className: 'button run',
    testId: 'run-cell',
    text: '▶ Run',
    attrs: { type: 'button', title: 'Run (Shift+Enter)' },
  });
  private readonly runFromButton = h('button', {
    className: 'button subtle',
    testId: 'run-from',
    text: 'Run from here',
    attrs: { type: 'button', title: 'Run this cell and every cell below it' },
  });
  private readonly editButtons: HTMLElement;
  /** A text cell's editor as it looks (made when first needed); its Markdown source stays one toggle away. */
  private rich: RichTextEditor | null = null;
  private readonly textModeButton: HTMLButtonElement;
  /** Above the outputs, for everyone: copy them, hide them (for everyone when an editor does), or scroll a long one
   * in a box (this page only). */
  private readonly outputTools: HTMLElement;
  private readonly hideOutputButton: HTMLButtonElement;
  private readonly scrollOutputButton: HTMLButtonElement;
  private readonly hiddenOutputNote = h('button', {
    className: 'button subtle output-hidden-note', testId: 'output-hidden-note', text: 'Output hidden — show', attrs: { type: 'button' },
  });
  private readonly hideSourceButton: HTMLButtonElement;
  private readonly hiddenSourceNote = h('button', {
    className: 'button subtle output-hidden-note', testId: 'source-hidden-note', text: 'Code hidden — show', attrs: { type: 'button' },
  });
  /** What someone who may not hide for everyone chose to see on this page, over what the editors stored. */
  private readonly peek: Partial<Record<HiddenPart, boolean>> = {};
  /** Under the cell, for editors: a new code or text cell right here. */
  private readonly insertBar: HTMLElement;
  private readonly clearOutputButton: HTMLButtonElement;
  private readonly markdown = new MarkdownView();
  private readonly outputs: OutputArea;
  private readonly inputPrompt: InputPrompt;
  private readonly symbols = new SymbolList();
  private readonly actions: CellActions;
  private readonly saveDelayMs: number;

  private cell: CellRecord;
  private permissions: Permissions;
  private queuePosition: number | null = null;
  /** Text cells show their Markdown unless being edited. */
  private editingText = false;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private savesInFlight = 0;
  /** Whether the latest change went into the shared document. */
  private editedTogether = false;

  constructor(cell: CellRecord, options: CellViewOptions) {
    this.cell = cell;
    this.permissions = options.permissions;
    this.actions = options.actions;
    this.saveDelayMs = options.saveDelayMs ?? DEFAULT_SAVE_DELAY_MS;
    this.outputs = new OutputArea(this.actions.outputContext?.(cell.id) ?? {});
    const answer = this.actions.answerInput;
    this.inputPrompt = new InputPrompt(answer && ((execId, value) => answer(this.cell.id, execId, value)));

    this.language = h(
      'select',
      { className: 'cell-language', testId: 'cell-language', attrs: { 'aria-label': 'Cell language' } },
      ...LANGUAGES.map((language) => h('option', { text: LANGUAGE_LABELS[language], attrs: { value: language } })),
    );
    this.language.value = cell.language;
    this.language.addEventListener('change', () => this.changeLanguage(this.language.value as Language));

    const assist = this.actions.assist?.(cell.id);
    this.editor = (options.createEditor ?? createTextareaEditor)({
      value: cell.source,
      language: cell.language,
      readOnly: !this.permissions.canEdit,
      onChange: (source) => this.edited(source),
      onEdit: (changes) => {
        this.editedTogether = this.actions.editChanges?.(this.cell.id, changes) ?? false;
      },
      onRun: () => this.run(true),
      onRunInPlace: () => this.run(false),
      onEscape: () => this.leaveEditor(),
      onSplit: () => this.split(),
      onFocus: () => this.actions.select?.(this.cell.id, true),
      onCaret: (anchor, head) => this.actions.caret?.(this.cell.id, anchor, head),
      onBlur: () => this.actions.leftEditor?.(this.cell.id),
      ...(assist && { assist }),
    });

    this.runButton.addEventListener('click', () => this.run(false));
    this.runFromButton.addEventListener('click', () => {
      this.flush();
      this.actions.runFrom?.(this.cell.id);
    });
    this.clearOutputButton = this.button('Clear output', 'Clear this cell\'s output, for everyone', () => this.actions.clearOutputs?.(this.cell.id), 'clear-output');
    this.editButtons = h(
      'span',
      { className: 'cell-edit-buttons' },
      this.button('↑', 'Move up', () => this.actions.move(this.cell.id, -1), 'move-up'),
      this.button('↓', 'Move down', () => this.actions.move(this.cell.id, 1), 'move-down'),
      this.button('Delete', 'Delete cell', () => this.actions.remove(this.cell.id), 'delete-cell'),
    );
    this.markdown.element.addEventListener('dblclick', () => this.editText());
    this.textModeButton = this.button('Markdown', 'Edit the Markdown source / edit as rich text', () => this.toggleTextMode(), 'text-mode');
    this.hideOutputButton = this.button('Hide output', 'Hide this cell\'s output', () => this.setHidden('outputs', true), 'hide-output');
    this.hideSourceButton = this.button('Hide code', 'Hide or show this cell\'s code, for everyone', () =>
      this.setHidden('source', !this.cell.sourceHidden), 'hide-source');
    this.hiddenSourceNote.hidden = true;
    this.hiddenSourceNote.addEventListener('click', () => this.setHidden('source', false));
    this.scrollOutputButton = this.button('Scroll', 'Show a long output in a box of its own height, scrolled', () => this.toggleScrolled(), 'scroll-output');
    this.scrollOutputButton.setAttribute('aria-pressed', 'false');
    this.hiddenOutputNote.hidden = true;
    this.hiddenOutputNote.addEventListener('click', () => this.setHidden('outputs', false));
    this.outputTools = h(
      'div',
      { className: 'output-tools', testId: 'output-tools' },
      this.button('Copy', 'Copy the output as text', () => void this.copyOutput(), 'copy-output'),
      this.scrollOutputButton,
      this.hideOutputButton,
    );
    this.insertBar = h(
      'div',
      { className: 'cell-insert', testId: 'cell-insert' },
      this.button('+ Code', 'Insert a code cell below', () => {
        const language = this.cell.language === 'text' ? 'python' : this.cell.language;
        this.actions.insertBelow?.(this.cell.id, { language, source: '' }, true);
      }, 'insert-code-below'),
      this.button('+ Text', 'Insert a text cell below', () => this.actions.insertBelow?.(this.cell.id, { language: 'text', source: '' }, true), 'insert-text-below'),
    );

    this.element = h(
      'section',
      { className: 'cell', testId: 'cell', dataset: { cellId: cell.id }, attrs: { tabindex: '-1' } },
      h(
        'div',
        { className: 'cell-toolbar' },
        this.executionCount,
        this.language,
        this.runButton,
        this.stateIndicator,
        this.staleBadge,
        this.presence,
        h('span', { className: 'spacer' }),
        this.textModeButton,
        this.hideSourceButton,
        this.runFromButton,
        this.clearOutputButton,
        this.editButtons,
      ),
      this.waitingLine,
      this.hiddenSourceNote,
      this.editor.element,
      this.markdown.element,
      this.outputTools,
      this.hiddenOutputNote,
      this.outputs.element,
      this.inputPrompt.element,
      this.symbols.element,
      this.insertBar,
    );
    // A click anywhere in the cell selects it; a click in the editor also starts editing (via onFocus).
    this.element.addEventListener('mousedown', () => this.actions.select?.(this.cell.id, false));
    this.editingText = cell.language === 'text' && cell.source === '';
    this.update(cell, this.permissions, true);
  }

  get cellId(): string {
    return this.cell.id;
  }

  get isText(): boolean {
    return this.cell.language === 'text';
  }

  /** Brings the view in line with the model's record of this cell. */
  update(cell: CellRecord, permissions: Permissions, force = false): void {
    const previous = this.cell;
    this.cell = cell;
    if (force || permissions.canRun !== this.permissions.canRun || permissions.canEdit !== this.permissions.canEdit) {
      this.permissions = permissions;
      this.editor.setReadOnly(!permissions.canEdit);
      this.language.disabled = !permissions.canEdit;
      this.editButtons.hidden = !permissions.canEdit;
      this.insertBar.hidden = !permissions.canEdit || !this.actions.insertBelow;
    }
    this.syncSource();
    // What the editors chose for everyone changed: it stands, over what this page chose to see.
    if (cell.sourceHidden !== previous.sourceHidden) delete this.peek.source;
    if (cell.outputsHidden !== previous.outputsHidden) delete this.peek.outputs;
    this.hideSourceButton.hidden = !permissions.canEdit || !this.actions.setHidden;
    const hideLabel = cell.sourceHidden ? 'Show code' : 'Hide code';
    // Updates come with every output a run streams: text that stays the same is not written again.
    if (this.hideSourceButton.textContent !== hideLabel) this.hideSourceButton.textContent = hideLabel;
    if (force || cell.language !== previous.language) {
      this.language.value = cell.language;
      this.editor.setLanguage(cell.language);
    }
    this.runButton.hidden = !permissions.canRun || cell.language === 'text';
    this.runFromButton.hidden = !permissions.canRun;
    this.clearOutputButton.hidden = !this.permissions.canEdit || cell.outputs.length === 0 || !this.actions.clearOutputs;
    this.showState();
    this.element.classList.toggle('stale', cell.stale);
    this.staleBadge.hidden = !cell.stale;
    this.editor.highlightLines(cell.state === 'running' ? cell.running : null);
    if (force || cell.outputs !== previous.outputs) this.editor.setErrors(errorPositions(cell.outputs));
    this.outputs.render(cell.outputs, {
      total: cell.outputsTotal,
      running: cell.state === 'running' || cell.state === 'queued',
    });
    const outputHidden = this.isHidden('outputs');
    this.outputTools.hidden = cell.outputs.length === 0 || outputHidden;
    this.hiddenOutputNote.hidden = cell.outputs.length === 0 || !outputHidden;
    if (outputHidden) this.outputs.element.hidden = true;
    const you = this.actions.username?.() ?? null;
    this.inputPrompt.render(cell.input, cell.input !== null && cell.input.username === you && permissions.canRun);
    this.symbols.render(cell.symbols);
    this.showTextOrEditor();
  }

  /** Whether this page hides the cell's code or output: as the editors stored it, unless this page chose. */
  private isHidden(part: HiddenPart): boolean {
    return this.peek[part] ?? (part === 'source' ? this.cell.sourceHidden : this.cell.outputsHidden);
  }

  /**
   * Hides a part behind a one-line note, or shows it: an editor does it for everyone (shown once the server says
   * so); anyone else on this page only, since they change nothing the others see.
   */
  private setHidden(part: HiddenPart, hidden: boolean): void {
    if (this.permissions.canEdit && this.actions.setHidden) {
      delete this.peek[part];
      this.actions.setHidden(this.cell.id, part, hidden);
      return;
    }
    this.peek[part] = hidden;
    this.update(this.cell, this.permissions, true);
  }

  private toggleScrolled(): void {
    const scrolled = !this.outputs.element.classList.contains('scrolled');
    this.outputs.element.classList.toggle('scrolled', scrolled);
    this.scrollOutputButton.setAttribute('aria-pressed', String(scrolled));
  }

  private async copyOutput(): Promise<void> {
    try {
      await navigator.clipboard.writeText(outputsText(this.cell.outputs));
      this.flashTool('Copied');
    } catch {
      this.flashTool('Could not copy');
    }
  }

  private flashTool(text: string): void {
    const copy = this.outputTools.querySelector<HTMLButtonElement>('[data-testid="copy-output"]');
    if (!copy) return;
    copy.textContent = text;
    setTimeout(() => {
      copy.textContent = 'Copy';
    }, 1500);
  }

  /** Shows the cell's place in the run queue (1 = next), or nothing when not queued; `waiting` says what the
   * queue waits for before anything runs (an environment building, with its latest progress), if anything. */
  setQueuePosition(position: number | null, waiting = ''): void {
    if (position === this.queuePosition && waiting === this.waiting) return;
    this.queuePosition = position;
    this.waiting = waiting;
    this.showState();
  }

  /** The other people whose cursor is in this cell. */
  setPresence(usernames: readonly string[]): void {
    this.presence.replaceChildren(
      ...usernames.map((name) => {
        const avatar = h('span', { className: 'avatar', text: name.slice(0, 2).toUpperCase(), attrs: { title: `${name} is here` } });
        avatar.style.background = personColour(name);
        return avatar;
      }),
    );
    this.presence.hidden = usernames.length === 0;
  }

  /** Draws the other editors' carets in this cell's editor. */
  setRemoteCarets(carets: readonly RemoteCaret[]): void {
    this.editor.setRemoteCarets(carets);
  }

  setSelected(selected: boolean): void {
    this.element.classList.toggle('selected', selected);
  }

  /** Someone else changed the text: shown in place, the caret stays. */
  applyRemote(changes: readonly TextChange[]): void {
    this.editor.applyRemote(changes);
  }

  /** A new text from the shared document (e.g. after reconnecting). */
  setText(text: string): void {
    this.cell = { ...this.cell, source: text };
    this.editor.setValue(text);
  }

  /** Sends any text still waiting for the typing pause. */
  flush(): void {
    this.actions.flushEdits?.(this.cell.id);
    if (this.saveTimer === null) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.savesInFlight++;
    void this.actions.saveSource(this.cell.id, this.editor.getValue()).settled.then(() => {
      this.savesInFlight--;
      this.syncSource();
    });
  }

  /** Edit mode: puts the cursor in the editor (a text cell shows its source first). */
  focus(): void {
    if (this.isText) this.editText();
    else this.editor.focus();
  }

  /** Command mode: the cell itself has the focus, so keys act on cells. */
  focusCell(): void {
    this.element.focus({ preventScroll: false });
  }

  /** Splits the cell at the caret: the text after it moves to a new cell below, where the cursor goes. */
  split(): void {
    if (!this.permissions.canEdit || !this.actions.insertBelow) return;
    const text = this.editor.getValue();
    const offset = this.editor.cursorOffset();
    const cut = offset > 0 && text[offset - 1] === '\n' ? offset - 1 : offset;
    const after = text.slice(offset).replace(/^\n/, '');
    this.editor.edit(cut, text.length - cut, '');
    this.actions.insertBelow(this.cell.id, { language: this.cell.language, source: after }, true);
  }

  /** Appends text on a line of its own, as an edit of the user's (merging the cell below into this one). */
  append(text: string): void {
    const value = this.editor.getValue();
    this.editor.edit(value.length, 0, value && text ? `\n${text}` : text);
  }

  setWrap(wrap: boolean): void {
    this.editor.setWrap(wrap);
  }

  hasEditorFocus(): boolean {
    return this.editor.hasFocus();
  }

  /** Removes the cell; unsent text is dropped, as the cell is gone or replaced by a snapshot. */
  dispose(): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.editor.dispose();
    this.rich?.dispose();
    this.element.remove();
  }

  /** Runs the cell (a text cell just renders); `advance` asks the page to move on, as Shift+Enter does. */
  run(advance: boolean): void {
    this.rich?.flush();
    this.flush();
    if (this.isText) {
      this.editingText = false;
      this.showTextOrEditor();
      if (advance) this.actions.run(this.cell.id, true);
      else this.focusCell();
      return;
    }
    if (!this.permissions.canRun) return;
    // The server must run what the user sees, so the pending text went first.
    this.actions.run(this.cell.id, advance);
  }

  private showState(): void {
    const cell = this.cell;
    const queued = cell.state === 'queued' && this.queuePosition !== null;
    this.stateIndicator.textContent = queued ? `queued #${this.queuePosition}` : (cell.state ?? '');
    // A first run is queued before the cell hears of it: the queue's place and why it waits show at once.
    const waiting = this.queuePosition !== null && this.waiting !== '';
    if (waiting) this.stateIndicator.textContent = `queued #${this.queuePosition}`;
    this.waitingLine.textContent = waiting ? this.waiting : '';
    this.waitingLine.hidden = !waiting;
    this.stateIndicator.dataset.state = cell.state ?? 'none';
    const pending = cell.state === 'queued' || cell.state === 'running' || this.queuePosition !== null;
    const prompt = `[${pending ? '*' : (cell.executionCount ?? ' ')}]`;
    if (this.executionCount.textContent !== prompt) this.executionCount.textContent = prompt;
    this.executionCount.hidden = this.isText;
    this.element.dataset.state = cell.state ?? 'none';
  }

  private showTextOrEditor(): void {
    const text = this.isText;
    const editing = text && this.editingText && this.permissions.canEdit;
    const rich = editing && textMode() === 'rich';
    const showEditor = !text || (editing && !rich);
    this.editor.element.hidden = !showEditor;
    this.markdown.element.hidden = !text || editing;
    this.textModeButton.hidden = !editing;
    this.textModeButton.textContent = rich ? 'Markdown' : 'Rich text';
    if (rich) {
      const editor = this.richEditor();
      editor.element.hidden = false;
      void editor.setMarkdown(this.editor.getValue());
    } else if (this.rich) {
      this.rich.element.hidden = true;
    }
    if (text && !editing) this.markdown.render(this.cell.source);
    const sourceHidden = this.isHidden('source');
    this.hiddenSourceNote.hidden = !sourceHidden;
    if (sourceHidden) {
      this.editor.element.hidden = true;
      this.markdown.element.hidden = true;
      if (this.rich) this.rich.element.hidden = true;
    }
  }

  /** The rich-text editor, made on first use and placed where the Markdown editor is. */
  private richEditor(): RichTextEditor {
    if (!this.rich) {
      this.rich = new RichTextEditor({
        // Each change goes through the cell's own editor as the smallest edit, so it is saved and shared as typing is.
        onChange: (markdown) => {
          const change = diffText(this.editor.getValue(), markdown);
          if (change) this.editor.edit(change.offset, change.deleteCount, change.insert);
        },
        onEscape: () => this.leaveEditor(),
        onRun: () => this.run(true),
      });
      this.editor.element.after(this.rich.element);
    }
    return this.rich;
  }

  private toggleTextMode(): void {
    this.rich?.flush();
    setTextMode(textMode() === 'rich' ? 'markdown' : 'rich');
    this.showTextOrEditor();
    if (textMode() === 'rich') {
      const editor = this.richEditor();
      void editor.setMarkdown(this.editor.getValue(), { force: true }).then(() => editor.focus());
    } else {
      this.editor.focus();
    }
  }

  private editText(): void {
    if (!this.permissions.canEdit) return;
    this.editingText = true;
    this.showTextOrEditor();
    if (textMode() === 'rich') {
      const editor = this.richEditor();
      void editor.setMarkdown(this.editor.getValue(), { force: true }).then(() => editor.focus());
    } else {
      this.editor.focus();
    }
  }

  private leaveEditor(): void {
    this.rich?.flush();
    if (this.isText && this.editingText) {
      this.flush();
      this.editingText = false;
      this.showTextOrEditor();
    }
    this.actions.commandMode?.(this.cell.id);
  }

  private edited(source: string): void {
    // The view's record follows the user's text too: a save's ack that arrives before its echo
    // must not put the older text back.
    this.cell = { ...this.cell, source };
    this.actions.editSource(this.cell.id, source);
    if (this.editedTogether) return; // the shared document sends it
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flush(), this.saveDelayMs);
  }

  /**
   * Shows the model's text unless the user has edits the server has not confirmed yet:
   * an echo of an older save must not rewind what they are typing.
   */
  private syncSource(): void {
    if (this.actions.collaborative?.()) {
      // The shared document keeps the editor current; this only catches up after a reload.
      if (this.saveTimer === null && this.editor.getValue() !== this.cell.source) this.editor.setValue(this.cell.source);
      return;
    }
    if (this.saveTimer === null && this.savesInFlight === 0) this.editor.setValue(this.cell.source);
  }

  private changeLanguage(language: Language): void {
    if (language === 'text') this.editingText = true;
    void this.actions.setLanguage(this.cell.id, language).settled.then((outcome) => {
      if (outcome.type === 'error') this.language.value = this.cell.language;
    });
  }

  private button(text: string, label: string, onClick: () => void, testId?: string): HTMLButtonElement {
    const button = h('button', { className: 'button subtle', text, attrs: { type: 'button', title: label, 'aria-label': label } });
    if (testId) button.dataset.testid = testId;
    button.addEventListener('click', onClick);
    return button;
  }
}
