/**
 * A text cell's rich-text editor: headings, emphasis, lists, links, code, tables and formulas edited as they look,
 * stored as Markdown (so .ipynb stays standard). It never holds the truth: each change goes out as Markdown to
 * the cell's own editor, which saves and shares it; a change from elsewhere re-renders it when it is not in use.
 */
import { h } from '../lib/dom';

type MarkdownModule = typeof import('../markdownHtml');
let loading: Promise<MarkdownModule> | null = null;

function loadMarkdown(): Promise<MarkdownModule> {
  loading ??= import('../markdownHtml');
  return loading;
}

export interface RichTextOptions {
  /** The Markdown after a change the user made here. */
  onChange(markdown: string): void;
  /** Escape: back to command mode. */
  onEscape?(): void;
  /** Shift+Enter: render the cell and move on. */
  onRun?(): void;
}

/** How long typing must pause before the text is turned back into Markdown. */
const CONVERT_DELAY_MS = 150;

export class RichTextEditor {
  readonly element: HTMLElement;
  private readonly content = h('div', {
    className: 'rich-text markdown',
    testId: 'rich-text',
    attrs: { contenteditable: 'true', role: 'textbox', 'aria-multiline': 'true', 'aria-label': 'Text cell' },
  });
  private readonly mathDialog: HTMLElement;
  private readonly mathSource = h('textarea', { testId: 'math-source', attrs: { rows: '2', 'aria-label': 'Formula in TeX', spellcheck: 'false' } });
  private readonly mathPreview = h('div', { className: 'math-preview', testId: 'math-preview' });
  private readonly mathDisplay = h('input', { testId: 'math-display', attrs: { type: 'checkbox', 'aria-label': 'Display formula (own line)' } });
  private markdown = '';
  private module: MarkdownModule | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private savedRange: Range | null = null;

  constructor(private readonly options: RichTextOptions) {
    const tool = (label: string, title: string, testId: string, run: () => void): HTMLButtonElement => {
      const button = h('button', { className: 'button subtle', text: label, testId, attrs: { type: 'button', title, 'aria-label': title } });
      // mousedown, not click: the editor keeps its selection, which the command acts on.
      button.addEventListener('mousedown', (event) => {
        event.preventDefault();
        run();
      });
      return button;
    };
    const insertMath = h('button', { className: 'button primary', text: 'Insert', testId: 'math-insert', attrs: { type: 'button' } });
    insertMath.addEventListener('click', () => this.insertFormula());
    this.mathSource.addEventListener('input', () => void this.previewFormula());
    this.mathSource.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.insertFormula();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.closeMath();
      }
    });
    this.mathDialog = h(
      'div',
      { className: 'math-dialog', testId: 'math-dialog', attrs: { role: 'dialog', 'aria-label': 'Insert a formula' } },
      h('label', { text: 'TeX' }),
      this.mathSource,
      h('label', {}, this.mathDisplay, ' on its own line'),
      this.mathPreview,
      insertMath,
    );
    this.mathDialog.hidden = true;
    const toolbar = h(
      'div',
      { className: 'rich-text-toolbar', attrs: { role: 'toolbar', 'aria-label': 'Text formatting' } },
      tool('H1', 'Heading 1', 'rt-h1', () => this.block('H1')),
      tool('H2', 'Heading 2', 'rt-h2', () => this.block('H2')),
      tool('¶', 'Paragraph', 'rt-p', () => this.block('P')),
      tool('B', 'Bold (Ctrl+B)', 'rt-bold', () => this.command('bold')),
      tool('I', 'Italic (Ctrl+I)', 'rt-italic', () => this.command('italic')),
      tool('</>', 'Code', 'rt-code', () => this.code()),
      tool('• List', 'Bulleted list', 'rt-ul', () => this.command('insertUnorderedList')),
      tool('1. List', 'Numbered list', 'rt-ol', () => this.command('insertOrderedList')),
      tool('Link', 'Link', 'rt-link', () => this.link()),
      tool('Table', 'Insert a table', 'rt-table', () => this.table()),
      tool('∑', 'Insert a formula (LaTeX)', 'rt-math', () => this.openMath()),
    );
    this.element = h('div', { className: 'rich-text-editor', testId: 'rich-text-editor' }, toolbar, this.mathDialog, this.content);
    this.content.addEventListener('input', () => this.changed());
    // Pasted markup from elsewhere (styles, scripts, event handlers) never enters the editor: text does.
    this.content.addEventListener('paste', (event) => {
      event.preventDefault();
      document.execCommand('insertText', false, event.clipboardData?.getData('text/plain') ?? '');
      this.changed();
    });
    this.content.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.flush();
        this.options.onEscape?.();
      } else if (event.key === 'Enter' && event.shiftKey) {
        event.preventDefault();
        this.flush();
        this.options.onRun?.();
      }
    });
  }

  /** Shows `markdown`, unless the user is typing here (their text is newer; it goes out as they pause). */
  async setMarkdown(markdown: string, { force = false } = {}): Promise<void> {
    if (!force && (markdown === this.markdown || this.hasFocus())) return;
    this.markdown = markdown;
    this.module ??= await loadMarkdown();
    if (this.markdown !== markdown) return; // overtaken while the module loaded
    // The one place this editor's markup comes from: sanitized by markdownForEditing.
    this.content.innerHTML = this.module.markdownForEditing(markdown);
  }

  focus(): void {
    this.content.focus();
  }

  hasFocus(): boolean {
    return this.element.contains(document.activeElement);
  }

  /** Converts what is pending now (before a run, or leaving the editor). */
  flush(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.convert();
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.element.remove();
  }

  private changed(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.convert();
    }, CONVERT_DELAY_MS);
  }

  private convert(): void {
    if (!this.module) return;
    const markdown = this.module.markdownFromHtml(this.content);
    if (markdown === this.markdown) return;
    this.markdown = markdown;
    this.options.onChange(markdown);
  }

  private command(name: string, value?: string): void {
    this.content.focus();
    // execCommand is what contenteditable offers for these (and keeps the browser's own undo); every browser
    // Quire supports still implements it.
    document.execCommand(name, false, value);
    this.changed();
  }

  private block(tag: 'H1' | 'H2' | 'P'): void {
    this.command('formatBlock', tag);
  }

  private code(): void {
    const text = window.getSelection()?.toString() ?? '';
    this.command('insertHTML', `<code>${escapeHtml(text || 'code')}</code>`);
  }

  private link(): void {
    const url = window.prompt('Link address (https://…)');
    if (!url) return;
    if (!/^(https?:|mailto:|#|\/)/i.test(url.trim())) {
      window.alert('A link starts with https://, http://, mailto:, / or #.');
      return;
    }
    this.command('createLink', url.trim());
  }

  private table(): void {
    this.command(
      'insertHTML',
      '<table><thead><tr><th>Column 1</th><th>Column 2</th></tr></thead><tbody><tr><td>a</td><td>b</td></tr></tbody></table><p><br></p>',
    );
  }

  private openMath(): void {
    const selection = window.getSelection();
    this.savedRange = selection && selection.rangeCount > 0 && this.content.contains(selection.anchorNode) ? selection.getRangeAt(0).cloneRange() : null;
    this.mathDialog.hidden = false;
    this.mathSource.value = '';
    this.mathPreview.replaceChildren();
    this.mathSource.focus();
  }

  private closeMath(): void {
    this.mathDialog.hidden = true;
    this.content.focus();
  }

  private async previewFormula(): Promise<void> {
    this.module ??= await loadMarkdown();
    this.mathPreview.innerHTML = this.module.mathIsland(this.mathSource.value, this.mathDisplay.checked);
  }

  private insertFormula(): void {
    const source = this.mathSource.value.trim();
    if (!source || !this.module) {
      this.closeMath();
      return;
    }
    const display = this.mathDisplay.checked;
    this.mathDialog.hidden = true;
    // Placed with the Range API where the caret was when the dialog opened (or at the end): focus moved to the
    // dialog meanwhile, and execCommand would insert wherever the browser put the caret back.
    let range = this.savedRange;
    if (!range || !this.content.contains(range.startContainer)) {
      range = document.createRange();
      range.selectNodeContents(this.content.lastElementChild ?? this.content);
      range.collapse(false);
    }
    range.deleteContents();
    const fragment = range.createContextualFragment(this.module.mathIsland(source, display));
    const island = fragment.lastChild;
    // A space after an inline formula gives the caret somewhere to go.
    const after = document.createTextNode(display ? '' : '\u00a0');
    range.insertNode(after);
    range.insertNode(fragment);
    this.content.focus();
    const selection = window.getSelection();
    if (selection && island) {
      const caret = document.createRange();
      caret.setStart(after, after.length);
      caret.collapse(true);
      selection.removeAllRanges();
      selection.addRange(caret);
    }
    this.savedRange = null;
    this.changed();
    this.flush();
  }
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
