import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Before any test: compile dist/ when a source file is newer (job runners and the black-box
 * suites start bin/barmanapi.js, which runs dist/), and bring up the real barman + PostgreSQL +
 * sshd environment when it is not up yet and this machine can (root, barman installed).
 */
export default async function setup(): Promise<void> {
  if (newestMtime(['src', 'adapters', 'bench']) > mtimeOr0(join(ROOT, 'dist', 'adapters', 'node', 'cli.js'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  const envFile = process.env.BARMANAPI_IT_ENV ?? '/tmp/barmanapi-it/env.json';
  if (!existsSync(envFile) && process.getuid?.() === 0 && existsSync('/usr/bin/barman')) {
    execFileSync('bash', [join(ROOT, 'test', 'integration', 'env', 'up.sh')], { cwd: ROOT, stdio: 'inherit' });
  }
}

function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return newest;
}

function mtimeOr0(p: string): number {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}
