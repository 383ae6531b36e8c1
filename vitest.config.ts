import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/global-setup.ts'],
    // Integration files share one PostgreSQL cluster and one barman server: two backups of it
    // at once would be refused by barman, so test files run one after another.
    fileParallelism: false,
  },
});
