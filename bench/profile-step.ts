// Profile of the bench's training step (FULL_MODEL) on the WebGPU backend: step time (median of
// --steps, after warm-up), JS time to record a step, the process's CPU time per step (every thread: JS and
// lavapipe's workers; steadier than wall time on a shared machine), dispatches and submits per step, and
// per-kernel time: every distinct dispatch of one step is replayed alone (--reps times, on fresh buffers of the
// same sizes filled with small values) and its mean time times its count per step is its share.
// Usage: XDG_RUNTIME_DIR=/tmp npx vite-node bench/profile-step.ts -- [--steps=N] [--reps=N] [--unfused] [--dropout] [--no-replay] [--json]
import { counters as tensorCounters, foldIn, fromArray, key, read, release, tidy, webgpu, closeWebgpu, type Tensor } from '../src/index.js';
import type { KernelCall } from '../src/backend/gpu-context.js';
import { adamwDefaults } from '../src/optim/adamw.js';
import { mlmTrainStep } from '../src/train/mlm-step.js';
import { FULL_MODEL, STEP_ADAM, makeBatch } from './cases.js';
import { benchConfig, hostBatch, trainState } from './impl/ours.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.split('=')[1]);
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const gpu = await webgpu();
if (gpu === null) throw new Error('no WebGPU adapter');
const m = FULL_MODEL;
const drop = flag('dropout');
const cfg = { ...benchConfig(m), ...(drop ? { hiddenDropout: 0.1, attentionDropout: 0.1 } : {}) };
const hb = hostBatch(m, makeBatch(m).batch);
const fused = !flag('unfused');
const model = { fused };
let s = trainState(cfg, gpu);
let stepNo = 0;
const step = () => {
  const [next, loss] = mlmTrainStep(cfg, s, hb, STEP_ADAM.lr, adamwDefaults, drop ? foldIn(key(7), stepNo++) : null, gpu, model);
  release(s);
  s = next;
  return loss;
};

for (let i = 0; i < 3; i++) { const l = step(); await read(l); l.dispose(); }

// ---- step time --------------------------------------------------------------------------------
const steps = arg('steps', 10);
const total: number[] = [], record: number[] = [], cpuMs: number[] = [];
let dispatches = 0, submits = 0, lossValue = 0;
for (let i = 0; i < steps; i++) {
  await gpu.sync();
  const d0 = gpu.counters.dispatches, s0 = gpu.counters.submits;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const l = step();
  const t1 = performance.now();
  lossValue = (await read(l))[0];
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1000);
  l.dispose();
  dispatches = gpu.counters.dispatches - d0;
  submits = gpu.counters.submits - s0;
  record.push(t1 - t0);
  total.push(t2 - t0);
}

if (flag('no-replay')) {
  console.log(JSON.stringify({ fused, dropout: drop, stepMs: +median(total).toFixed(1), cpuMs: +median(cpuMs).toFixed(1), recordMs: +median(record).toFixed(1), stepsMs: total.map((t) => +t.toFixed(1)), dispatches, submits, loss: lossValue }));
  release(s);
  closeWebgpu();
  process.exit(0);
}

// ---- one step's dispatches, by op ---------------------------------------------------------------
interface Seen { call: KernelCall; op: string; sizes: [number, string][] }
const seen: Seen[] = [];
let currentOp = '?';
const origDispatch = gpu.dispatch.bind(gpu);
const origRun = gpu.run.bind(gpu);
gpu.run = (op, inputs, outputs, params) => { const prev = currentOp; currentOp = op.name; try { origRun(op, inputs, outputs, params); } finally { currentOp = prev; } };
gpu.dispatch = (call: KernelCall) => {
  seen.push({ call, op: currentOp, sizes: call.bindings.map((t) => [t.size, t.dtype] as [number, string]) });
  origDispatch(call);
};
{ const l = step(); await read(l); l.dispose(); }
gpu.dispatch = origDispatch;
gpu.run = origRun;

// ---- replay each distinct dispatch ----------------------------------------------------------------
const reps = arg('reps', 20);
const sig = (x: Seen) => JSON.stringify([x.call.kernel, x.call.constants, x.call.uniforms, x.call.workgroups, x.sizes]);
const groups = new Map<string, { x: Seen; count: number; ms: number }>();
for (const x of seen) {
  const g = groups.get(sig(x));
  if (g) g.count++; else groups.set(sig(x), { x, count: 1, ms: 0 });
}
for (const g of groups.values()) {
  const bufs: Tensor[] = g.x.sizes.map(([n, dt]) => dt === 'i32'
    ? fromArray(new Int32Array(Math.max(n, 1)), [Math.max(n, 1)], { backend: gpu, dtype: 'i32' })
    : fromArray(Float32Array.from({ length: Math.max(n, 1) }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [Math.max(n, 1)], { backend: gpu }));
  const call = { ...g.x.call, bindings: bufs };
  gpu.dispatch(call);
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) { gpu.dispatch(call); if (i % 8 === 7) gpu.flush(); }
  await gpu.sync();
  g.ms = (performance.now() - t0) / reps;
  release(bufs);
}

const rows = [...groups.values()].map((g) => ({
  op: g.x.op, kernel: g.x.call.kernel, constants: JSON.stringify(g.x.call.constants ?? {}),
  shapes: g.x.sizes.map(([n]) => n).join(','), count: g.count, msEach: g.ms, msStep: g.ms * g.count,
}));
const byKernel = new Map<string, { count: number; ms: number }>();
for (const r of rows) {
  const k = `${r.op}/${r.kernel}`;
  const e = byKernel.get(k) ?? { count: 0, ms: 0 };
  e.count += r.count; e.ms += r.msStep;
  byKernel.set(k, e);
}
const summary = {
  fused, dropout: drop, stepMs: median(total), cpuMs: median(cpuMs), recordMs: median(record), stepsMs: total.map((t) => +t.toFixed(1)), dispatches, submits, loss: lossValue,
  replayMsSum: rows.reduce((a, r) => a + r.msStep, 0), liveTensors: tensorCounters.liveTensors,
};
if (flag('json')) {
  console.log(JSON.stringify({ summary, byKernel: Object.fromEntries(byKernel), rows }));
} else {
  console.log(JSON.stringify(summary));
  console.log('\nby op/kernel (replayed, ms per step):');
  for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) console.log(`${v.ms.toFixed(2).padStart(8)} ms  ${String(v.count).padStart(4)}×  ${k}`);
  console.log('\ntop dispatches:');
  for (const r of rows.sort((a, b) => b.msStep - a.msStep).slice(0, 40)) {
    console.log(`${r.msStep.toFixed(2).padStart(8)} ms  ${String(r.count).padStart(3)}× ${r.msEach.toFixed(3).padStart(7)}  ${r.op}/${r.kernel} ${r.constants} [${r.shapes}]`);
  }
}
tidy(() => undefined);
release(s);
closeWebgpu();
