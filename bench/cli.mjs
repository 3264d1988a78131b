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

/** `--help`, printed before anything is installed or loaded (the same flags as run.ts's own help). */
export const usage = `Usage: das bench [--quick|--tiny] [--anchors=LIST|none] [--only=REGEX] [--no-cold] [--no-das] [--out=DIR] [--machine=NAME] [--python=PATH] [--threads=N]
       das bench --size=base [--case=mlm,das,importance,finetune]   (RoBERTa-base size, ours only, one step each; not in the default run)
       das bench --profile [--unfused] [--dropout] [--no-replay]   (the training step alone: per-kernel GPU time, JS time to record a step)
       das bench --autotune [--reps=N] [--dry-run]   (times the matmul tile candidates on this adapter and caches the fastest;
                                                     every candidate gives bit-identical results; DAS_AUTOTUNE=off ignores the cache)
       (npm run bench -- FLAGS; a repo checkout: bench/ is not in the npm package)
Anchors: tfjs-webgpu, jaxjs-webgpu, tfjs-wasm, jaxjs-wasm, torch-cpu, torch-cuda (default: all; unavailable ones are recorded as such).
The JS anchors (tfjs, jax-js) are bench/'s own npm dependencies, installed on the first run that needs them.
PyTorch: --python (default $BENCH_PYTHON or /usr/bin/python3), --threads (default 2); with /usr/bin/python3 the first run
installs Debian's python3-torch and libopenblas0-pthread when they are missing (bench/setup-torch.sh).
`;

/** Runs the benchmark with `argv` (run.ts flags); returns the exit code. */
export async function benchCommand(argv) {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(usage); return 0; }
  if (!existsSync(join(root, 'node_modules', 'vite-node', 'vite-node.mjs')) && npm(['install', '--no-audit', '--no-fund'], root) !== 0) return 1;
  const anchors = argv.find((a) => a.startsWith('--anchors='));
  const wantsJs = !argv.includes('--size=base') && !argv.includes('--profile') && !argv.includes('--autotune') && !(anchors === '--anchors=none' || anchors === '--anchors=' || (anchors && !/tfjs|jaxjs/.test(anchors)));
  if (wantsJs && need.some((p) => !existsSync(join(bench, 'node_modules', p, 'package.json')))) {
    if (npm(['--prefix', bench, 'install', '--no-audit', '--no-fund'], root) !== 0) return 1;
  }
  // PyTorch (CPU, and CUDA where there is a GPU) is a column on every machine: Debian's packages when missing.
  const python = argv.find((a) => a.startsWith('--python='))?.slice('--python='.length) ?? process.env.BENCH_PYTHON ?? '/usr/bin/python3';
  const wantsTorch = !argv.includes('--size=base') && !argv.includes('--profile') && !argv.includes('--autotune') && !(anchors === '--anchors=none' || anchors === '--anchors=' || (anchors && !/torch/.test(anchors)));
  if (wantsTorch) spawnSync('bash', [join(bench, 'setup-torch.sh'), python], { cwd: root, stdio: 'inherit' });
  // bench/ runs the sources: the inlined kernels first, generated from kernels/ (written only when they changed)
  if (existsSync(join(root, 'scripts', 'kernels.mjs'))) spawnSync(process.execPath, [join(root, 'scripts', 'kernels.mjs')], { cwd: root, stdio: 'inherit' });
  const tool = argv.includes('--profile') ? 'profile-step.ts' : argv.includes('--autotune') ? 'autotune.ts' : 'run.ts';
  const entry = join(bench, tool);
  const args = argv.filter((a) => a !== '--profile' && a !== '--autotune');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vite-node', 'vite-node.mjs'), entry, '--', ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  return r.status ?? 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(await benchCommand(process.argv.slice(2)));
