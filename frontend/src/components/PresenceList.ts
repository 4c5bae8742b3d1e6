/** Who else has the notebook open, and which cell each is in. */
import { h } from '../lib/dom';
import { personColour } from '../lib/personColour';
import type { PresenceUser } from '../protocol';

export class PresenceList {
  readonly element = h('div', { className: 'presence-list', testId: 'presence', attrs: { 'aria-label': 'People here' } });

  render(users: readonly PresenceUser[], you: string | null, label: (cellId: string) => string): void {
    const others = users.filter((user) => user.username !== you);
    this.element.replaceChildren(
      ...others.map((user) => {
        const avatar = h('span', {
          className: 'avatar',
          testId: 'presence-user',
          text: user.username.slice(0, 2).toUpperCase(),
          dataset: { username: user.username },
          attrs: { title: user.cell_id ? `${user.username} · in ${label(user.cell_id)}` : `${user.username} · here` },
        });
        // Their colour, as their caret's in the cells.
        avatar.style.background = personColour(user.username);
        return avatar;
      }),
    );
    this.element.hidden = others.length === 0;
  }
}
