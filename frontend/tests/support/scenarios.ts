/** Named notebook states the server might send, for tests. */
import type { Cell, SnapshotMessage } from '../../src/protocol';

export function cell(id: string, source = '', overrides: Partial<Cell> = {}): Cell {
  return { id, language: 'python', source, metadata: {}, outputs: [], ...overrides };
}

/** Alice's two-cell notebook with an idle kernel, as its owner sees it. */
export function aliceSnapshot(overrides: Partial<SnapshotMessage> = {}): SnapshotMessage {
  return {
    type: 'snapshot',
    notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('c1', 'x = 1'), cell('c2', 'print(x)')] },
    kernel: { state: 'idle' },
    you: { username: 'alice', role: 'owner' },
    ...overrides,
  };
}
