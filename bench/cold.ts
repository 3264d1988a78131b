// One implementation's first training step in a fresh process (run by bench.ts with the driver shader caches off).
// Prints `COLD {"openMs", "firstStepMs", "secondStepMs"}`.
import { FULL_MODEL, type Size, TINY_MODEL, makeBatch } from './cases.js';
import type { Impl } from './impl/types.js';

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
const id = arg('impl') ?? 'ours', size = (arg('size') ?? 'full') as Size;
const m = size === 'tiny' ? TINY_MODEL : FULL_MODEL;

const t0 = performance.now();
let impl: Impl;
if (id === 'ours') impl = new (await import('./impl/ours.js')).Ours();
else if (id.startsWith('tfjs-')) impl = new (await import('./impl/tfjs.js')).Tfjs(id === 'tfjs-webgpu' ? 'webgpu' : 'wasm');
else impl = new (await import('./impl/jax.js')).JaxJs(id === 'jaxjs-webgpu' ? 'webgpu' : 'wasm');
await impl.init();
const openMs = performance.now() - t0;
const r = await impl.prepare({ kind: 'step', model: m, batch: makeBatch(m).batch });
if (typeof r === 'string') { console.log(`COLD ${JSON.stringify({ skipped: r })}`); process.exit(0); }
const time = async () => { const t = performance.now(); const own = await r.run(1); return typeof own === 'number' ? own : performance.now() - t; };
const firstStepMs = await time();
const secondStepMs = await time();
console.log(`COLD ${JSON.stringify({ openMs, firstStepMs, secondStepMs })}`);
process.exit(0);
