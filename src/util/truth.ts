/**
 * The one list of words read as true or false: in request parameters, our settings files and
 * barman's documentation alike. (Reading barman's own files follows barman's own words instead:
 * barman-config/reader.ts.)
 */
export const TRUE_WORDS: ReadonlySet<string> = new Set(['true', '1', 'yes', 'on']);
export const FALSE_WORDS: ReadonlySet<string> = new Set(['false', '0', 'no', 'off', '']);

/** true, false, or null when the word is neither (case and surrounding space do not matter). */
export function truthOf(word: string): boolean | null {
  const s = word.trim().toLowerCase();
  return TRUE_WORDS.has(s) ? true : FALSE_WORDS.has(s) ? false : null;
}
