import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECK_DELAY_MS, checkAsYouType } from '../src/editor/checkAsYouType';
import type { ErrorPosition } from '../src/protocol';

const unclosed: ErrorPosition = { line: 1, column: 5, end_line: 1, end_column: 6, message: "'(' was never closed" };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('checking as you type', () => {
  it('asks once typing pauses, for the latest text only, and shows the answer', async () => {
    const asked: string[] = [];
    const shown: ErrorPosition[][] = [];
    const checker = checkAsYouType({
      check: async (source) => {
        asked.push(source);
        return [unclosed];
      },
      show: (positions) => shown.push(positions),
    });
    checker.changed('x = (', 'python');
    checker.changed('x = (1', 'python');
    await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS - 1);
    expect(asked).toEqual([]);
    checker.changed('x = (1 +', 'python');
    await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);
    expect(asked).toEqual(['x = (1 +']);
    expect(shown).toEqual([[unclosed]]);
  });

  it('drops an answer about text that changed while it was asked', async () => {
    let answer: (positions: ErrorPosition[]) => void = () => undefined;
    const shown: ErrorPosition[][] = [];
    const checker = checkAsYouType({
      check: () => new Promise((resolve) => (answer = resolve)),
      show: (positions) => shown.push(positions),
    });
    checker.changed('x = (', 'python');
    await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);
    checker.changed('x = ()', 'python');
    answer([unclosed]);
    await vi.advanceTimersByTimeAsync(0);
    expect(shown).toEqual([]);
  });

  it('does not ask about languages without a compiler to ask, and clears their underlines', async () => {
    const check = vi.fn(async () => [unclosed]);
    const shown: ErrorPosition[][] = [];
    const checker = checkAsYouType({ check, show: (positions) => shown.push(positions) });
    checker.changed('# Title', 'text');
    await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);
    expect(check).not.toHaveBeenCalled();
    expect(shown).toEqual([[]]);
  });
});
