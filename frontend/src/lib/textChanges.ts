/**
 * Edits to a text as offsets (UTF-16 code units, as JavaScript strings, Monaco and Yjs count them).
 * A list of changes is applied in order: each change's offset refers to the text the previous left.
 */
export interface TextChange {
  offset: number;
  deleteCount: number;
  insert: string;
}

export function applyChanges(text: string, changes: readonly TextChange[]): string {
  let result = text;
  for (const change of changes) {
    result = result.slice(0, change.offset) + change.insert + result.slice(change.offset + change.deleteCount);
  }
  return result;
}

/**
 * Where a caret at `position` ends up after someone else's changes: text inserted or deleted before it
 * moves it; text inserted right at it goes after it, so the caret stays where the user left it.
 */
export function transformPosition(position: number, changes: readonly TextChange[]): number {
  let result = position;
  for (const { offset, deleteCount, insert } of changes) {
    if (result <= offset) continue;
    if (result >= offset + deleteCount) result += insert.length - deleteCount;
    else result = offset; // the caret's character was deleted: it goes where the deletion was
  }
  return result;
}

/**
 * The one change that turns `before` into `after`. `caret` (where the cursor is in `after`) settles
 * ambiguous cases, e.g. typing "a" in "aa" inserts at the caret, not at the start.
 */
export function diffText(before: string, after: string, caret = after.length): TextChange | null {
  if (before === after) return null;
  const maxPrefix = Math.min(before.length, after.length);
  // The change ends at the caret, so the common prefix cannot reach past where the insert started.
  const insertedLength = Math.max(0, after.length - before.length);
  let prefix = 0;
  const prefixLimit = Math.min(maxPrefix, Math.max(0, caret - insertedLength));
  while (prefix < prefixLimit && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  const suffixLimit = Math.min(before.length, after.length) - prefix;
  while (
    suffix < suffixLimit &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  // The prefix may stop short of the true common prefix (the caret hint); extend it past what the suffix left.
  while (prefix < before.length - suffix && prefix < after.length - suffix && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  return { offset: prefix, deleteCount: before.length - prefix - suffix, insert: after.slice(prefix, after.length - suffix) };
}
