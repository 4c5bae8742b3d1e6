/** A banner across the notebook while the live connection is down or being re-established. */
import { h } from '../lib/dom';
import type { ConnectionStatus } from '../protocol';

export class ConnectionBanner {
  readonly element = h('div', { className: 'connection-banner', testId: 'connection-banner', attrs: { role: 'alert' } });

  set(status: ConnectionStatus): void {
    this.element.hidden = status.state === 'open';
    this.element.dataset.state = status.state;
    this.element.textContent = bannerText(status);
  }
}

function bannerText(status: ConnectionStatus): string {
  switch (status.state) {
    case 'open':
      return '';
    case 'connecting':
      return 'Connecting…';
    case 'closed':
      return 'Disconnected. Reload the page to reconnect.';
    case 'reconnecting':
      return status.retryInMs === undefined
        ? 'Disconnected. Reconnecting…'
        : `Disconnected. Reconnecting in ${Math.max(1, Math.round(status.retryInMs / 1000))} s…`;
  }
}
