import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/barman-config/diff.js';

const dir = mkdtempSync(join(tmpdir(), 'barmanapi-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Apply our diff with patch(1): the strongest check that it is a real unified diff. */
function patchWith(before: string, diff: string): string {
  const file = join(dir, 'file.conf');
  writeFileSync(file, before);
  writeFileSync(join(dir, 'change.diff'), diff);
  execFileSync('patch', ['--quiet', '--force', '-F', '0', file, join(dir, 'change.diff')]);
  return readFileSync(file, 'utf8');
}

describe('unifiedDiff', () => {
  it('prints one line changed as diff -u does', () => {
    const before = '[pg]\na = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\n';
    const after = before.replace('d = 4', 'd = 40');
    const ours = unifiedDiff(before, after, { fromFile: 'x', toFile: 'x' });
    expect(ours).toBe('--- x\n+++ x\n@@ -2,7 +2,7 @@\n a = 1\n b = 2\n c = 3\n-d = 4\n+d = 40\n e = 5\n f = 6\n g = 7\n');
  });

  it('is empty for equal texts and marks a missing final newline', () => {
    expect(unifiedDiff('a\n', 'a\n')).toBe('');
    const d = unifiedDiff('a\nb', 'a\nc');
    expect(d).toContain('-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n');
    expect(patchWith('a\nb', d)).toBe('a\nc');
  });

  it('produces diffs that patch(1) applies, for random edits', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 60; round++) {
      const lines = Array.from({ length: 5 + rnd(40) }, (_, i) => `k${rnd(8)} = ${i % 5}`);
      const edited = [...lines];
      for (let e = 0; e < 1 + rnd(6); e++) {
        const at = rnd(edited.length + 1);
        const op = rnd(3);
        if (op === 0) edited.splice(at, 0, `new${round}_${e} = x`);
        else if (op === 1) edited.splice(at, 1);
        else edited[at] = `changed${e} = y`;
      }
      const before = `${lines.join('\n')}\n`;
      const after = `${edited.filter((l) => l !== undefined).join('\n')}${rnd(2) ? '\n' : ''}`;
      const d = unifiedDiff(before, after, { fromFile: 'a', toFile: 'b' });
      expect(patchWith(before, d)).toBe(after);
    }
  });

  it('handles a new file (diff against nothing)', () => {
    const d = unifiedDiff('', '[pg2]\ndescription = x\n', { fromFile: '/dev/null', toFile: 'pg2.conf' });
    expect(d).toBe('--- /dev/null\n+++ pg2.conf\n@@ -0,0 +1,2 @@\n+[pg2]\n+description = x\n');
  });
});
