/** A banner across the notebook while the live connection is down or being re-established. */
import { h } from '../lib/dom';
import { CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED, type ConnectionStatus } from '../protocol';

export class ConnectionBanner {
  readonly element = h('div', { className: 'connection-banner', testId: 'connection-banner', attrs: { role: 'alert' } });

  set(status: ConnectionStatus): void {
    this.element.hidden = status.state === 'open';
    this.element.dataset.state = status.state;
    this.element.textContent = bannerText(status);
    if (status.closeCode === CLOSE_UNAUTHENTICATED) {
      const next = encodeURIComponent(location.pathname);
      this.element.append(' ', h('a', { text: 'Sign in', attrs: { href: `/accounts/login/?next=${next}` } }));
    }
  }
}

function bannerText(status: ConnectionStatus): string {
  switch (status.state) {
    case 'open':
      return '';
    case 'connecting':
      return 'Connecting…';
    case 'closed':
      if (status.closeCode === CLOSE_UNAUTHENTICATED) return 'Your session has ended. Sign in again to continue.';
      if (status.closeCode === CLOSE_NOT_FOUND) return 'This notebook does not exist, or you do not have access to it.';
      return 'Disconnected. Reload the page to reconnect.';
    case 'reconnecting':
      return status.retryInMs === undefined
        ? 'Disconnected. Reconnecting…'
        : `Disconnected. Reconnecting in ${Math.max(1, Math.round(status.retryInMs / 1000))} s…`;
  }
}
