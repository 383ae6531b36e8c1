import { existsSync, statSync } from 'node:fs';
import { defineBlackboxSuite } from './suite.js';
import { startProcessTarget } from './process-target.js';
import { BUN_BINARY } from './support.js';

/** The single-file binary is built by `npm run build:bin` (CI does it before the tests). */
async function start() {
  if (!existsSync(BUN_BINARY)) {
    throw new Error(`${BUN_BINARY} is missing: run "npm run build:bin" first (CI builds it before running the tests)`);
  }
  if (!(statSync(BUN_BINARY).mode & 0o111)) throw new Error(`${BUN_BINARY} is not executable: run "npm run build:bin" again`);
  return startProcessTarget('bun', [BUN_BINARY]);
}

defineBlackboxSuite('Bun binary: dist/barmanapi runserver', start, { serverProcess: true });
