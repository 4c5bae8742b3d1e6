/** The kernel status badge: the kernel's state as text, coloured by whether it can run code. */
import { h } from '../lib/dom';
import type { KernelState } from '../protocol';

export type KernelBadgeState = KernelState | 'disconnected';
export type BadgeColour = 'green' | 'yellow' | 'grey' | 'red';

const COLOURS: Record<KernelBadgeState, BadgeColour> = {
  idle: 'green',
  busy: 'yellow',
  starting: 'yellow',
  disconnected: 'grey',
  stopped: 'grey',
  not_started: 'red',
  dead: 'red',
};

export function kernelStatusColour(state: KernelBadgeState): BadgeColour {
  return COLOURS[state];
}

export class KernelStatus {
  readonly element = h('span', { className: 'kernel-status', testId: 'kernel-status', attrs: { role: 'status' } });

  constructor(state: KernelBadgeState = 'disconnected') {
    this.set(state);
  }

  set(state: KernelBadgeState, reason = ''): void {
    this.element.textContent = state;
    this.element.dataset.colour = kernelStatusColour(state);
    this.element.title = `Kernel: ${state.replace('_', ' ')}${reason ? ` (${reason})` : ''}`;
  }
}
