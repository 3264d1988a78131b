// The README's library example, as a consumer type-checks it: build, `npm pack`, install the tarball
// into an empty project (offline), and run this repo's tsc on the example taken from README.md under
// `strict`, `module: nodenext`, no skipLibCheck and no ambient types: @webgpu/types must come in through
// the package itself (the reference directive in dist/index.d.ts and the dependency).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, root } from './build.js';

const hasNpm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
const work = mkdtempSync(join(tmpdir(), 'das-readme-types-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** npm run from a test (or under `npm test`) must not see the outer npm's settings (prefix, scripts). */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] });

/** The first ```ts block under "## The library in one screen". */
function readmeExample(readme: string): string {
  const at = readme.indexOf('## The library in one screen');
  if (at < 0) throw new Error('README.md has no "## The library in one screen" section');
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (m === null) throw new Error('README.md: no ```ts block under "The library in one screen"');
  return m[1];
}

describe.skipIf(!hasNpm)('README library example against the packed package (npm pack → install → tsc --strict)', () => {
  let tgz = '';
  let files: string[] = [];
  const app = join(work, 'app');

  beforeAll(() => {
    buildDist();
    const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work, '--loglevel=error'], root)) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    tgz = join(work, packed[0].filename);
    files = packed[0].files.map((f) => f.path);
    console.log(`[test/package] ${packed[0].filename}: ${files.length} files, ${(packed[0].size / 1024).toFixed(0)} KiB packed, ${(packed[0].unpackedSize / 1024).toFixed(0)} KiB unpacked`);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-example', version: '1.0.0', type: 'module', private: true }));
    try {
      npm(['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', tgz], app);
    } catch (e) {
      // A pruned npm cache (ENOTCACHED): lay the package out as npm would, its dependencies from this repo.
      console.warn(`[test/package] npm install --offline failed (${String((e as { stderr?: string }).stderr ?? e).split('\n')[0]}); extracting the tarball instead`);
      const dest = join(app, 'node_modules', 'das-webgpu');
      mkdirSync(dest, { recursive: true });
      execFileSync('tar', ['xzf', tgz, '-C', dest, '--strip-components=1']);
      const deps = Object.keys((JSON.parse(readFileSync(join(dest, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
      for (const d of deps) {
        mkdirSync(dirname(join(app, 'node_modules', d)), { recursive: true });
        if (!existsSync(join(app, 'node_modules', d))) symlinkSync(join(root, 'node_modules', d), join(app, 'node_modules', d), 'dir');
      }
    }
  }, 180_000);

  it('ships dist, kernels, bin and the README; no tests, sources or data', () => {
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('bin/das.js');
    expect(files).toContain('kernels/matmul.wgsl');
    expect(files).toContain('README.md');
    expect(files.filter((f) => /^(test|src|data|models|bench|results)\//.test(f))).toEqual([]);
  });

  it('declares @webgpu/types (a dependency) and references it from dist/index.d.ts', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'das-webgpu', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['@webgpu/types']).toBeDefined();
    const dts = readFileSync(join(app, 'node_modules', 'das-webgpu', 'dist', 'index.d.ts'), 'utf8');
    expect(dts).toMatch(/^\/\/\/ <reference types="@webgpu\/types"/m);
    expect(existsSync(join(app, 'node_modules', '@webgpu', 'types', 'package.json'))).toBe(true);
  });

  it("type-checks README.md's example under strict, module nodenext, without skipLibCheck", () => {
    const example = readmeExample(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(example).toMatch(/from 'das-webgpu'/);
    writeFileSync(join(app, 'example.ts'), example);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: [] },
      files: ['example.ts'],
    }));
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);
});

if (!hasNpm) it.skip('README library example: SKIPPED, npm is not on PATH, so the package cannot be packed and installed', () => {});
