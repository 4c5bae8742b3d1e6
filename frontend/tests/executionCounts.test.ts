import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotebookModel } from '../src/notebookModel';
import { validateServerMessage } from '../src/protocol';
import { closeOpenedPages, openPage } from './support/openPage';
import { aliceSnapshot, cell } from './support/scenarios';

const prompt = (id: string) =>
  document.querySelector<HTMLElement>(`[data-testid="cell"][data-cell-id="${id}"] [data-testid="execution-count"]`)!;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  closeOpenedPages();
  vi.useRealTimers();
});

describe('execution counts', () => {
  it('follow the runs: from the snapshot, cleared while queued, set as a run starts, kept once it ends', () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('c1', 'x', { execution_count: 3 }), cell('c2', 'y')] } }));
    expect(model.cell('c1')!.executionCount).toBe(3);
    expect(model.cell('c2')!.executionCount).toBeNull();
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'queued' });
    expect(model.cell('c1')!.executionCount).toBeNull();
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'running', execution_count: 4 });
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'done' });
    expect(model.cell('c1')!.executionCount).toBe(4);
    model.apply({ type: 'cell_sync', cell_id: 'c2', state: 'done', outputs: [], execution_count: 5 });
    expect(model.cell('c2')!.executionCount).toBe(5);
    model.apply({ type: 'outputs_cleared', cell_ids: ['c1', 'c2'], revision: 4 });
    expect([model.cell('c1')!.executionCount, model.cell('c2')!.executionCount]).toEqual([null, null]);
    expect(validateServerMessage({ type: 'cell_status', cell_id: 'c1', state: 'running', execution_count: 'x' })).toHaveProperty('problem');
    expect(validateServerMessage({ type: 'cell_sync', cell_id: 'c1', state: 'queued', outputs: [], execution_count: null })).toHaveProperty('message');
  });

  it('show beside each code cell as Jupyter shows them', async () => {
    const cells = [cell('c1', 'x = 1', { execution_count: 3 }), cell('c2', 'y = 2'), cell('c3', '# Notes', { language: 'text' })];
    const { socket } = await openPage({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells } });
    expect(prompt('c1').textContent).toBe('[3]');
    expect(prompt('c2').textContent).toBe('[ ]');
    expect(prompt('c3').hidden).toBe(true);
    socket.serverSends({ type: 'cell_status', cell_id: 'c2', state: 'queued' });
    expect(prompt('c2').textContent).toBe('[*]');
    socket.serverSends({ type: 'cell_status', cell_id: 'c2', state: 'running', execution_count: 4 });
    expect(prompt('c2').textContent).toBe('[*]');
    socket.serverSends({ type: 'cell_status', cell_id: 'c2', state: 'done' });
    expect(prompt('c2').textContent).toBe('[4]');
  });
});
