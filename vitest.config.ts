import { defineConfig } from 'vitest/config';
import { SKIPPED_SUITES, integrationPlan } from './test/support/integration-plan.js';
import { PackageLastSequencer } from './test/support/sequencer.js';

const plan = integrationPlan();
if (!plan.run) console.log(plan.reason);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(plan.run ? [] : SKIPPED_SUITES)],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/global-setup.ts'],
    // Integration files share one PostgreSQL cluster and one barman server: two backups of it
    // at once would be refused by barman, so test files run one after another.
    fileParallelism: false,
    sequence: { sequencer: PackageLastSequencer },
  },
});
