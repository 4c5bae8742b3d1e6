/** How a cell's list of outputs grows as output messages arrive. */
import type { Output } from './protocol';

/**
 * Returns the outputs with `output` added. A stream chunk joins the last output when that is
 * the same stream, as Jupyter does, so interleaved stdout and stderr keep their order.
 * The list and the changed entry are new objects, so views can re-render only what changed.
 */
export function appendOutput(outputs: readonly Output[], output: Output): Output[] {
  const last = outputs[outputs.length - 1];
  if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
    return [...outputs.slice(0, -1), { ...last, text: last.text + output.text }];
  }
  return [...outputs, output];
}
