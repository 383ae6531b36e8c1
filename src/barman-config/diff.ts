/**
 * A unified diff (`diff -u` format) of two texts, for `dry_run=true` and for change responses,
 * by jsdiff (the `diff` package): Myers' algorithm, bounded so that two large, wholly different
 * texts show as one replaced block instead of taking seconds.
 */
import { structuredPatch, type StructuredPatchHunk } from 'diff';

export interface DiffOptions {
  fromFile?: string;
  toFile?: string;
  /** Unchanged lines shown around each change. */
  context?: number;
}

/** Above this many changed lines the texts are shown as one replaced block. */
const MAX_EDIT_LENGTH = 10_000;

/** '' when the texts are equal. */
export function unifiedDiff(before: string, after: string, opts: DiffOptions = {}): string {
  if (before === after) return '';
  const from = opts.fromFile ?? 'a';
  const to = opts.toFile ?? 'b';
  const patch = structuredPatch(from, to, before, after, undefined, undefined, { context: opts.context ?? 3, maxEditLength: MAX_EDIT_LENGTH });
  const hunks = patch?.hunks ?? [wholeReplacement(before, after)];
  const out = [`--- ${from}`, `+++ ${to}`];
  for (const h of hunks) out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`, ...h.lines);
  return `${out.join('\n')}\n`;
}

/** `start,count` with diff's conventions: a one-line range drops the count, an empty one points before it. */
function range(start: number, count: number): string {
  if (count === 0) return `${Math.max(0, start - 1)},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

function wholeReplacement(before: string, after: string): StructuredPatchHunk {
  const side = (text: string, mark: '-' | '+') => {
    const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
    return lines.flatMap((l) => (l.endsWith('\n') ? [`${mark}${l.slice(0, -1)}`] : [`${mark}${l}`, '\\ No newline at end of file']));
  };
  const a = side(before, '-');
  const b = side(after, '+');
  const count = (lines: string[]) => lines.filter((l) => !l.startsWith('\\')).length;
  return { oldStart: 1, oldLines: count(a), newStart: 1, newLines: count(b), lines: [...a, ...b] };
}
