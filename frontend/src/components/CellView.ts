/** One notebook cell: its toolbar, editor, outputs and symbols, kept in step with the model. */
import { h } from '../lib/dom';
import type { CellRecord, Permissions } from '../notebookModel';
import { LANGUAGES, type Language, type SentRequest } from '../protocol';
import { type CellEditor, type CellEditorFactory, createTextareaEditor } from './CellEditor';
import { OutputArea } from './OutputArea';
import { SymbolList } from './SymbolList';

/** What a cell asks of the page; the page turns these into protocol requests. */
export interface CellActions {
  /** The user changed the text; recorded locally at once. */
  editSource(cellId: string, source: string): void;
  /** Sends the text to the server (debounced by the cell). */
  saveSource(cellId: string, source: string): SentRequest;
  setLanguage(cellId: string, language: Language): SentRequest;
  run(cellId: string): void;
  remove(cellId: string): void;
  move(cellId: string, offset: -1 | 1): void;
}

export interface CellViewOptions {
  actions: CellActions;
  permissions: Permissions;
  createEditor?: CellEditorFactory;
  /** How long typing must pause before the text is sent. */
  saveDelayMs?: number;
}

const DEFAULT_SAVE_DELAY_MS = 300;

export class CellView {
  readonly element: HTMLElement;
  private readonly editor: CellEditor;
  private readonly language: HTMLSelectElement;
  private readonly stateIndicator = h('span', { className: 'cell-state', testId: 'cell-state' });
  private readonly runButton = h('button', {
    className: 'button run',
    testId: 'run-cell',
    text: 'Run',
    attrs: { type: 'button', title: 'Run (Shift+Enter)' },
  });
  private readonly editButtons: HTMLElement;
  private readonly outputs = new OutputArea();
  private readonly symbols = new SymbolList();
  private readonly actions: CellActions;
  private readonly saveDelayMs: number;

  private cell: CellRecord;
  private permissions: Permissions;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private savesInFlight = 0;

  constructor(cell: CellRecord, options: CellViewOptions) {
    this.cell = cell;
    this.permissions = options.permissions;
    this.actions = options.actions;
    this.saveDelayMs = options.saveDelayMs ?? DEFAULT_SAVE_DELAY_MS;

    this.language = h(
      'select',
      { className: 'cell-language', testId: 'cell-language', attrs: { 'aria-label': 'Cell language' } },
      ...LANGUAGES.map((language) => h('option', { text: language, attrs: { value: language } })),
    );
    this.language.value = cell.language;
    this.language.addEventListener('change', () => this.changeLanguage(this.language.value as Language));

    this.editor = (options.createEditor ?? createTextareaEditor)({
      value: cell.source,
      language: cell.language,
      readOnly: !this.permissions.canEdit,
      onChange: (source) => this.edited(source),
      onRun: () => this.run(),
    });

    this.runButton.addEventListener('click', () => this.run());
    this.editButtons = h(
      'span',
      { className: 'cell-edit-buttons' },
      this.button('↑', 'Move up', () => this.actions.move(this.cell.id, -1)),
      this.button('↓', 'Move down', () => this.actions.move(this.cell.id, 1)),
      this.button('Delete', 'Delete cell', () => this.actions.remove(this.cell.id), 'delete-cell'),
    );

    this.element = h(
      'section',
      { className: 'cell', testId: 'cell', dataset: { cellId: cell.id } },
      h('div', { className: 'cell-toolbar' }, this.language, this.runButton, this.stateIndicator, this.editButtons),
      this.editor.element,
      this.outputs.element,
      this.symbols.element,
    );
    this.update(cell, this.permissions, true);
  }

  get cellId(): string {
    return this.cell.id;
  }

  /** Brings the view in line with the model's record of this cell. */
  update(cell: CellRecord, permissions: Permissions, force = false): void {
    const previous = this.cell;
    this.cell = cell;
    if (force || permissions.canRun !== this.permissions.canRun || permissions.canEdit !== this.permissions.canEdit) {
      this.permissions = permissions;
      this.editor.setReadOnly(!permissions.canEdit);
      this.language.disabled = !permissions.canEdit;
      this.runButton.hidden = !permissions.canRun;
      this.editButtons.hidden = !permissions.canEdit;
    }
    this.syncSource();
    if (force || cell.language !== previous.language) {
      this.language.value = cell.language;
      this.editor.setLanguage(cell.language);
    }
    this.stateIndicator.textContent = cell.state ?? '';
    this.stateIndicator.dataset.state = cell.state ?? 'none';
    this.element.dataset.state = cell.state ?? 'none';
    this.element.classList.toggle('stale', cell.stale);
    this.stateIndicator.title = cell.stale ? 'Stale: a cell above changed since this ran' : '';
    this.editor.highlightLines(cell.state === 'running' ? cell.running : null);
    this.outputs.render(cell.outputs);
    this.symbols.render(cell.symbols);
  }

  /** Sends any text still waiting for the typing pause. */
  flush(): void {
    if (this.saveTimer === null) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.savesInFlight++;
    void this.actions.saveSource(this.cell.id, this.editor.getValue()).settled.then(() => {
      this.savesInFlight--;
      this.syncSource();
    });
  }

  focus(): void {
    this.editor.focus();
  }

  /** Removes the cell; unsent text is dropped, as the cell is gone or replaced by a snapshot. */
  dispose(): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.editor.dispose();
    this.element.remove();
  }

  private run(): void {
    if (!this.permissions.canRun) return;
    // The server must run what the user sees, so the pending text goes first.
    this.flush();
    this.actions.run(this.cell.id);
  }

  private edited(source: string): void {
    this.actions.editSource(this.cell.id, source);
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flush(), this.saveDelayMs);
  }

  /**
   * Shows the model's text unless the user has edits the server has not confirmed yet:
   * an echo of an older save must not rewind what they are typing.
   */
  private syncSource(): void {
    if (this.saveTimer === null && this.savesInFlight === 0) this.editor.setValue(this.cell.source);
  }

  private changeLanguage(language: Language): void {
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
