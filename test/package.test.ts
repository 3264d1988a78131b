// The library as others install it: `npm pack`, install the tarball into an empty project, import
// it and compute on the CPU and (when present) WebGPU backends. Runtime dependencies stay webgpu + fp-ts
// (+ @webgpu/types, which webgpu depends on anyway, for the .d.ts files).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDist } from './package/build.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'das-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm package', () => {
  it('declares only webgpu, fp-ts and @webgpu/types as runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@webgpu/types', 'fp-ts', 'webgpu']);
  });

  it('packs, installs into an empty project, imports and runs', () => {
    buildDist(); // once, shared with test/package/ (npm pack's prepare would rebuild dist/ beside them)
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
    const tgz = join(work, out.trim().split('\n').pop()!);
    const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' });
    expect(files).toMatch(/package\/dist\/index\.js/);
    expect(files).toMatch(/package\/dist\/index\.d\.ts/);
    expect(files).toMatch(/package\/dist\/browser\/das-webgpu\.js/); // the browser bundle (exports' "browser" condition)
    expect(files).toMatch(/package\/dist\/browser\.d\.ts/);
    expect(files).toMatch(/package\/kernels\/matmul\.wgsl/);
    expect(files).not.toMatch(/package\/test\//);
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tgz], { cwd: app, stdio: 'pipe' });
    writeFileSync(join(app, 'main.js'), `
      import { cpu, webgpu, closeWebgpu, fromArray, matmul, sum, toArray, valueAndGrad, tidy } from 'das-webgpu';
      const results = {};
      for (const be of [cpu(), await webgpu()].filter(Boolean)) {
        const a = fromArray([1, 2, 3, 4], [2, 2], { backend: be });
        const [v, g] = valueAndGrad(({ a }) => sum(matmul(a, a)), ['a'])({ a });
        results[be.name] = { value: (await toArray(v))[0], grad: await toArray(g.a) };
      }
      closeWebgpu();
      console.log(JSON.stringify(results));
    `);
    const res = JSON.parse(execFileSync('node', ['main.js'], { cwd: app, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } }).trim().split('\n').pop()!);
    // sum(A·A) for A = [[1,2],[3,4]]: A² = [[7,10],[15,22]] → 54; d/dA = 1·Aᵀ + Aᵀ·1 → [[7,11],[9,13]]
    for (const r of Object.values(res) as { value: number; grad: number[] }[]) {
      expect(r.value).toBe(54);
      expect(r.grad).toEqual([7, 11, 9, 13]);
    }
    expect(Object.keys(res)).toContain('cpu');
  }, 300_000);
});
