import { describe, expect, it, vi } from 'vitest';
import type { OutputPage } from '../src/api';
import { OutputArea } from '../src/components/OutputArea';
import { NotebookModel } from '../src/notebookModel';
import { parseServerMessage, type StreamOutput } from '../src/protocol';
import { aliceSnapshot } from './support/scenarios';

const WHOLE = 'x'.repeat(300_000);
const HEAD = WHOLE.slice(0, 65_536);

/** The server's pages of one stored stdout output, `size` characters at a time. */
function pagerOver(text: string, size: number) {
  return vi.fn(async (n: number, offset: number): Promise<OutputPage> => {
    const end = Math.min(text.length, offset + size);
    return {
      n, outputs_total: 3, output_type: 'stream', name: 'stdout', offset, text: text.slice(offset, end),
      next_offset: end < text.length ? end : null, total: text.length,
    };
  });
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const button = (area: OutputArea, id: string) => area.element.querySelector<HTMLButtonElement>(`[data-testid="${id}"]`)!;
const head: StreamOutput = { output_type: 'stream', name: 'stdout', text: HEAD, more: { n: 0, chars: WHOLE.length, lines: 0 } };

describe('an output shown in part', () => {
  it('shows its head and says how much there is', () => {
    const area = new OutputArea({ outputPage: pagerOver(WHOLE, 100_000) });
    area.render([head]);
    expect(area.element.querySelector('pre.output-stream')?.textContent).toBe(HEAD);
    expect(area.element.querySelector('[data-testid="output-more-notice"]')?.textContent).toBe(
      'Output shown in part: the first 64 KB of 293 KB.',
    );
  });

  it('reads the next page after the head on "Show more", and the rest on "Load all"', async () => {
    const pager = pagerOver(WHOLE, 100_000);
    const area = new OutputArea({ outputPage: pager });
    area.render([head]);
    button(area, 'output-show-more').click();
    await flush();
    expect(pager).toHaveBeenCalledWith(0, HEAD.length);
    expect(area.element.querySelector('pre')?.textContent).toHaveLength(HEAD.length + 100_000);
    button(area, 'output-load-all').click();
    await flush();
    await flush();
    expect(area.element.querySelector('pre')?.textContent).toBe(WHOLE);
    expect(area.element.querySelector('[data-testid="output-more-notice"]')).toBeNull();
    expect(area.element.querySelector('[data-testid="output-load-all"]')).toBeNull();
  });

  it('loads nothing while the cell runs: the server holds the previous run until this one is stored', () => {
    const pager = pagerOver(WHOLE, 100_000);
    const area = new OutputArea({ outputPage: pager });
    area.render([{ ...head, more: { n: 0 } }], { running: true });
    expect(area.element.querySelector('[data-testid="output-more-notice"]')?.textContent).toContain('when the run ends');
    expect(button(area, 'output-show-more').disabled).toBe(true);
    button(area, 'output-show-more').click();
    expect(pager).not.toHaveBeenCalled();
    area.render([{ ...head, more: { n: 0 } }], { running: false });
    expect(button(area, 'output-show-more').disabled).toBe(false);
  });

  it('says what went wrong when a page cannot be read', async () => {
    const area = new OutputArea({ outputPage: vi.fn(async () => Promise.reject(new Error('no such notebook'))) });
    area.render([head]);
    button(area, 'output-show-more').click();
    await flush();
    expect(area.element.textContent).toContain('Could not load the rest of this output: no such notebook');
  });

  it('loads a rich output whole', async () => {
    const image = { output_type: 'display_data' as const, data: { 'image/png': 'iVBORw0KGgo=' }, metadata: {} };
    const pager = vi.fn(async (n: number): Promise<OutputPage> => ({
      n, outputs_total: 1, output_type: 'display_data', offset: 0, next_offset: null, total: 1, output: image,
    }));
    const area = new OutputArea({ outputPage: pager });
    area.render([{ output_type: 'display_data', data: { 'text/plain': '<Figure>' }, metadata: {}, more: { n: 0, chars: 3_000_000 } }]);
    expect(area.element.textContent).toContain('Output shown in part (2.9 MB in all).');
    button(area, 'output-load-all').click();
    await flush();
    expect(area.element.querySelector('img')).not.toBeNull();
  });
});

describe('outputs the snapshot left out', () => {
  it('are counted, and loaded on demand', async () => {
    const model = new NotebookModel();
    const snapshot = aliceSnapshot();
    const first = snapshot.notebook.cells[0]!;
    first.outputs = [head];
    first.outputs_total = 3;
    model.apply(snapshot);
    const pager = pagerOver(WHOLE, 1_000_000);
    const area = new OutputArea({ outputPage: pager });
    const record = model.cell(first.id)!;
    area.render(record.outputs, { total: record.outputsTotal });
    expect(area.element.querySelector('[data-testid="output-omitted"]')?.textContent).toContain('2 more outputs not shown');
    button(area, 'output-load-omitted').click();
    await flush();
    await flush();
    expect(pager.mock.calls.map(([n, offset]) => [n, offset])).toEqual([[1, 0], [2, 0]]);
    expect(area.element.querySelectorAll('pre.output-stream')).toHaveLength(3);
    expect(area.element.querySelector('[data-testid="output-omitted"]')).toBeNull();
  });
});

describe('the protocol', () => {
  it('accepts heads with references and counts of outputs, and refuses malformed ones', () => {
    const snapshot = aliceSnapshot();
    snapshot.notebook.cells[0]!.outputs = [head];
    snapshot.notebook.cells[0]!.outputs_total = 1;
    expect(parseServerMessage(JSON.stringify(snapshot))).toHaveProperty('message.type', 'snapshot');
    snapshot.notebook.cells[0]!.outputs = [{ ...head, more: { n: -1 } }];
    expect(parseServerMessage(JSON.stringify(snapshot))).toEqual({ problem: 'malformed snapshot message' });
    const sync = { type: 'cell_sync', cell_id: 'c1', state: 'running', outputs: [head], outputs_total: 'many' };
    expect(parseServerMessage(JSON.stringify(sync))).toEqual({ problem: 'malformed cell_sync message' });
  });
});

describe('a run its kernel did not end', () => {
  it('takes the count of outputs from the cell_status that ends it', () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot());
    const died = { output_type: 'error' as const, ename: 'KernelDied', evalue: 'gone', traceback: [] };
    const parsed = parseServerMessage(JSON.stringify({
      type: 'cell_status', cell_id: 'c1', state: 'error', outputs: [head, died], outputs_total: 5,
    }));
    if (!('message' in parsed)) throw new Error(parsed.problem);
    model.apply(parsed.message);
    expect(model.cell('c1')!.outputsTotal).toBe(5);
  });
});

describe('outputs loaded on demand', () => {
  it('stay loaded when the cell re-renders, and go when its outputs change', async () => {
    const area = new OutputArea({ outputPage: pagerOver('abc', 1_000) });
    const outputs = [head];
    area.render(outputs, { total: 3 });
    button(area, 'output-load-omitted').click();
    await flush();
    await flush();
    area.render(outputs, { total: 3 });
    expect(area.element.querySelectorAll('pre.output-stream')).toHaveLength(3);
    expect(area.element.querySelector('[data-testid="output-omitted"]')).toBeNull();
    area.render([], { total: 0 });
    expect(area.element.querySelectorAll('pre')).toHaveLength(0);
  });
});

describe('outputs arriving live', () => {
  it('are shown although the run started with none counted', () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot());
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'running' });
    model.apply({ type: 'output', cell_id: 'c1', output: { output_type: 'stream', name: 'stdout', text: 'hi\n' } });
    const record = model.cell('c1')!;
    const area = new OutputArea({ outputPage: pagerOver('', 1) });
    area.render(record.outputs, { total: record.outputsTotal, running: true });
    expect(area.element.hidden).toBe(false);
    expect(area.element.querySelector('[data-testid="output-omitted"]')).toBeNull();
  });
});

describe('pages of text outside the BMP', () => {
  it('go by code points, as the server counts, so nothing is skipped or repeated', async () => {
    const whole = '😀'.repeat(300);
    const points = [...whole];
    const pager = vi.fn(async (n: number, offset: number): Promise<OutputPage> => {
      const end = Math.min(points.length, offset + 100);
      return { n, outputs_total: 1, output_type: 'stream', name: 'stdout', offset, text: points.slice(offset, end).join(''),
        next_offset: end < points.length ? end : null, total: points.length };
    });
    const area = new OutputArea({ outputPage: pager });
    area.render([{ output_type: 'stream', name: 'stdout', text: points.slice(0, 50).join(''), more: { n: 0, chars: 300 } }]);
    button(area, 'output-load-all').click();
    for (let i = 0; i < 5; i++) await flush();
    expect(pager.mock.calls.map(([, offset]) => offset)).toEqual([50, 150, 250]);
    expect(area.element.querySelector('pre')?.textContent).toBe(whole);
  });
});
