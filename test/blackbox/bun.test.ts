import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineBlackboxSuite } from './suite.js';
import { startProcessTarget } from './process-target.js';
import { BUN_BINARY, ROOT } from './support.js';

const MISSING = `${BUN_BINARY} is missing: run "npm run build:bin" first (CI builds it before running the tests)`;

/**
 * The binary as on a host without Node: run in a private mount namespace where every `node`
 * on PATH is covered by /dev/null, so neither the server nor the `execute` runners it starts
 * can fall back on Node. Needs root (as in CI); elsewhere the binary runs as it is.
 */
function hideNode(cli: string[]): { cli: string[]; hidden: boolean } {
  const nodes = new Set([realpathSync(process.execPath)]);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/node`)) nodes.add(realpathSync(`${dir}/node`));
  }
  const mounts = [...nodes].map((n) => `mount --bind /dev/null '${n}'`).join(' && ');
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', `${mounts} && ! node -e 0 2>/dev/null`], { stdio: 'ignore' });
  if (probe.status !== 0) return { cli, hidden: false };
  return { cli: ['unshare', '-m', 'sh', '-c', `${mounts} && exec "$0" "$@"`, ...cli], hidden: true };
}

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') || e.name.endsWith('.tsx')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'adapters']) walk(join(ROOT, d));
  return newest;
}

/** The single-file binary is built by `npm run build:bin` (CI does it before the tests). */
async function start() {
  if (!existsSync(BUN_BINARY)) throw new Error(MISSING);
  if (!(statSync(BUN_BINARY).mode & 0o111)) throw new Error(`${BUN_BINARY} is not executable: run "npm run build:bin" again`);
  const stale = newestSource() > statSync(BUN_BINARY).mtimeMs;
  if (stale) console.warn(`${BUN_BINARY} is older than the sources it is built from; run "npm run build:bin" to test the current code`);
  const { cli, hidden } = hideNode([BUN_BINARY]);
  if (!hidden) console.warn('bun target: cannot hide node here (needs root and unshare); the binary runs with node on PATH');
  return startProcessTarget('bun', cli);
}

defineBlackboxSuite('Bun binary: dist/barmanapi runserver, with node hidden', start, { serverProcess: true });

describe('Bun binary contents', () => {
  it('embeds none of ssh2\'s native add-ons, so SSH above ran on its pure-JS crypto', () => {
    if (!existsSync(BUN_BINARY)) throw new Error(MISSING);
    const bytes = readFileSync(BUN_BINARY);
    for (const addon of ['sshcrypto', 'cpufeatures']) expect(bytes.includes(`$bunfs/root/${addon}`), addon).toBe(false);
    // The check above would be empty if Bun named embedded files differently: the entry must be there.
    expect(bytes.includes('$bunfs/root/barmanapi')).toBe(true);
  });
});
