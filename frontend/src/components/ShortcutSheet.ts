/** The keyboard shortcut sheet (`h` in command mode), listed from the bindings themselves. */
import { COMMAND_BINDINGS, EDIT_BINDINGS } from '../commandMode';
import { h } from '../lib/dom';
import { Drawer } from './Drawer';

export class ShortcutSheet {
  readonly drawer = new Drawer('Keyboard shortcuts', 'shortcut-sheet');

  /** `closed` runs when the sheet closes (×, Escape), to give the focus back to the notebook. */
  constructor(closed: () => void) {
    this.drawer.whenClosed(closed);
    const table = (title: string, rows: readonly { label: string; description: string }[]): HTMLElement =>
      h(
        'section',
        {},
        h('h3', { text: title }),
        h(
          'table',
          { className: 'shortcuts' },
          h('tbody', {}, ...rows.map((row) => h('tr', {}, h('td', {}, h('kbd', { text: row.label })), h('td', { text: row.description })))),
        ),
      );
    this.drawer.body.append(
      table('Command mode (Escape to enter)', COMMAND_BINDINGS),
      table('Editing a cell', EDIT_BINDINGS),
    );
  }

  get element(): HTMLElement {
    return this.drawer.element;
  }

  /** Opens the sheet with the focus on it, so Escape closes it and returns to command mode. */
  open(): void {
    this.drawer.open();
    this.drawer.element.setAttribute('tabindex', '-1');
    this.drawer.element.focus();
  }
}
