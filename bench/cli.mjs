#!/usr/bin/env node
// Entry of `npm run bench` and `das bench`: installs bench/'s own dependencies (the anchors: tfjs, jax-js) when
// they are missing — they are never the library's — then runs bench/run.ts under the root's vite-node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = dirname(fileURLToPath(import.meta.url));
const root = dirname(bench);
const need = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm', '@jax-js/jax'];

function npm(args, cwd) {
  process.stderr.write(`[bench] npm ${args.join(' ')} (in ${cwd})\n`);
  return spawnSync('npm', args, { cwd, stdio: 'inherit' }).status ?? 1;
}

/** Runs the benchmark with `argv` (run.ts flags); returns the exit code. */
export async function benchCommand(argv) {
  if (!existsSync(join(root, 'node_modules', 'vite-node', 'vite-node.mjs')) && npm(['install', '--no-audit', '--no-fund'], root) !== 0) return 1;
  const anchors = argv.find((a) => a.startsWith('--anchors='));
  const wantsJs = !(anchors === '--anchors=none' || anchors === '--anchors=' || (anchors && !/tfjs|jaxjs/.test(anchors)));
  if (wantsJs && need.some((p) => !existsSync(join(bench, 'node_modules', p, 'package.json')))) {
    if (npm(['--prefix', bench, 'install', '--no-audit', '--no-fund'], root) !== 0) return 1;
  }
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vite-node', 'vite-node.mjs'), join(bench, 'run.ts'), '--', ...argv], { cwd: root, stdio: 'inherit', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  return r.status ?? 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(await benchCommand(process.argv.slice(2)));
