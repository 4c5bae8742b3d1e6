/** A panel that slides over the right of the page (history, sharing), closed with × or Escape. */
import { h } from '../lib/dom';

export class Drawer {
  readonly element: HTMLElement;
  readonly body = h('div', { className: 'drawer-body' });
  private onOpen: (() => void) | null = null;
  private onClose: (() => void) | null = null;

  constructor(title: string, testId: string) {
    const close = h('button', { className: 'button subtle', text: '×', attrs: { type: 'button', 'aria-label': `Close ${title}` } });
    close.addEventListener('click', () => this.close());
    this.element = h(
      'aside',
      { className: 'drawer dialog', testId, attrs: { role: 'dialog', 'aria-label': title } },
      h('header', { className: 'panel-header' }, h('h2', { text: title }), close),
      this.body,
    );
    this.element.hidden = true;
    this.element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close();
    });
  }

  whenOpened(callback: () => void): void {
    this.onOpen = callback;
  }

  whenClosed(callback: () => void): void {
    this.onClose = callback;
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  open(): void {
    this.element.hidden = false;
    this.onOpen?.();
  }

  close(): void {
    if (this.element.hidden) return;
    this.element.hidden = true;
    this.onClose?.();
  }

  toggle(): void {
    if (this.isOpen) this.close();
    else this.open();
  }
}
