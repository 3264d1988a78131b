// The DAS figures (ours only): the DAS training step — the MLM pass, three contrastive passes (two full with
// independent dropout, one gated by the accumulated importance), L_MLM + λ·L_CKI, soft-masked AdamW — timed
// against the plain MLM step on the same batch (interleaved, dropout on in both); and importance throughput.
// src/das/ is being written: it is loaded by dynamic import, and this adapter records why it skipped when
// a module or an export it needs is missing. A `dasTrainStep` export, once there, is preferred to the composition.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Tensor, full, release, tidy, valueAndGrad } from '../../src/index.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu.js';
import type { RobertaConfig } from '../../src/nn/config.js';
import { type HostBatch, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import type { Params } from '../../src/nn/params.js';
import { adamw, adamwDefaults } from '../../src/optim/adamw.js';
import { type GradientTransformation, applyGradients, chain, emptyState } from '../../src/optim/transform.js';
import { type Key, key } from '../../src/ops/random.js';
import { type TrainState, mlmTrainStep } from '../../src/train/mlm-step.js';
import { type ModelDims, makeBatch } from '../cases.js';
import type { DasResult } from '../report.js';
import { benchConfig, trainState } from './ours.js';
import { type Impl, type Runner, why } from './types.js';

type Mod = Record<string, unknown>;
type Fn = (...a: unknown[]) => unknown;
const CONTINUAL = fileURLToPath(new URL('../../src/das/', import.meta.url));

/** The named exports of src/das/<file>.ts, or a note saying what is missing. */
async function load(file: string, names: string[]): Promise<Record<string, Fn> | string> {
  const path = `${CONTINUAL}${file}.ts`;
  if (!existsSync(path)) return `src/das/${file}.ts not there yet`;
  const mod = (await import(/* @vite-ignore */ path)) as Mod;
  const missing = names.filter((n) => typeof mod[n] !== 'function');
  return missing.length ? `src/das/${file}.ts has no ${missing.join(', ')}` : Object.fromEntries(names.map((n) => [n, mod[n] as Fn]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const LR = 1e-4;

/**
 * The DAS step and the plain MLM step (dropout 0.1 in both) of ours, and of each PyTorch anchor in `anchors`
 * on the same batch and model (torch_worker.py's das_step), interleaved; the JS time to record each of ours.
 */
export async function dasFigures(gpu: WebGpuBackend, m: ModelDims, reps: number, anchors: Impl[] = []): Promise<DasResult> {
  const c = await load('contrastive', ['dasLoss']), sm = await load('soft-mask', ['softMaskScales', 'softMask']);
  if (typeof c === 'string' || typeof sm === 'string') return { status: 'skipped', note: `DAS step: ${typeof c === 'string' ? c : sm}` };
  const own = existsSync(`${CONTINUAL}das-step.ts`) ? await load('das-step', ['dasTrainStep']) : 'none';
  // Dropout 0.1 as in DAS training: the two full contrastive views differ only by it.
  const cfg: RobertaConfig = { ...benchConfig(m), hiddenDropout: 0.1, attentionDropout: 0.1 };
  const { host: hb, originalIds } = makeBatch(m);
  const original: HostBatch = { ...hb, ids: originalIds, labels: undefined };
  const importance = Array.from({ length: m.layers }, () => ({
    head: full([m.heads], 0.5, { backend: gpu }), intermediate: full([m.ffn], 0.5, { backend: gpu }), output: full([m.hidden], 0.5, { backend: gpu }),
  }));
  const scales = sm.softMaskScales(importance, cfg) as Map<string, Tensor>;
  let sd = trainState(cfg, gpu), sp = trainState(cfg, gpu), n = 0;
  const composed = (s: TrainState, k: Key): [TrainState, Tensor] => tidy(() => {
    const batch = { corrupted: toDevice(cfg, hb, gpu), original: toDevice(cfg, original, gpu) };
    const t = mlmTargets(hb, gpu);
    const [loss, g] = valueAndGrad((a: { params: Params }) => (c.dasLoss(cfg, a.params, batch, t, { importance, dropoutKey: k }) as [Tensor, unknown])[0], ['params'])({ params: s.params });
    const [params, [, opt]] = applyGradients(chain(sm.softMask(scales) as GradientTransformation<typeof emptyState, Params>, adamw<Params>({ ...adamwDefaults, lr: LR })), s.params, g.params, [emptyState, s.opt]);
    return [{ params, opt }, loss] as [TrainState, Tensor];
  });
  const dasStep = typeof own === 'string'
    ? composed
    : (s: TrainState, k: Key) => own.dasTrainStep(cfg, s, hb, LR, adamwDefaults, k, gpu, { importance, originalIds }) as [TrainState, Tensor];
  const rd: number[] = [], rm: number[] = []; // JS time to record each step (until the call returns, before the wait)
  const das = async () => { const t0 = performance.now(); const [next, loss] = dasStep(sd, key(++n)); release(sd, loss); rd.push(performance.now() - t0); sd = next; await gpu.sync(); };
  const mlm = async () => { const t0 = performance.now(); const [next, loss] = mlmTrainStep(cfg, sp, hb, LR, adamwDefaults, key(++n), gpu); release(sp, loss); rm.push(performance.now() - t0); sp = next; await gpu.sync(); };
  const timed = async (f: () => Promise<void>) => { const t0 = performance.now(); await f(); return performance.now() - t0; };
  // PyTorch's DAS and MLM steps on the same batch (its worker times each run itself).
  const batch = { ...makeBatch(m).batch, originalIds: Array.from(originalIds) };
  const theirs: { impl: Impl; das?: Runner; mlm?: Runner; td: number[]; tm: number[]; error?: string }[] = [];
  for (const impl of anchors) {
    const t: (typeof theirs)[number] = { impl, td: [], tm: [] };
    try {
      const [d, p] = [await impl.prepare({ kind: 'das_step', model: m, batch, das: true }), await impl.prepare({ kind: 'das_step', model: m, batch, das: false })];
      if (typeof d === 'string' || typeof p === 'string') t.error = typeof d === 'string' ? d : String(p);
      else { t.das = d; t.mlm = p; await d.run(2); await p.run(2); }
    } catch (e) { t.error = why(e); }
    theirs.push(t);
  }
  const sample = async (r: Runner) => Number(await r.run(1));
  try {
    await das(); await mlm(); await das(); await mlm();
    rd.length = 0; rm.length = 0;
    const td: number[] = [], tm: number[] = [];
    for (let i = 0; i < reps; i++) {
      td.push(await timed(das)); tm.push(await timed(mlm));
      for (const t of theirs) {
        if (t.error !== undefined || !t.das || !t.mlm) continue;
        try { t.td.push(await sample(t.das)); t.tm.push(await sample(t.mlm)); } catch (e) { t.error = why(e); }
      }
    }
    const res: DasResult = {
      status: 'ok', dasStepMs: median(td), mlmStepMs: median(tm), ratio: median(td) / median(tm), dasRecordMs: median(rd), mlmRecordMs: median(rm),
      anchors: Object.fromEntries(theirs.map((t) => [t.impl.id, t.error !== undefined || t.td.length === 0
        ? { error: t.error ?? 'no samples' }
        : { dasStepMs: median(t.td), mlmStepMs: median(t.tm), ratio: median(t.td) / median(t.tm) }])),
      note: `${typeof own === 'string' ? 'dasLoss (contrastive.ts) + chain(softMask (soft-mask.ts), adamw), composed here' : 'dasTrainStep (das-step.ts)'}; dropout 0.1 in both steps; λ, τ defaults; importance 0.5 everywhere`,
    };
    const imp = await load('importance', ['computeImportance']);
    if (typeof imp === 'string') res.note += `; importance: ${imp}`;
    else {
      const run = async () => { const r = imp.computeImportance(cfg, sd.params, [hb], { loss: 'mlm', aggregation: 'abs-per-example', dropoutKey: key(++n) }) as { raw: unknown }; release(r.raw); await gpu.sync(); };
      try {
        await run();
        const ti: number[] = [];
        for (let i = 0; i < reps; i++) ti.push(await timed(run));
        res.importanceTokensPerSec = ((m.batch * m.seq) / median(ti)) * 1000;
        res.note += `; importance: computeImportance, MLM loss, abs-per-example (per-example gate gradients), ${median(ti).toFixed(1)} ms per batch of ${m.batch}×${m.seq}`;
      } catch (e) { res.note += `; importance failed: ${why(e)}`; }
    }
    return res;
  } catch (e) {
    return { status: 'error', note: `DAS step: ${why(e)} — adapt bench/impl/das.ts` };
  } finally {
    for (const t of theirs) { try { await t.das?.dispose(); await t.mlm?.dispose(); } catch { /* best effort */ } }
    release(sd, sp, importance, [...scales.values()]);
  }
}
