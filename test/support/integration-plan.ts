import { existsSync } from 'node:fs';

/** Suites that need the integration environment (root, barman, sshd): skipped together without it. */
export const SKIPPED_SUITES = ['test/integration/**', 'test/blackbox/**', 'test/contract/barman-host.node.test.ts'];

/**
 * Whether the integration and black-box suites run: as root (the setup installs and starts
 * what they need), or where their environment is already up. Otherwise they are skipped with
 * one line saying how to run them, except under CI=true, where nothing may be skipped.
 */
export function integrationPlan(): { run: boolean; envFile: string; reason: string } {
  const envFile = process.env.BARMANAPI_IT_ENV ?? `${process.env.BARMANAPI_IT_ROOT ?? '/tmp/barmanapi-it'}/env.json`;
  const root = process.getuid?.() === 0;
  const run = root || existsSync(envFile) || process.env.CI === 'true';
  return {
    run,
    envFile,
    reason: run
      ? ''
      : 'integration and black-box tests skipped: they need root to install and start barman, PostgreSQL and sshd ' +
        '(run "sudo npm test"), or an environment already up (sudo bash test/integration/env/up.sh); CI=true fails instead of skipping',
  };
}
