// closeWebgpu() in a process that goes on working: Dawn's GPU object must outlive the device. Dropping
// it let V8 collect it while lavapipe's threads still ran, and the process died a second or two later
// ("std::system_error: Invalid argument", a futex error, SIGSEGV) — once in the test runner's own
// process, right after the global set-up closed its probe device. Checked in child processes, each
// closing the device and then allocating and collecting garbage for a second (without the fix this died in every run).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasWebGpu } from '../support/devices.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'das-close-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('closeWebgpu', () => {
  it.skipIf(!hasWebGpu)('leaves a process that goes on working alive, and the device can be opened again', () => {
    const file = join(work, 'close.ts');
    const webgpu = join(root, 'src', 'backend', 'webgpu', 'webgpu.ts');
    writeFileSync(file, `
      import { closeWebgpu, webgpu } from ${JSON.stringify(webgpu)};
      for (let round = 0; round < 2; round++) {
        if ((await webgpu()) === null) { console.log('no adapter'); process.exit(3); }
        closeWebgpu();
        let junk: number[][] = [];
        for (let i = 0; i < 80; i++) {
          junk.push(new Array(100_000).fill(i));
          if (junk.length > 10) junk = [];
          if (i % 10 === 0) (globalThis as { gc?: () => void }).gc?.();
          await new Promise((r) => setTimeout(r, 8));
        }
      }
      console.log('alive');
    `);
    const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs');
    {
      const r = spawnSync(process.execPath, ['--expose-gc', viteNode, file], {
        cwd: root, encoding: 'utf8', timeout: 110_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      });
      const crash = r.stderr.split('\n').filter((l) => /terminate called|system_error|futex|Assertion|Segmentation|Aborted/.test(l)).join('\n');
      expect({ status: r.status, signal: r.signal, crash }).toEqual({ status: 0, signal: null, crash: '' });
      expect(r.stdout).toMatch(/alive/);
    }
  }, 120_000);
});
