import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineBlackboxSuite } from './suite.js';
import { startProcessTarget } from './process-target.js';
import { BUN_BINARY } from './support.js';

const MISSING = `${BUN_BINARY} is missing: run "npm run build:bin" first (CI builds it before running the tests)`;

/** The single-file binary is built by `npm run build:bin` (CI does it before the tests). */
async function start() {
  if (!existsSync(BUN_BINARY)) throw new Error(MISSING);
  if (!(statSync(BUN_BINARY).mode & 0o111)) throw new Error(`${BUN_BINARY} is not executable: run "npm run build:bin" again`);
  return startProcessTarget('bun', [BUN_BINARY]);
}

defineBlackboxSuite('Bun binary: dist/barmanapi runserver', start, { serverProcess: true });

describe('Bun binary contents', () => {
  it('embeds none of ssh2\'s native add-ons, so SSH above ran on its pure-JS crypto', () => {
    if (!existsSync(BUN_BINARY)) throw new Error(MISSING);
    const bytes = readFileSync(BUN_BINARY);
    for (const addon of ['sshcrypto', 'cpufeatures']) expect(bytes.includes(`$bunfs/root/${addon}`), addon).toBe(false);
    // The check above would be empty if Bun named embedded files differently: the entry must be there.
    expect(bytes.includes('$bunfs/root/barmanapi')).toBe(true);
  });
});
