/** Each person's colour: the same on every page and everywhere they appear (their avatar, their caret). */

/** Dark enough for white initials on them, and apart enough to tell a handful of people apart. */
export const PERSON_COLOURS = ['#8250df', '#0969da', '#1a7f37', '#bf3989', '#bc4c00', '#0a7b83', '#cf222e', '#4d2d9e'] as const;

/** Which of PERSON_COLOURS is `username`'s: a hash of the name (FNV-1a), so every page picks the same one. */
export function personColourIndex(username: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < username.length; i++) {
    hash ^= username.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % PERSON_COLOURS.length;
}

export function personColour(username: string): string {
  return PERSON_COLOURS[personColourIndex(username)]!;
}
