/** Plain-text clean-up for kernel output: ANSI escapes, carriage returns, nbformat multi-line values. */

// CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks), per ECMA-48.
// eslint-disable-next-line no-control-regex
const ANSI_PATTERN = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI_PATTERN, '');
}

/**
 * Shows text the way a terminal would after carriage returns: a progress bar that redraws
 * its line with "\r" leaves only its last state.
 */
export function applyCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    // Each segment after a "\r" overwrites the start of the line, as on a terminal.
    .map((line) => line.split('\r').reduce((shown, part) => part + shown.slice(part.length), ''))
    .join('\n');
}

/** nbformat lets a text value be one string or a list of lines to concatenate. */
export function mimeText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((part) => typeof part === 'string')) return value.join('');
  return null;
}
