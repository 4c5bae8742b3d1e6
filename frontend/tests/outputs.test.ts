import { describe, expect, it } from 'vitest';
import { OutputArea } from '../src/components/OutputArea';
import { NotebookModel } from '../src/notebookModel';
import { appendOutput } from '../src/outputs';
import type { Output, StreamOutput } from '../src/protocol';
import { aliceSnapshot } from './support/scenarios';

const stdout = (text: string): StreamOutput => ({ output_type: 'stream', name: 'stdout', text });
const stderr = (text: string): StreamOutput => ({ output_type: 'stream', name: 'stderr', text });

describe('appendOutput', () => {
  it('joins a stream chunk to the previous output of the same stream', () => {
    const outputs = appendOutput(appendOutput([], stdout('loading')), stdout('... done\n'));
    expect(outputs).toEqual([stdout('loading... done\n')]);
  });

  it('starts a new output when the stream changes, keeping stdout and stderr in order', () => {
    let outputs: Output[] = [];
    for (const chunk of [stdout('a'), stderr('warning'), stdout('b')]) outputs = appendOutput(outputs, chunk);
    expect(outputs).toEqual([stdout('a'), stderr('warning'), stdout('b')]);
  });

  it('does not join a stream to a rich result', () => {
    const result: Output = { output_type: 'execute_result', data: { 'text/plain': '1' }, metadata: {} };
    expect(appendOutput([result], stdout('x'))).toEqual([result, stdout('x')]);
  });

  it('replaces every display shown under the id an update names, and only those', () => {
    const shown = (text: string, id?: string): Output =>
      ({ output_type: 'display_data', data: { 'text/plain': text }, metadata: {}, ...(id ? { transient: { display_id: id } } : {}) }) as Output;
    const outputs = appendOutput([shown('a', 'p'), shown('b'), shown('c', 'p')], {
      output_type: 'update_display_data',
      data: { 'text/plain': 'new' },
      transient: { display_id: 'p' },
    });
    expect(outputs.map((o) => (o.output_type === 'display_data' ? o.data['text/plain'] : null))).toEqual(['new', 'b', 'new']);
  });

  it('empties the list on clear_output', () => {
    expect(appendOutput([stdout('a'), stderr('b')], { output_type: 'clear_output' })).toEqual([]);
  });

  it('leaves the list it was given unchanged', () => {
    const before = [stdout('a')];
    appendOutput(before, stdout('b'));
    expect(before).toEqual([stdout('a')]);
  });
});

describe('stream output in a cell', () => {
  function runningModel(): NotebookModel {
    const model = new NotebookModel();
    model.apply(aliceSnapshot());
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'running' });
    return model;
  }

  it('shows chunks of one stream as one block of text', () => {
    const model = runningModel();
    const area = new OutputArea();
    for (const text of ['1\n', '2\n', '3\n']) {
      model.apply({ type: 'output', cell_id: 'c1', output: stdout(text) });
      area.render(model.cell('c1')!.outputs);
    }
    const blocks = area.element.querySelectorAll('pre.output-stream');
    expect(blocks).toHaveLength(1);
    expect(blocks[0]?.textContent).toBe('1\n2\n3\n');
  });

  it('re-renders only the output that grew', () => {
    const model = runningModel();
    const area = new OutputArea();
    model.apply({ type: 'output', cell_id: 'c1', output: { output_type: 'display_data', data: { 'text/html': '<b>hi</b>' }, metadata: {} } });
    model.apply({ type: 'output', cell_id: 'c1', output: stdout('a') });
    area.render(model.cell('c1')!.outputs);
    const frame = area.element.querySelector('iframe');

    model.apply({ type: 'output', cell_id: 'c1', output: stdout('b') });
    area.render(model.cell('c1')!.outputs);

    expect(area.element.querySelector('iframe')).toBe(frame);
    expect(area.element.querySelector('pre.output-stream')?.textContent).toBe('ab');
  });

  it('clears the outputs when the cell is queued to run again', () => {
    const model = runningModel();
    model.apply({ type: 'output', cell_id: 'c1', output: stdout('old') });
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'done' });
    model.apply({ type: 'cell_status', cell_id: 'c1', state: 'queued' });
    const area = new OutputArea();
    area.render(model.cell('c1')!.outputs);
    expect(area.element.textContent).toBe('');
    expect(area.element.hidden).toBe(true);
  });

  it('shows a progress bar redrawn with carriage returns at its last state', () => {
    const area = new OutputArea();
    area.render([stdout('[#   ] 25%\r[##  ] 50%\r[####] 100%\ndone\n')]);
    expect(area.element.textContent).toBe('[####] 100%\ndone\n');
  });
});
