import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunningKernel, RunningKernels } from '../src/api';
import { type KernelsApi, KERNELS_POLL_MS, KernelsPanel, STOPPING_POLL_MS } from '../src/components/KernelsPanel';
import { NotebookList } from '../src/components/NotebookList';
import { NotebookPage } from '../src/components/NotebookPage';
import { NotebookClient } from '../src/protocol';
import { fakeSockets } from './support/FakeWebSocket';
import { aliceSnapshot } from './support/scenarios';

function kernel(id: string, title: string, overrides: Partial<RunningKernel> = {}): RunningKernel {
  return {
    id,
    notebook_id: Number(id.replace(/\D/g, '')) || 1,
    notebook_title: title,
    started_by: 'alice',
    state: 'idle',
    reason: '',
    memory_bytes: 52_000_000,
    cpu_seconds: 1.25,
    started_at: new Date().toISOString(),
    ready_at: null,
    last_activity_at: null,
    ...overrides,
  };
}

/** A server holding `kernels`: a shut-down kernel leaves the list after `lingers` more reads (its host stopping it). */
function fakeApi(kernels: RunningKernel[], maxKernels = 2, lingers = 0): KernelsApi & { reads: number; stopped: string[] } {
  let list = [...kernels];
  const pending = new Map<string, number>();
  const fake = {
    reads: 0,
    stopped: [] as string[],
    listKernels: vi.fn((): Promise<RunningKernels> => {
      fake.reads++;
      for (const [id, left] of pending) {
        if (left <= 0) {
          list = list.filter((k) => k.id !== id);
          pending.delete(id);
        } else pending.set(id, left - 1);
      }
      return Promise.resolve({ max_kernels: maxKernels, count: list.length, next: null, previous: null, results: list });
    }),
    shutdownKernel: vi.fn((id: string) => {
      fake.stopped.push(id);
      pending.set(id, lingers);
      return Promise.resolve({ stopping: true });
    }),
  };
  return fake;
}

const rows = (root: ParentNode = document) => [...root.querySelectorAll<HTMLElement>('[data-testid="kernel-row"]')];
const q = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

describe('the Kernels panel', () => {
  it('lists each kernel with its notebook, state, memory, CPU and since when, against the quota', async () => {
    const panel = new KernelsPanel({ api: fakeApi([kernel('k1', 'Churn'), kernel('k2', 'Sales', { state: 'busy' })]) });
    document.body.append(panel.element);
    panel.drawer.open();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    const [first] = rows();
    expect(q('a', first).textContent).toBe('Churn');
    expect(q('a', first).getAttribute('href')).toBe('/notebooks/1/');
    expect(first!.textContent).toContain('52 MB');
    expect(first!.textContent).toContain('1.3 s CPU');
    expect(first!.textContent).toContain('since ');
    expect(q('[data-testid="kernel-row-state"]', rows()[1]).textContent).toBe('busy');
    expect(q('[data-testid="kernels-summary"]').textContent).toBe('2 of 2 kernels your quota allows are running.');
    panel.dispose();
  });

  it('shuts a kernel down and shows it stopping until it has left the list', async () => {
    const fake = fakeApi([kernel('k1', 'Churn'), kernel('k2', 'Sales')], 2, 1);
    const panel = new KernelsPanel({ api: fake });
    document.body.append(panel.element);
    panel.drawer.open();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    q<HTMLButtonElement>('[data-testid="kernel-shutdown"]', rows()[0]).click();
    await vi.waitFor(() => expect(fake.stopped).toEqual(['k1']));
    // Still listed while its host stops it: the button says so and cannot be pressed twice.
    await vi.waitFor(() => expect(q<HTMLButtonElement>('[data-testid="kernel-shutdown"]', rows()[0]).textContent).toBe('Stopping…'));
    expect(q<HTMLButtonElement>('[data-testid="kernel-shutdown"]', rows()[0]).disabled).toBe(true);
    await vi.advanceTimersByTimeAsync(STOPPING_POLL_MS);
    await vi.waitFor(() => expect(rows().map((r) => r.dataset.kernelId)).toEqual(['k2']));
    panel.dispose();
  });

  it('reads the list again while open, and stops when closed', async () => {
    const fake = fakeApi([kernel('k1', 'Churn')]);
    const panel = new KernelsPanel({ api: fake });
    panel.drawer.open();
    await vi.waitFor(() => expect(fake.reads).toBe(1));
    await vi.advanceTimersByTimeAsync(KERNELS_POLL_MS);
    expect(fake.reads).toBe(2);
    panel.drawer.close();
    await vi.advanceTimersByTimeAsync(3 * KERNELS_POLL_MS);
    expect(fake.reads).toBe(2);
    panel.dispose();
  });

  it('says when the list cannot be read', async () => {
    const panel = new KernelsPanel({
      api: { listKernels: () => Promise.reject(new Error('503 Service Unavailable')), shutdownKernel: vi.fn() },
    });
    document.body.append(panel.element);
    panel.drawer.open();
    await vi.waitFor(() => expect(panel.element.textContent).toContain('Could not list your kernels: 503 Service Unavailable'));
    panel.dispose();
  });
});

describe('the notebook page when the kernel quota is full', () => {
  it('opens the Kernels panel with the reason and the kernels to stop, instead of a passing notice', async () => {
    const sockets = fakeSockets();
    const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
    const fake = fakeApi([kernel('k1', 'Churn'), kernel('k2', 'Sales')]);
    const page = new NotebookPage({
      notebookId: 7, client, kernelsApi: fake,
      loadNotebook: () => Promise.resolve({ id: 7, title: 'Sales', revision: 3, cells: [], config: {} }),
    });
    document.body.append(page.element);
    page.start();
    const socket = sockets.latest();
    socket.serverOpens();
    socket.serverSends(aliceSnapshot());
    await Promise.resolve();
    expect(page.kernels.drawer.isOpen).toBe(false);
    page.client.runAll();
    const run = socket.sentMessages.find((m) => m.type === 'run_all')!;
    socket.serverSends({ type: 'error', req: run.req, code: 'quota_exceeded', message: 'your quota allows 2 running kernels and you have 2: shut one down, then run again' });
    await vi.waitFor(() => expect(page.kernels.drawer.isOpen).toBe(true));
    expect(q('[data-testid="kernels-why"]').textContent).toBe('Your quota allows 2 running kernels and you have 2: shut one down, then run again');
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    // Stopping one makes room: the reason goes with it.
    q<HTMLButtonElement>('[data-testid="kernel-shutdown"]', rows()[0]).click();
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(q('[data-testid="kernels-why"]').hidden).toBe(true);
    page.dispose();
  });

  it('says while the kernel waits for a free kernel host, and stops saying it once the kernel is up', async () => {
    const sockets = fakeSockets();
    const client = new NotebookClient({ url: 'ws://quire.test/ws/notebooks/7/', createSocket: sockets.create, random: () => 0 });
    const page = new NotebookPage({
      notebookId: 7, client, kernelsApi: fakeApi([]),
      loadNotebook: () => Promise.resolve({ id: 7, title: 'Sales', revision: 3, cells: [], config: {} }),
    });
    document.body.append(page.element);
    page.start();
    const socket = sockets.latest();
    socket.serverOpens();
    socket.serverSends(aliceSnapshot());
    await Promise.resolve();
    const note = q('[data-testid="kernel-note"]');
    expect(note.hidden).toBe(true);
    socket.serverSends({ type: 'kernel_status', state: 'starting', reason: 'waiting for a free kernel host: every one is hosting a kernel' });
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe('The kernel is waiting for a free kernel host: every one is hosting a kernel.');
    socket.serverSends({ type: 'kernel_status', state: 'idle' });
    expect(note.hidden).toBe(true);
    page.dispose();
  });
});

describe('the notebook list', () => {
  it('opens the Kernels panel from its Running kernels button', async () => {
    const list = new NotebookList({
      listNotebooks: () => Promise.resolve({ results: [], count: 0 }),
      listTeams: () => Promise.resolve([]),
      kernelsApi: fakeApi([kernel('k3', 'Forecast')]),
    });
    document.body.append(list.element);
    expect(list.kernels.drawer.isOpen).toBe(false);
    q<HTMLButtonElement>('[data-testid="open-kernels"]').click();
    expect(list.kernels.drawer.isOpen).toBe(true);
    await vi.waitFor(() => expect(rows().map((r) => r.textContent)).toEqual([expect.stringContaining('Forecast')]));
    list.kernels.dispose();
  });
});
