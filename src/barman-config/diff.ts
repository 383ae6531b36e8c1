/**
 * A unified diff (`diff -u` format) of two texts, for `dry_run=true` and for change responses.
 * Config files are small and edits touch a few lines, so the common head and tail are cut first
 * and only the middle goes through a longest-common-subsequence table.
 */

export interface DiffOptions {
  fromFile?: string;
  toFile?: string;
  /** Unchanged lines shown around each change. */
  context?: number;
}

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

/** Above this many cells the middle is shown as one replaced block instead of a minimal diff. */
const MAX_TABLE_CELLS = 4_000_000;

/** '' when the texts are equal. */
export function unifiedDiff(before: string, after: string, opts: DiffOptions = {}): string {
  if (before === after) return '';
  const context = opts.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const out: string[] = [`--- ${opts.fromFile ?? 'a'}`, `+++ ${opts.toFile ?? 'b'}`];
  for (const hunk of hunks(ops, context)) {
    const first = hunk[0]!;
    const oldCount = hunk.filter((o) => o.kind !== '+').length;
    const newCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(first.a, oldCount)} +${range(first.b, newCount)} @@`);
    for (const op of hunk) {
      out.push(`${op.kind}${op.line.replace(/\r?\n$/, '')}`);
      if (!op.line.endsWith('\n')) out.push('\\ No newline at end of file');
    }
  }
  return `${out.join('\n')}\n`;
}

/** `start,count` with diff's conventions: a one-line range drops the count, an empty one points before it. */
function range(index: number, count: number): string {
  if (count === 0) return `${index},0`;
  return count === 1 ? `${index + 1}` : `${index + 1},${count}`;
}

function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines ?? [];
}

function diffLines(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: ' ', line: a[i]!, a: i, b: i });
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  for (const op of middle(midA, midB)) ops.push({ ...op, a: op.a + head, b: op.b + head });
  for (let k = tail; k > 0; k--) {
    const i = a.length - k;
    const j = b.length - k;
    ops.push({ kind: ' ', line: a[i]!, a: i, b: j });
  }
  return ops;
}

function middle(a: string[], b: string[]): Op[] {
  const ops: Op[] = [];
  if ((a.length + 1) * (b.length + 1) > MAX_TABLE_CELLS) {
    a.forEach((line, i) => ops.push({ kind: '-', line, a: i, b: 0 }));
    b.forEach((line, j) => ops.push({ kind: '+', line, a: a.length, b: j }));
    return ops;
  }
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) ops.push({ kind: ' ', line: a[i]!, a: i++, b: j++ });
    // On a tie, delete first: diff prints a change as its old lines, then its new ones.
    else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) ops.push({ kind: '-', line: a[i]!, a: i++, b: j });
    else ops.push({ kind: '+', line: b[j]!, a: i, b: j++ });
  }
  while (i < a.length) ops.push({ kind: '-', line: a[i]!, a: i++, b: j });
  while (j < b.length) ops.push({ kind: '+', line: b[j]!, a: i, b: j++ });
  return ops;
}

/** Group changed lines with their context; changes closer than 2 × context share a hunk. */
function hunks(ops: Op[], context: number): Op[][] {
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  const out: Op[][] = [];
  let start = -1;
  let end = -1;
  for (const i of changed) {
    if (start >= 0 && i - end - 1 <= 2 * context) {
      end = i;
      continue;
    }
    if (start >= 0) out.push(ops.slice(Math.max(0, start - context), Math.min(ops.length, end + context + 1)));
    start = i;
    end = i;
  }
  if (start >= 0) out.push(ops.slice(Math.max(0, start - context), Math.min(ops.length, end + context + 1)));
  return out;
}
