/** How a cell's list of outputs grows as output messages arrive, and how display updates and clears change it. */
import type { DisplayDataOutput, Output, OutputChange, Transient } from './protocol';

const displayId = (output: unknown): string | undefined =>
  (output as Transient).transient?.display_id;

/**
 * Returns the outputs with `output` applied. A stream chunk joins the last output when that is
 * the same stream, as Jupyter does, so interleaved stdout and stderr keep their order.
 * The list and the changed entry are new objects, so views can re-render only what changed.
 */
export function appendOutput(outputs: readonly Output[], output: OutputChange): Output[] {
  if (output.output_type === 'clear_output') return [];
  if (output.output_type === 'update_display_data') {
    const id = displayId(output);
    if (id === undefined) return [...outputs];
    return outputs.map((shown) =>
      shown.output_type === 'display_data' && displayId(shown) === id
        ? ({ ...shown, data: output.data, metadata: output.metadata ?? {} } as DisplayDataOutput)
        : shown,
    );
  }
  const last = outputs[outputs.length - 1];
  if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
    return [...outputs.slice(0, -1), { ...last, text: last.text + output.text }];
  }
  return [...outputs, output];
}
