import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotebookModel, hiddenParts } from '../src/notebookModel';
import { validateServerMessage } from '../src/protocol';
import type { FakeWebSocket } from './support/FakeWebSocket';
import { closeOpenedPages, openPage } from './support/openPage';
import { aliceSnapshot, cell } from './support/scenarios';

const PRINTED = { output_type: 'stream' as const, name: 'stdout' as const, text: 'hello\n' };
let socket: FakeWebSocket;

/** Opens notebook 7 as `role`; its second cell printed, and its metadata is `metadata`. */
async function openAs(role: 'owner' | 'editor' | 'viewer', metadata: Record<string, unknown> = {}): Promise<void> {
  const cells = [cell('c1', 'x = 1'), cell('c2', 'print(x)', { outputs: [PRINTED], metadata })];
  ({ socket } = await openPage({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells }, you: { username: 'alice', role } }));
}

const q = <E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E => {
  const element = root.querySelector<E>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
};
/** Whether an element shows: neither it nor a parent is hidden. */
const shown = (element: Element) => element.closest('[hidden]') === null;
const cellEl = (id: string) => q(`[data-testid="cell"][data-cell-id="${id}"]`);
const commands = () => socket.sentMessages.filter((m) => m.type !== 'focus' && m.type !== 'inspect_scope');

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  closeOpenedPages();
  vi.useRealTimers();
});

describe("a cell's hidden code and output", () => {
  it("reads Jupyter's keys, JupyterLab's taking precedence over nbformat's `collapsed`", () => {
    expect(hiddenParts(undefined)).toEqual({ source: false, outputs: false });
    expect(hiddenParts({ jupyter: { source_hidden: true, outputs_hidden: true } })).toEqual({ source: true, outputs: true });
    expect(hiddenParts({ collapsed: true })).toEqual({ source: false, outputs: true });
    expect(hiddenParts({ collapsed: true, jupyter: { outputs_hidden: false } })).toEqual({ source: false, outputs: false });
    expect(hiddenParts({ jupyter: 'odd', collapsed: 'yes' })).toEqual({ source: false, outputs: false });
  });

  it('follows the snapshot, inserted cells and cell_hidden in the model', () => {
    const model = new NotebookModel();
    model.apply(aliceSnapshot({ notebook: { id: 7, title: 'Sales', revision: 3, config: {}, cells: [cell('c1', '', { metadata: { collapsed: true } })] } }));
    expect(model.cell('c1')).toMatchObject({ sourceHidden: false, outputsHidden: true });
    const hidden = { type: 'cell_hidden', cell_id: 'c1', part: 'source', hidden: true, revision: 4 };
    expect(validateServerMessage(hidden)).toHaveProperty('message');
    expect(validateServerMessage({ ...hidden, part: 'code' })).toHaveProperty('problem');
    expect(validateServerMessage({ ...hidden, hidden: 'yes' })).toHaveProperty('problem');
    model.apply(hidden as never);
    expect(model.cell('c1')).toMatchObject({ sourceHidden: true, outputsHidden: true });
    expect(model.revision).toBe(4);
    model.apply({ type: 'cell_inserted', index: 1, revision: 5, cell: cell('c2', '', { metadata: { jupyter: { source_hidden: true } } }) });
    expect(model.cell('c2')).toMatchObject({ sourceHidden: true, outputsHidden: false });
  });

  it('lets an editor hide and show the code and the output for everyone', async () => {
    await openAs('editor');
    const c2 = cellEl('c2');
    q<HTMLButtonElement>('[data-testid="hide-output"]', c2).click();
    expect(commands()).toEqual([{ v: 1, req: expect.any(Number), type: 'set_hidden', cell_id: 'c2', part: 'outputs', hidden: true }]);
    // Shown as the server says: every page hears the same.
    socket.serverSends({ type: 'cell_hidden', cell_id: 'c2', part: 'outputs', hidden: true, revision: 4 });
    expect(q('[data-testid="cell-output"]', c2).hidden).toBe(true);
    expect(q('[data-testid="output-hidden-note"]', c2).hidden).toBe(false);

    q<HTMLButtonElement>('[data-testid="hide-source"]', c2).click();
    expect(commands().at(-1)).toMatchObject({ type: 'set_hidden', cell_id: 'c2', part: 'source', hidden: true });
    socket.serverSends({ type: 'cell_hidden', cell_id: 'c2', part: 'source', hidden: true, revision: 5 });
    expect(shown(q('[data-testid="cell-source"]', c2))).toBe(false);
    const note = q<HTMLButtonElement>('[data-testid="source-hidden-note"]', c2);
    expect(note.hidden).toBe(false);
    expect(q<HTMLButtonElement>('[data-testid="hide-source"]', c2).textContent).toBe('Show code');

    note.click();
    expect(commands().at(-1)).toMatchObject({ type: 'set_hidden', cell_id: 'c2', part: 'source', hidden: false });
    q<HTMLButtonElement>('[data-testid="output-hidden-note"]', c2).click();
    expect(commands().at(-1)).toMatchObject({ type: 'set_hidden', cell_id: 'c2', part: 'outputs', hidden: false });
    socket.serverSends({ type: 'cell_hidden', cell_id: 'c2', part: 'outputs', hidden: false, revision: 6 });
    expect(q('[data-testid="cell-output"]', c2).hidden).toBe(false);
    expect(q('[data-testid="cell-output"]', c2).textContent).toContain('hello');
  });

  it("shows a viewer what the editors hid, and lets them look on their own page", async () => {
    await openAs('viewer', { jupyter: { source_hidden: true, outputs_hidden: true } });
    const c2 = cellEl('c2');
    expect(shown(q('[data-testid="cell-source"]', c2))).toBe(false);
    expect(q('[data-testid="cell-output"]', c2).hidden).toBe(true);
    expect(q('[data-testid="hide-source"]', c2).hidden).toBe(true);
    q<HTMLButtonElement>('[data-testid="source-hidden-note"]', c2).click();
    q<HTMLButtonElement>('[data-testid="output-hidden-note"]', c2).click();
    expect(shown(q('[data-testid="cell-source"]', c2))).toBe(true);
    expect(q('[data-testid="cell-output"]', c2).hidden).toBe(false);
    // Hiding it again, on this page: nothing is sent, since a viewer changes nothing for the others.
    q<HTMLButtonElement>('[data-testid="hide-output"]', c2).click();
    expect(q('[data-testid="cell-output"]', c2).hidden).toBe(true);
    expect(commands()).toEqual([]);
  });
});
