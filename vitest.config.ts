import { defineConfig } from 'vitest/config';
import { kernelSourcesPlugin } from './scripts/kernels.mjs';

// Dawn needs forked processes (node-webgpu #13) and the device opened outside test bodies.
export default defineConfig({
  // src/backend/webgpu/kernel-sources.ts is generated from kernels/: tests load it fresh from there.
  plugins: [kernelSourcesPlugin()],
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
});
