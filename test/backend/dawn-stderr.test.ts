// Dawn prints two "Warning: maxDynamic…BuffersPerPipelineLayout artificially reduced …" lines on stderr
// from inside requestAdapter (it clamps lavapipe's own limits). device.ts drops exactly those two lines
// and keeps everything else. Checked in child processes whose stderr is a shell pipe (what a terminal
// session or `| tee` gives; Node's own child-process pipes are sockets, which cannot be reopened and so
// are left unfiltered, as are regular files).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasWebGpu } from '../support/devices.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'das-stderr-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a TypeScript snippet under vite-node with stdout and stderr both going into one shell pipe. */
function runPiped(name: string, code: string): { status: number | null; out: string } {
  // The pipeline's own status is cat's: the child's is printed after its output (exit=N).
  const file = join(work, name);
  writeFileSync(file, code);
  const viteNode = join(root, 'node_modules', 'vite-node', 'vite-node.mjs');
  const r = spawnSync('sh', ['-c', `{ "$0" "$1" "$2"; echo "exit=$?"; } 2>&1 | cat`, process.execPath, viteNode, file], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const out = r.stdout + r.stderr;
  const m = /exit=(\d+)\n?$/.exec(out);
  return { status: m === null ? null : Number(m[1]), out: m === null ? out : out.slice(0, m.index) };
}

const warning = (kind: string) =>
  `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.`;

describe('Dawn\'s limit-clamping warnings', () => {
  it('withStderrFiltered drops exactly those lines from what is written to fd 2, and restores stderr', () => {
    const src = join(root, 'src', 'backend', 'webgpu', 'dawn-node.ts');
    const r = runPiped('filter.ts', `
      import { writeSync } from 'node:fs';
      import { withStderrFiltered } from ${JSON.stringify(src)};
      process.stderr.write('before\\n');
      const v = withStderrFiltered(() => {
        writeSync(2, ${JSON.stringify(`${warning('Uniform')}\nError: a real message\n${warning('Storage')}\n`)});
        return 42;
      });
      process.stderr.write('after ' + v + '\\n');
      writeSync(2, 'native after\\n');
    `);
    expect(r.status).toBe(0);
    expect(r.out).not.toMatch(/artificially reduced/);
    expect(r.out).toMatch(/before\nError: a real message\nafter 42\nnative after\n/);
  }, 120_000);

  it.skipIf(!hasWebGpu)('opening the WebGPU device prints neither', () => {
    const index = join(root, 'src', 'index.ts');
    const r = runPiped('open.ts', `
      import { closeWebgpu, webgpu } from ${JSON.stringify(index)};
      const g = await webgpu();
      console.log(g === null ? 'no adapter' : 'opened');
      closeWebgpu();
    `);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/opened/);
    expect(r.out).not.toMatch(/artificially reduced/);
  }, 120_000);
});
