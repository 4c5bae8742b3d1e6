/** Checking as you type: asks the kernel for a cell's errors once typing pauses, and shows only current answers. */
import type { ErrorPosition, Language } from '../protocol';

/** Long enough that a typist's keystrokes make one request, short enough that the underline follows the pause. */
export const CHECK_DELAY_MS = 600;
/** The languages whose compiler the kernel asks; others have nothing to say before a run. */
export const CHECKED_LANGUAGES: ReadonlySet<Language> = new Set<Language>(['python', 'scala']);

export interface CheckAsYouType {
  /** The source changed (a local edit): check it once no further change comes within the delay. */
  changed(source: string, language: Language): void;
  dispose(): void;
}

export function checkAsYouType(options: {
  check(source: string): Promise<ErrorPosition[]>;
  show(positions: ErrorPosition[]): void;
  delayMs?: number;
}): CheckAsYouType {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest: string | null = null;
  let disposed = false;
  return {
    changed(source, language) {
      latest = source;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (!CHECKED_LANGUAGES.has(language)) {
        options.show([]);
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        void options.check(source).then((positions) => {
          // An answer about text that has changed since would underline the wrong characters.
          if (!disposed && latest === source) options.show(positions);
        });
      }, options.delayMs ?? CHECK_DELAY_MS);
    },
    dispose() {
      disposed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
