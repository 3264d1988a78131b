// Gradient accumulation (--grad-accum N, src/train/accumulate.ts): N micro-batches of B give the update
// of one batch of N·B (same chunks, same masks) to f32 rounding — for the MLM step (uneven micro-batches
// included), pretraining with clipping, NCL post-training, and DAS's soft-masked step, whose contrastive
// in-batch negatives are per micro-batch: there the reference is one backward pass through the MLM loss
// of the whole batch plus λ·(mean of the micro-batches' contrastive losses). Dropout is off (with dropout
// on, micro-batches draw their own masks; docs/method.md §12.16).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../src/autodiff/grad.js';
import type { SeedContext } from '../../src/continual/method.js';
import { das, klDir } from '../../src/continual/methods.js';
import { posttrain, posttrainAdamw } from '../../src/continual/posttrain.js';
import { type RunOptions, runSequence } from '../../src/continual/run.js';
import { BatchStream, domainChunks, mlmCollate, stepKey } from '../../src/data/mlm-data.js';
import { orThrow, readSequence } from '../../src/data/validate.js';
import { E } from '../../src/fp.js';
import { loadCheckpoint } from '../../src/io/hf-roberta.js';
import { loadTokenizer } from '../../src/io/tokenizer/index.js';
import { tinyTestConfig } from '../../src/nn/config.js';
import { type HostBatch, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { type Params, initParams } from '../../src/nn/params.js';
import { add, scalarOp } from '../../src/ops/binary.js';
import { key } from '../../src/ops/random.js';
import { adamw, adamwDefaults, adamwInit } from '../../src/optim/adamw.js';
import { linearSchedule, warmupFor } from '../../src/optim/schedule.js';
import { applyGradients, chain, emptyState } from '../../src/optim/transform.js';
import { release } from '../../src/tensor/scope.js';
import { read } from '../../src/tensor/tensor.js';
import { treeLeavesWithPaths } from '../../src/tensor/tree.js';
import { microBatches, sliceRows } from '../../src/train/accumulate.js';
import { mlmAccumStep, mlmTrainStep } from '../../src/train/mlm-step.js';
import { pretrain } from '../../src/train/pretrain.js';
import { backends, cpuBackend as be } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-accum-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld, corpus: string;
beforeAll(async () => { w = await makeTinyWorld(work); corpus = join(w.dir, 'farm/train.txt'); });

/** The largest |a − b| over the leaves of two parameter trees, and the largest |a − start| (how far training moved). */
async function maxDiff(a: Params, b: Params): Promise<number> {
  const bl = new Map(treeLeavesWithPaths(b));
  let m = 0;
  for (const [path, t] of treeLeavesWithPaths(a)) {
    const [x, y] = [await read(t), await read(bl.get(path)!)];
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}
const load = async (dir: string): Promise<Params> => {
  const ck = await loadCheckpoint(dir, be);
  if (E.isLeft(ck)) throw ck.left;
  return ck.right.params;
};
const losses = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

describe('gradient accumulation', () => {
  it('cuts a batch into micro-batches with their shares of tokens and sequences', () => {
    const labels = Int32Array.from([5, -100, 6, -100, 7, 8, -100, -100, 9, -100]);   // rows of T = 2: 1, 1, 2, 0, 1 labelled
    const hb: HostBatch = { B: 5, T: 2, ids: Int32Array.from({ length: 10 }, (_, i) => i), labels };
    const m = microBatches(hb, 2);
    expect(m.map((x) => x.batch.B)).toEqual([2, 2, 1]);
    expect(m.map((x) => x.share)).toEqual([{ tokens: 2 / 5, rows: 2 / 5 }, { tokens: 2 / 5, rows: 2 / 5 }, { tokens: 1 / 5, rows: 1 / 5 }]);
    expect([...m[1].batch.ids]).toEqual([4, 5, 6, 7]);
    expect([...sliceRows(hb, 4, 5).labels!]).toEqual([9, -100]);
  });

  it.each(backends.map((b) => [b.name, b] as const))('the MLM step over uneven micro-batches equals the step over the whole batch (%s)', async (_name, be) => {
    const cfg = tinyTestConfig;
    const T = 12, B = 5;
    const ids = Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 7919) % (cfg.vocabSize - 3)));
    const labels = Int32Array.from({ length: B * T }, (_, i) => ((i * 31) % 7 < 2 ? ids[i] : -100));
    const hb: HostBatch = { B, T, ids, labels };
    const fresh = () => { const params = initParams(cfg, key(4), be); return { params, opt: adamwInit(params) }; };
    const [s0, s1] = [fresh(), fresh()];
    const opt = { ...adamwDefaults, weightDecay: 0.01, clipNorm: 0.5 };
    const [whole, l0] = mlmTrainStep(cfg, s0, hb, 1e-3, opt, null, be);
    const [micro, l1] = mlmAccumStep(cfg, s1, microBatches(hb, 2), 1e-3, opt, null, be);
    expect((await read(l1))[0]).toBeCloseTo((await read(l0))[0], 5);
    expect(await maxDiff(whole.params, micro.params)).toBeLessThan(1e-6);
    expect(await maxDiff(whole.params, s0.params)).toBeGreaterThan(5e-4);
    release(s0, s1, whole, micro, l0, l1);
  });

  it('pretrain --grad-accum 2 --batch-size 4 ends where --batch-size 8 does (clipping on the summed gradient)', async () => {
    const o = (out: string, batchSize: number, gradAccum?: number) => pretrain({
      corpus, out: join(work, out), scratch: { width: 16, heads: 2, layers: 1, intermediate: 32, vocabSize: 0, tokenizer: w.model },
      steps: 3, batchSize, gradAccum, seqLen: 16, lr: 2e-3, warmup: 0, weightDecay: 0.01, clipNorm: 1, seed: 5, dropout: false,
      evalEvery: 3, saveEvery: 2, validBatches: 1, resume: true, backend: be, quiet: true,
    });
    await o('pre-whole', 8);
    await o('pre-accum', 4, 2);
    const [a, b] = [await load(join(work, 'pre-whole/model')), await load(join(work, 'pre-accum/model'))];
    expect(await maxDiff(a, b)).toBeLessThan(1e-6);
    release(a, b);
    const [la, lb] = [losses(join(work, 'pre-whole')), losses(join(work, 'pre-accum'))];
    for (let i = 0; i < 3; i++) expect(lb[i].loss).toBeCloseTo(la[i].loss, 5);
    expect(JSON.parse(readFileSync(join(work, 'pre-accum/settings.json'), 'utf8'))).toMatchObject({ batchSize: 4, gradAccum: 2 });
    expect(JSON.parse(readFileSync(join(work, 'pre-whole/settings.json'), 'utf8'))).not.toHaveProperty('gradAccum');
  });

  it('NCL post-training with --grad-accum 2 equals one batch twice the size', async () => {
    const o = (out: string, batchSize: number, gradAccum?: number) => posttrain({
      model: w.model, corpus, out: join(work, out), method: 'ncl', steps: 3, batchSize, gradAccum, seqLen: 16, lr: 1e-3, seed: 9, dropout: false, backend: be, quiet: true,
    });
    await o('ncl-whole', 4);
    await o('ncl-accum', 2, 2);
    const [a, b] = [await load(join(work, 'ncl-whole/model')), await load(join(work, 'ncl-accum/model'))];
    expect(await maxDiff(a, b)).toBeLessThan(1e-6);
    release(a, b);
    const [la, lb] = [losses(join(work, 'ncl-whole')), losses(join(work, 'ncl-accum'))];
    for (let i = 0; i < 3; i++) expect(lb[i].loss).toBeCloseTo(la[i].loss, 5);
  });

  it('das run passes --grad-accum to every domain and records it; a corpus with fewer chunks than a step is refused', async () => {
    const o: RunOptions = {
      sequence: w.sequence, model: w.model, out: join(work, 'run-accum'), methods: ['ncl'], seeds: [3], domains: 1, baseFinetune: false,
      posttrain: { steps: 2, batchSize: 2, gradAccum: 2, seqLen: 16, lr: 1e-3, importanceSubset: 8, importanceBatchSize: 4 },
      finetune: { epochs: 1, lr: 1e-3, batchSize: 8, seqLen: 16 }, backend: be, quiet: true,
    };
    await runSequence(o);
    expect(JSON.parse(readFileSync(join(work, 'run-accum/run.json'), 'utf8')).fingerprint.posttrain).toMatchObject({ batchSize: 2, gradAccum: 2 });
    expect(JSON.parse(readFileSync(join(work, 'run-accum/ncl/seed-3/0-farm/settings.json'), 'utf8'))).toMatchObject({ batchSize: 2, gradAccum: 2 });
    await runSequence({ ...o, out: join(work, 'run-accum-1'), posttrain: { ...o.posttrain, gradAccum: 1 } });
    expect(JSON.parse(readFileSync(join(work, 'run-accum-1/run.json'), 'utf8')).fingerprint.posttrain).not.toHaveProperty('gradAccum');
    await expect(runSequence({ ...o, out: join(work, 'run-accum-big'), posttrain: { ...o.posttrain, gradAccum: 500 } }))
      .rejects.toThrow(/fewer than one batch of 1000 \(2 × --grad-accum 500\)/);
  });

  it("DAS's soft-masked step with --grad-accum 2 equals the reference: whole-batch MLM + λ·mean of per-micro-batch contrastive losses", async () => {
    const seed = 11, seqLen = 16, lambda = 0.5;
    const hyper = { steps: 1, batchSize: 2, seqLen, lr: 1e-3, importanceSubset: 8, importanceBatchSize: 4, contrastWeight: lambda };
    const ctx: SeedContext = {
      base: w.model, domains: orThrow(readSequence(w.sequence)).domains, seed, dir: join(work, 'das-seed'), hyper, backend: be,
      counters: { posttrain: 0, importance: 0, finetune: 0 }, quiet: true, log: () => {},
    };
    mkdirSync(ctx.dir, { recursive: true });
    await das.prepare(ctx);                                         // I_KL of the base model: the prior of the first domain
    const out = join(work, 'das-accum');
    await posttrain({ ...hyper, model: w.model, corpus, out, method: 'das', importance: [klDir(ctx)], gradAccum: 2, seed, dropout: false, backend: be, quiet: true });

    // the reference, by hand: the batch of step 0 for 4 chunks, one backward pass, soft mask and AdamW once
    const ck = await loadCheckpoint(w.model, be);
    if (E.isLeft(ck)) throw ck.left;
    const { cfg } = ck.right;
    const { classifier: _none, ...params } = ck.right.params;
    const tok = await loadTokenizer(w.model);
    if (E.isLeft(tok)) throw tok.left;
    const chunks = domainChunks(corpus, tok.right, seqLen);
    const hb = mlmCollate(new BatchStream(chunks.length, 4, seed).indicesAt(0).map((i) => chunks[i]), tok.right, cfg.vocabSize, stepKey(seed, 0)).batch;
    const onDevice = (b: typeof hb) => ({
      corrupted: toDevice(cfg, b, be), original: toDevice(cfg, { B: b.B, T: b.T, ids: b.originalIds, attention: b.attention }, be), targets: mlmTargets(b, be),
    });
    const whole = onDevice(hb), halves = [onDevice(sliceRows(hb, 0, 2)), onDevice(sliceRows(hb, 2, 4))];
    const d = await das.domain({ cfg, backend: be, priors: [klDir(ctx)], hyper: { ...hyper, seed, dropout: false } });
    const lr = linearSchedule(hyper.lr, 1, warmupFor(1, 0.1))(0);
    const update = (lossOf: (p: Params) => ReturnType<typeof add>) => {
      const [, g] = valueAndGrad((a: { params: Params }) => lossOf(a.params), ['params'])({ params });
      const tx = chain(...(d.before ?? []), adamw<Params>({ ...posttrainAdamw, lr }));
      const [next] = applyGradients(tx, params, g.params, [...(d.before ?? []).map(() => emptyState), adamwInit(params)] as never);
      return next;
    };
    const reference = update((p) => {
      const cki = halves.map((b) => d.loss(p, b, undefined)[1].contrast);
      return add(mlmLoss(cfg, p, whole.corrupted, whole.targets), scalarOp('mul', add(cki[0], cki[1]), lambda / 2));
    });
    const acrossBatch = update((p) => d.loss(p, whole, undefined)[0]);   // negatives from all 4 chunks: not what accumulation computes
    const got = await load(join(out, 'model'));
    expect(await maxDiff(got, reference)).toBeLessThan(1e-6);
    expect(await maxDiff(got, acrossBatch)).toBeGreaterThan(1e-5);
    expect(await maxDiff(got, params)).toBeGreaterThan(5e-4);
    // the logged loss and parts are the whole step's: MLM over all labelled tokens, the mean of the micro-batches' contrastive losses
    const log = losses(out)[0];
    const mlm0 = (await read(mlmLoss(cfg, params, whole.corrupted, whole.targets)))[0];
    const cki0 = await Promise.all(halves.map(async (b) => (await read(d.loss(params, b, undefined)[1].contrast))[0]));
    expect(log.mlm).toBeCloseTo(mlm0, 5);
    expect(log.contrast).toBeCloseTo((cki0[0] + cki0[1]) / 2, 5);
    expect(log.loss).toBeCloseTo(mlm0 + lambda * (cki0[0] + cki0[1]) / 2, 5);
    d.release();
    release(params, got, reference, acrossBatch, whole, halves);
  });
});
