// das-webgpu side by side with tfjs (webgpu, wasm), jax-js (webgpu, wasm) and PyTorch: kernels, the small-RoBERTa
// training step, the cold first step, the DAS step. `npm run bench` / `das bench` (bench/cli.mjs) run this file.
//
//   npx vite-node bench/run.ts [--quick | --tiny] [--anchors=tfjs-webgpu,jaxjs-webgpu,...|none] [--only=REGEX]
//                              [--no-cold] [--no-das] [--out=DIR] [--machine=NAME] [--python=PATH] [--threads=N]
//
// Writes bench/results/<machine>-<date>[-quick].json and .md and prints the table.
import { fileURLToPath } from 'node:url';
import { ANCHORS, type AnchorId, runBench } from './bench.js';

const argv = process.argv.slice(2);
const arg = (k: string): string | undefined => argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const flag = (k: string): boolean => argv.includes(`--${k}`);

if (flag('help') || flag('h')) {
  process.stdout.write(`Usage: npm run bench -- [--quick|--tiny] [--anchors=LIST|none] [--only=REGEX] [--no-cold] [--no-das] [--out=DIR] [--machine=NAME] [--python=PATH] [--threads=N]
       npm run bench -- --size=base [--case=mlm,das,importance,finetune] [--batch=16] [--seq=164] [--shape=D,H,F,L,V]: RoBERTa-base size, one step each (slow on a CPU adapter)
Anchors: ${ANCHORS.join(', ')} (default: all; unavailable ones are recorded as such).
PyTorch: --python (default $BENCH_PYTHON or /usr/bin/python3), --threads (default 2).
`);
  process.exit(0);
}
if (arg('size') === 'base') {   // RoBERTa-base size, ours only, one step of each case (bench/base-size.ts); slow on a CPU adapter
  const { baseSizeMain } = await import('./base-size.js');
  await baseSizeMain(arg, arg('out') ?? fileURLToPath(new URL('./results/', import.meta.url)));
  process.exit(0);
}
const anchorsArg = arg('anchors');
const anchors = (anchorsArg === undefined ? [...ANCHORS] : anchorsArg === 'none' || anchorsArg === '' ? [] : anchorsArg.split(',')) as AnchorId[];
const bad = anchors.filter((a) => !(ANCHORS as readonly string[]).includes(a));
if (bad.length) { process.stderr.write(`unknown anchors: ${bad.join(', ')} (known: ${ANCHORS.join(', ')})\n`); process.exit(2); }

const { md } = await runBench({
  size: flag('tiny') ? 'tiny' : flag('quick') ? 'quick' : 'full',
  anchors,
  only: arg('only') ? new RegExp(arg('only')!) : undefined,
  cold: !flag('no-cold'),
  das: !flag('no-das'),
  out: arg('out') ?? fileURLToPath(new URL('./results/', import.meta.url)),
  machine: arg('machine'),
  python: arg('python') ?? process.env.BENCH_PYTHON ?? '/usr/bin/python3',
  torchThreads: Number(arg('threads') ?? 2),
  log: (s) => process.stderr.write(`[bench] ${s}\n`),
});
process.stdout.write(`\n${md}`);
process.exit(0); // Dawn devices of the anchors would keep Node alive
