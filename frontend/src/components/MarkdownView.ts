/** A text cell's Markdown and LaTeX, rendered (sanitized) once the Markdown module has loaded. */
import { h } from '../lib/dom';

type MarkdownModule = typeof import('../markdownHtml');
let loading: Promise<MarkdownModule> | null = null;

export class MarkdownView {
  readonly element = h('div', { className: 'markdown', testId: 'markdown', attrs: { title: 'Double-click to edit' } });
  private shown: string | null = null;

  render(source: string): void {
    if (source === this.shown) return;
    this.shown = source;
    if (source.trim() === '') {
      this.element.replaceChildren(h('p', { className: 'muted', text: 'Empty text cell. Double-click to write Markdown.' }));
      return;
    }
    loading ??= import('../markdownHtml');
    void loading.then(({ renderMarkdown }) => {
      // A later render may have overtaken this one while the module loaded.
      if (this.shown !== source) return;
      // The one place Markdown becomes markup: renderMarkdown has passed it through DOMPurify.
      this.element.innerHTML = renderMarkdown(source);
    });
  }
}
