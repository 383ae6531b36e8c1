/** The usage line of an argparse help text: its words, the positionals it names, the options it requires. */

export function tokenizeUsage(usage: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of usage) {
    if (ch === '[' || ch === '(' || ch === '{') depth += 1;
    if (ch === ']' || ch === ')' || ch === '}') depth = Math.max(0, depth - 1);
    if (/\s/.test(ch) && depth === 0) {
      if (current !== '') items.push(current);
      current = '';
    } else current += /\s/.test(ch) ? ' ' : ch;
  }
  if (current !== '') items.push(current);
  return items.map((item) => item.replace(/ {2,}/g, ' '));
}

export function splitChoices(braced: string): string[] {
  return braced
    .slice(1, -1)
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
}

export interface UsagePositional {
  display: string;
  required: boolean;
  repeatable: boolean;
}

/**
 * Positionals in usage order; `prog` and the subcommand name are skipped by the caller. A required
 * option stands bare in the usage with its value after it (`--mode {fast,slow}`): `valueWords`
 * says how many usage items that value spans, so it is not mistaken for a positional.
 */
export function usagePositionals(items: string[], valueWords: ReadonlyMap<string, number>): UsagePositional[] {
  const out: UsagePositional[] = [];
  for (let i = 0; i < items.length; i += 1) {
    const item = items[i]!;
    if (item.startsWith('-')) {
      i += valueWords.get(item) ?? 0;
      continue;
    }
    if (item === '...') continue;
    if (item.startsWith('[') || item.startsWith('(')) {
      const inner = item.slice(1, -1).trim();
      if (inner.startsWith('-') || inner === '') continue; // an option or option group
      // `[NAME ...]` (nargs='*'), `[NAME [NAME ...]]` (nargs='*' before Python 3.9), `[NAME]`
      const many = /^(\S+) (?:\.\.\.|\[\1 \.\.\.\])$/.exec(inner);
      if (many) {
        const previous = out.at(-1);
        // `NAME [NAME ...]` is nargs='+': the bracket repeats the positional just read.
        if (previous && previous.display === many[1] && previous.required && !previous.repeatable) {
          previous.repeatable = true;
        } else out.push({ display: many[1]!, required: false, repeatable: true });
        continue;
      }
      if (!/\s/.test(inner)) out.push({ display: inner, required: false, repeatable: false });
      continue;
    }
    out.push({ display: item, required: true, repeatable: false });
  }
  return out;
}

/** Option strings the usage shows outside brackets: argparse required=True options. */
export function requiredOptionStrings(items: string[]): Set<string> {
  return new Set(items.filter((item) => item.startsWith('-')).map((item) => item.split(' ')[0]!));
}

