import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { integrationPlan } from './integration-plan.js';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Before any test, so that `npm test` alone works on a new machine: compile dist/ when a source
 * is newer (job runners and the black-box suites start bin/barmanapi.js); and, when the
 * integration suites run, install barman & co. (as root, through .ci/install.sh), build the
 * single-file binary when it is missing or older than the sources, and bring up the real
 * barman + PostgreSQL + sshd environment. What it brought up, it takes down afterwards.
 */
export default async function setup(): Promise<() => void> {
  const tempBefore = new Set(ourTempEntries());
  const removeTemp = () => {
    // Whatever the suites left in the temp folder (server folders, stores, recorders) goes.
    for (const name of ourTempEntries()) {
      if (tempBefore.has(name)) continue;
      try {
        rmSync(join(tmpdir(), name), { recursive: true, force: true });
      } catch (e) {
        console.warn(`could not remove ${join(tmpdir(), name)}: ${(e as Error).message}`);
      }
    }
  };
  const sourcesAt = newestMtime(['src', 'adapters', 'bench']);
  if (sourcesAt > mtimeOr0(join(ROOT, 'dist', 'adapters', 'node', 'cli.js'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  const plan = integrationPlan();
  if (!plan.run) return removeTemp;
  if (!existsSync(plan.envFile)) {
    // Idempotent and quick when every package is there already.
    execFileSync('bash', [join(ROOT, '.ci', 'install.sh')], { cwd: ROOT, stdio: 'inherit' });
  }
  if (sourcesAt > mtimeOr0(join(ROOT, 'dist', 'barmanapi'))) {
    execFileSync('bash', [join(ROOT, 'scripts', 'build-bin.sh')], { cwd: ROOT, stdio: 'inherit' });
  }
  let broughtUp = false;
  if (!existsSync(plan.envFile)) {
    execFileSync('bash', [join(ROOT, 'test', 'integration', 'env', 'up.sh')], { cwd: ROOT, stdio: 'inherit' });
    broughtUp = true;
  }
  return () => {
    removeTemp();
    if (broughtUp && !process.env.BARMANAPI_IT_KEEP) {
      execFileSync('bash', [join(ROOT, 'test', 'integration', 'env', 'down.sh')], { cwd: ROOT, stdio: 'inherit' });
    }
  };
}

/** Entries of the temp folder that the suites make (barmanapi-srv-*, barmanapi-store-*, …), not the environment. */
function ourTempEntries(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('barmanapi-') && n !== 'barmanapi-it' && !n.startsWith('barmanapi-ci-'));
}

function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.ts') || name.endsWith('.tsx')) newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return newest;
}

function mtimeOr0(p: string): number {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}
