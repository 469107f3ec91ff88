import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/setup-kafkajs.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/setup-kafkajs.ts'],
          // Integration tests share one broker on a 2-core machine: files run one after another.
          fileParallelism: false,
          testTimeout: 120_000,
          // The first run may resolve the broker and registry jars with Maven.
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
