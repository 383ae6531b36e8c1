import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5Hex } from '../../src/auth/md5.js';

describe('md5Hex', () => {
  it('matches the seed hash of 1258 and node:crypto on many lengths', () => {
    expect(md5Hex('1258')).toBe('26588e932c7ccfa1df309280702fe1b5');
    for (let n = 0; n < 200; n += 7) {
      const s = 'é' + 'x'.repeat(n);
      expect(md5Hex(s)).toBe(createHash('md5').update(s).digest('hex'));
    }
  });
});
