import { defineConfig } from 'vitest/config';

/**
 * Workspace packages resolve to their TypeScript sources under test (the "@agora/source" export
 * condition; plain node gets their compiled dist/), then Vitest's own server conditions (Vite's
 * without "module": Node itself loads the dependencies Vitest leaves external).
 */
const CONDITIONS = ['@agora/source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions: CONDITIONS },
  ssr: { resolve: { conditions: CONDITIONS } },
  test: {
    // Compiles the workspaces first: processes the tests start run the compiled build (test/build/global-setup.ts).
    globalSetup: ['test/build/global-setup.ts'],
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
