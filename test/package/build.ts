// Builds dist/ (npm run build's steps: the inlined kernels, tsc -p tsconfig.json, the browser bundle) once
// for the tests that need the built package (bin/das.js, npm pack): a lock directory keeps two test files from writing dist/ at once, and a stamp skips the build
// when dist/ is newer than every source file. Type errors elsewhere in the tree do not stop it (tsc exit 2
// still emits; `npm run check` reports them); a build that emits nothing does.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const cache = join(root, 'node_modules', '.cache');
const lock = join(cache, 'das-webgpu-build.lock');
const stamp = join(cache, 'das-webgpu-build.stamp');

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function newestSource(dir: string, ext = '.ts'): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p, ext) : e.name.endsWith(ext) ? statSync(p).mtimeMs : 0);
  }
  return t;
}

function fresh(): boolean {
  if (!existsSync(stamp) || !['index.js', 'cli/main.js', 'browser/das-webgpu.js'].every((f) => existsSync(join(root, 'dist', f)))) return false;
  const inputs = Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'kernels'), '.wgsl'), statSync(join(root, 'tsconfig.json')).mtimeMs, statSync(join(root, 'package.json')).mtimeMs);
  return statSync(stamp).mtimeMs > inputs;
}

/** Ensures dist/ is built from the current sources; returns whether this call ran tsc. */
export function buildDist(): boolean {
  mkdirSync(cache, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try { mkdirSync(lock); break; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try { if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true }); } catch { /* gone meanwhile */ }
      if (Date.now() > deadline) throw new Error(`buildDist: ${lock} held for over 3 minutes`);
      sleep(200);
    }
  }
  try {
    if (fresh()) return false;
    const started = Date.now();
    const kernels = spawnSync(process.execPath, [join(root, 'scripts', 'kernels.mjs')], { cwd: root, encoding: 'utf8' });
    if (kernels.status !== 0) throw new Error(`scripts/kernels.mjs exited ${kernels.status}:\n${kernels.stderr}`);
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 2) throw new Error(`tsc -p tsconfig.json exited ${r.status}:\n${r.stdout}${r.stderr}`);
    if (r.status === 2) console.warn(`[test/package] tsc emitted dist/ with type errors (npm run check reports them):\n${r.stdout.split('\n').slice(0, 5).join('\n')}`);
    const browser = spawnSync(process.execPath, [join(root, 'scripts', 'build-browser.mjs')], { cwd: root, encoding: 'utf8' });
    if (browser.status !== 0) throw new Error(`scripts/build-browser.mjs exited ${browser.status}:\n${browser.stdout}${browser.stderr}`);
    writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
    utimesSync(stamp, new Date(started), new Date(started)); // sources edited during the build are newer
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
