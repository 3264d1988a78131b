// A/B timing of the bench's training step (FULL_MODEL): the fused model and the unfused composition
// (ForwardOptions.fused = false), alternating step by step in one process so that both see the same load.
// Reports per-variant median and min step time, the process's CPU time per step (user + system, every thread:
// JS and lavapipe's workers; steadier than wall time on a shared machine), dispatches per step, and the medians
// of the per-pair ratios.
// --dropout: hidden and attention dropout 0.1 with the library RNG (as the main job trains), instead of none.
// --wait: A/B of how the process waits on Dawn instead (both fused): 'fused' is the polite wait (sleeps between
// polls once idle, the default), 'unfused' the plain spin (DAS_DAWN_WAIT=spin); see dawn-node.ts.
// Usage: XDG_RUNTIME_DIR=/tmp npx vite-node bench/step-ab.ts -- [--pairs=N] [--dropout] [--wait]
import { foldIn, key, read, release, webgpu, closeWebgpu } from '../src/index.js';
import { idle, politePauseMs } from '../src/backend/webgpu/dawn-node.js';
import { adamwDefaults } from '../src/optim/adamw.js';
import { mlmTrainStep, type TrainState } from '../src/train/mlm-step.js';
import { FULL_MODEL, STEP_ADAM, makeBatch } from './cases.js';
import { benchConfig, hostBatch, trainState } from './impl/ours.js';

const pairs = Number(process.argv.find((a) => a.startsWith('--pairs='))?.split('=')[1] ?? 15);
const gpu = (await webgpu())!;
const drop = process.argv.includes('--dropout');
const waitAB = process.argv.includes('--wait');
const cfg = { ...benchConfig(FULL_MODEL), ...(drop ? { hiddenDropout: 0.1, attentionDropout: 0.1 } : {}) }, hb = hostBatch(FULL_MODEL, makeBatch(FULL_MODEL).batch);
const states: Record<string, TrainState> = { fused: trainState(cfg, gpu), unfused: trainState(cfg, gpu) };
const times: Record<string, number[]> = { fused: [], unfused: [] }, disp: Record<string, number> = {}, record: Record<string, number[]> = { fused: [], unfused: [] };
const losses: Record<string, number[]> = { fused: [], unfused: [] }, cpuMs: Record<string, number[]> = { fused: [], unfused: [] };
let n = 0;
async function step(v: 'fused' | 'unfused'): Promise<number> {
  const dk = drop ? foldIn(key(7), n++ >> 1) : null; // the same key for both variants of a pair
  if (waitAB) idle.pauseMs = v === 'fused' ? politePauseMs : 0;
  await gpu.sync();
  const c0 = process.cpuUsage();
  const d0 = gpu.counters.dispatches, t0 = performance.now();
  const [next, loss] = mlmTrainStep(cfg, states[v], hb, STEP_ADAM.lr, adamwDefaults, dk, gpu, { fused: waitAB || v === 'fused' });
  const t1 = performance.now();
  release(states[v]);
  states[v] = next;
  losses[v].push((await read(loss))[0]);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpuMs[v].push((c.user + c.system) / 1000);
  loss.dispose();
  disp[v] = gpu.counters.dispatches - d0;
  record[v].push(t1 - t0);
  return ms;
}
for (let i = 0; i < 3; i++) { await step('fused'); await step('unfused'); }
const ratio: number[] = [], cpuRatio: number[] = [];
for (let i = 0; i < pairs; i++) {
  const order: ('fused' | 'unfused')[] = i % 2 === 0 ? ['fused', 'unfused'] : ['unfused', 'fused'];
  const r: Record<string, number> = {};
  for (const v of order) { r[v] = await step(v); times[v].push(r[v]); }
  ratio.push(r.fused / r.unfused);
  cpuRatio.push(cpuMs.fused.at(-1)! / cpuMs.unfused.at(-1)!);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const out = Object.fromEntries(['fused', 'unfused'].map((v) => [v, { medianMs: +med(times[v]).toFixed(1), minMs: +Math.min(...times[v]).toFixed(1), cpuMs: +med(cpuMs[v].slice(-pairs)).toFixed(1), recordMs: +med(record[v]).toFixed(1), dispatches: disp[v] }]));
const maxLossDiff = Math.max(...losses.fused.map((l, i) => Math.abs(l - losses.unfused[i])));
console.log(JSON.stringify({ dropout: drop, ...(waitAB ? { compared: 'fused = polite wait, unfused = spin (both fused kernels)' } : {}), ...out, medianRatio: +med(ratio).toFixed(3), cpuRatio: +med(cpuRatio).toFixed(3), pairs, maxLossDiff, lastLoss: losses.fused.at(-1) }));
release(states);
closeWebgpu();
