// KD, EWC and DER++ as method records: each mechanism against values computed by hand on tiny inputs
// (the distillation KL, the EWC penalty, the Fisher of one example, the running mean, reservoir
// sampling, the buffer's bytes, the replay MSE), then each record post-trained over two domains of
// the tiny world, the second reading what the first wrote.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../src/autodiff/grad.js';
import { derpp } from '../../src/continual/baselines/derpp.js';
import { ewc } from '../../src/continual/baselines/ewc.js';
import { ewcPenalty, fisherOf, mergeFisher, writeFisher } from '../../src/continual/baselines/fisher.js';
import { trainable } from '../../src/continual/baselines/frozen.js';
import { distillKl, kd } from '../../src/continual/baselines/kd.js';
import { hiddenMse, readReplay, replayDraw, reservoir, writeReplay } from '../../src/continual/baselines/replay.js';
import { continual, domainDir } from '../../src/continual/common.js';
import type { DomainBatch, DomainEnv, Method, SeedContext } from '../../src/continual/method.js';
import { posttrain } from '../../src/continual/posttrain.js';
import { domainChunks, mlmCollate, stepKey } from '../../src/data/mlm-data.js';
import { E } from '../../src/fp.js';
import { loadCheckpoint } from '../../src/io/hf-roberta.js';
import { type Tokenizer, loadTokenizer } from '../../src/io/tokenizer/index.js';
import type { RobertaConfig } from '../../src/nn/config.js';
import { labelledLogits, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import type { Params } from '../../src/nn/params.js';
import { encode } from '../../src/nn/roberta.js';
import { add, scalarOp } from '../../src/ops/binary.js';
import { foldIn, key, randomNormal } from '../../src/ops/random.js';
import { release, tidy } from '../../src/tensor/scope.js';
import { type Tensor, fromArray, read, readScalar, toArray } from '../../src/tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../../src/tensor/tree.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const backend = cpuBackend;
const work = mkdtempSync(join(tmpdir(), 'das-baselines-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld, cfg: RobertaConfig, base: Params, tok: Tokenizer, farm: string, sea: string, chunks: Int32Array[];
beforeAll(async () => {
  w = await makeTinyWorld(work);
  const ck = await loadCheckpoint(w.model, backend);
  const t = await loadTokenizer(w.model);
  if (E.isLeft(ck) || E.isLeft(t)) throw new Error('tiny world unreadable');
  ({ cfg } = ck.right);
  base = trainable(ck.right.params);
  tok = t.right;
  farm = join(w.dir, 'farm/train.txt');
  sea = join(w.dir, 'sea/train.txt');
  chunks = domainChunks(farm, tok, 32);
});
afterAll(() => release(base));

const envOf = (priors: string[], options: Record<string, number> = {}): DomainEnv => ({
  cfg, backend, priors, hyper: { steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 5, dropout: false, options },
});
/** A domain batch of 4 chunks of the farm corpus, masked as step `step` would be. */
function batchOf(step = 0, from = 0): DomainBatch {
  const hb = mlmCollate(chunks.slice(from, from + 4), tok, cfg.vocabSize, stepKey(5, step)).batch;
  return {
    corrupted: toDevice(cfg, hb, backend), original: toDevice(cfg, { B: hb.B, T: hb.T, ids: hb.originalIds, attention: hb.attention }, backend),
    targets: mlmTargets(hb, backend), step,
  };
}
/** The record's loss parts on (params, batch), without dropout, as numbers. */
async function partsOf(m: Method, env: DomainEnv, params: Params, b: DomainBatch): Promise<Record<string, number>> {
  const d = await m.domain(env);
  try {
    const [loss, parts] = d.loss(params, b, undefined);
    const out: Record<string, number> = { loss: await readScalar(loss) };
    for (const [k, v] of Object.entries(parts)) out[k] = await readScalar(v);
    release(loss, parts);
    return out;
  } finally {
    d.release();
  }
}
/** Every weight × (1 + 0.1·noise): a student (or θ) away from the base model. */
const perturbed = (p: Params, seed = 9): Params => tidy(() => {
  let n = 0;
  return treeMap(p, (t) => add(t, scalarOp('mul', randomNormal(foldIn(key(seed), n++), [...t.shape], { backend }), 0.05)));
});
const softmaxRow = (x: number[], tau: number) => {
  const m = Math.max(...x.map((v) => v / tau));
  const e = x.map((v) => Math.exp(v / tau - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
/** τ²·mean over rows of KL(softmax(t/τ) ‖ softmax(s/τ)), in doubles. */
const klByHand = (s: number[][], t: number[][], tau: number) =>
  (tau * tau * s.reduce((acc, row, i) => {
    const ps = softmaxRow(row, tau), pt = softmaxRow(t[i], tau);
    return acc + pt.reduce((a, p, j) => a + p * Math.log(p / ps[j]), 0);
  }, 0)) / s.length;
const rows = async (x: Tensor): Promise<number[][]> => {
  const v = await toArray(x), V = x.shape[1];
  return Array.from({ length: x.shape[0] }, (_, i) => v.slice(i * V, (i + 1) * V));
};

describe('kd', () => {
  it('distillKl is τ²·KL(teacher ‖ student) averaged over positions, with gradient τ(p_S − p_T)/M and none to the teacher', async () => {
    const s = [[1, 2, 0.5], [0, -1, 3]], t = [[0.5, 0.5, 2], [1, 0, 0]];
    for (const tau of [1, 2]) {
      const S = fromArray(s.flat(), [2, 3], { backend }), Tt = fromArray(t.flat(), [2, 3], { backend });
      const [v, g] = valueAndGrad((a: { s: Tensor; t: Tensor }) => distillKl(a.s, a.t, tau), ['s', 't'])({ s: S, t: Tt });
      expect(await readScalar(v)).toBeCloseTo(klByHand(s, t, tau), 6);
      const want = s.flatMap((row, i) => { const ps = softmaxRow(row, tau), pt = softmaxRow(t[i], tau); return ps.map((p, j) => (tau * (p - pt[j])) / 2); });
      (await toArray(g.s)).forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
      expect(await toArray(g.t)).toEqual([0, 0, 0, 0, 0, 0]);
      release(S, Tt, v, g);
    }
  });

  it("the record's kd part is 0 for the teacher itself, the hand-computed KL for another student, and scales with kd-weight", async () => {
    const b = batchOf();
    const same = await partsOf(kd, envOf([w.model]), base, b);
    expect(same.kd).toBe(0);
    expect(same.mlm).toBeCloseTo(await readScalar(mlmLoss(cfg, base, b.corrupted, b.targets)), 6);
    const student = perturbed(base);
    const tau = 2;
    const [sl, tl] = [student, base].map((p) => labelledLogits(cfg, p, encode(cfg, p, b.corrupted), b.targets));
    const want = klByHand(await rows(sl), await rows(tl), tau);
    const one = await partsOf(kd, envOf([w.model], { 'kd-temperature': tau }), student, b);
    expect(one.kd).toBeGreaterThan(0);
    expect(one.kd).toBeCloseTo(want, 5);
    const three = await partsOf(kd, envOf([w.model], { 'kd-temperature': tau, 'kd-weight': 3 }), student, b);
    expect(three.kd / one.kd).toBeCloseTo(3, 5);
    expect(three.loss).toBeCloseTo(three.mlm + three.kd, 5);
    release(student, sl, tl, b);
  });
});

describe('ewc', () => {
  it('the penalty is Σ F (θ − θ*)² over the Fisher\'s leaves, matched by path', async () => {
    const f = (v: number[], s = [v.length]) => fromArray(v, s, { backend });
    const params = { a: f([1, 2]), b: { c: f([3], [1, 1]) }, extra: f([100]) };
    const star = { a: f([0, 0]), b: { c: f([1], [1, 1]) } };
    const fisher = { a: f([0.5, 2]), b: { c: f([0.25], [1, 1]) } };
    expect(await readScalar(ewcPenalty(params, star, fisher))).toBeCloseTo(0.5 * 1 + 2 * 4 + 0.25 * 4, 6);
    expect(() => ewcPenalty({ a: params.a }, star, fisher)).toThrow(/b\.c/);
    release(params, star, fisher);
  });

  it("the record's ewc part is λ·Σ F (θ − θ*)² on the tiny model, θ* the start model and F read from a Fisher directory", async () => {
    // F = |normal| per weight
    const F = tidy(() => { let n = 0; return treeMap(base, (t) => randomNormal(foldIn(key(3), n++), [...t.shape], { backend })); });
    const Fhost = new Map<string, Float32Array>();
    for (const [p, t] of treeLeavesWithPaths(F)) Fhost.set(p, Float32Array.from(await read(t), Math.abs));
    release(F);
    const Fpos = treeMap(base, (t, p) => fromArray(Fhost.get(p)!, [...t.shape], { backend }));
    const dir = join(work, 'ewc-unit-fisher');
    await writeFisher(dir, Fpos, { domains: 1 });
    release(Fpos);
    const theta = perturbed(base, 11);
    let want = 0;
    const starLeaves = new Map(treeLeavesWithPaths(base));
    for (const [p, t] of treeLeavesWithPaths(theta)) {
      const x = await read(t), x0 = await read(starLeaves.get(p)!), fi = Fhost.get(p)!;
      for (let i = 0; i < x.length; i++) want += fi[i] * (x[i] - x0[i]) ** 2;
    }
    const b = batchOf();
    const parts = await partsOf(ewc, envOf([w.model, dir], { 'ewc-lambda': 7 }), theta, b);
    expect(parts.ewc / (7 * want)).toBeCloseTo(1, 4);
    expect(parts.loss).toBeCloseTo(parts.mlm + parts.ewc, 4);
    expect((await partsOf(ewc, envOf([w.model, dir]), base, b)).ewc).toBe(0);   // θ = θ*
    expect((await partsOf(ewc, envOf([]), theta, b)).ewc).toBe(0);              // domain 0: no prior
    release(theta, b);
  });

  it("the Fisher of one example is its squared gradient; of two, the mean", async () => {
    const k = key(42);
    const sq = (i: number, c: Int32Array) => {
      const hb = mlmCollate([c], tok, cfg.vocabSize, foldIn(k, i)).batch;
      const [, g] = valueAndGrad((a: { params: Params }) => mlmLoss(cfg, a.params, toDevice(cfg, hb, backend), mlmTargets(hb, backend)), ['params'])({ params: base });
      return g.params;
    };
    const one = fisherOf(cfg, base, [chunks[0]], tok, k);
    expect(one.examples).toBe(1);
    const g0 = sq(0, chunks[0]), g1 = sq(1, chunks[1]);
    const g0m = new Map(treeLeavesWithPaths(g0)), g1m = new Map(treeLeavesWithPaths(g1));
    for (const [p, t] of treeLeavesWithPaths(one.fisher)) {
      const want = Array.from(await read(g0m.get(p)!), (x) => x * x);
      expect(Array.from(await read(t)), p).toEqual(want.map((x) => Math.fround(x)));
    }
    const two = fisherOf(cfg, base, [chunks[0], chunks[1]], tok, k);
    for (const [p, t] of treeLeavesWithPaths(two.fisher)) {
      const a = await read(g0m.get(p)!), b = await read(g1m.get(p)!), got = await read(t);
      for (let i = 0; i < got.length; i += 7) { const want = (a[i] ** 2 + b[i] ** 2) / 2; expect(Math.abs(got[i] - want), p).toBeLessThanOrEqual(1e-6 * want); }
    }
    release(one.fisher, two.fisher, g0, g1);
  });

  it('merging is the running mean over domains', async () => {
    const prev = { a: fromArray([2, 4], [2], { backend }) }, cur = { a: fromArray([5, 1], [2], { backend }) };
    const m = mergeFisher(prev, 2, cur);   // prev: the mean of 2 domains
    expect(await toArray(m.a)).toEqual([3, 3]);
    release(prev, cur, m);
  });
});

describe('derpp', () => {
  it('reservoir sampling keeps min(n, size) entries, each with probability size/n, deterministically and across calls', () => {
    const k = key(1);
    const items = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    expect(reservoir([], 0, items(0, 3), 5, k)).toEqual([0, 1, 2]);
    const all = reservoir([], 0, items(0, 12), 5, k);
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
    expect(reservoir([], 0, items(0, 12), 5, k)).toEqual(all);
    expect(reservoir(reservoir([], 0, items(0, 7), 5, k), 7, items(7, 5), 5, k)).toEqual(all);   // domain boundaries do not matter
    expect(() => reservoir([1], 3, [4], 5, k)).toThrow(/sample/);
    const N = 20, size = 5, runs = 3000, counts = new Array<number>(N).fill(0);
    for (let r = 0; r < runs; r++) for (const x of reservoir([], 0, items(0, N), size, key(1000 + r))) counts[x]++;
    for (const c of counts) expect(Math.abs(c / runs - size / N)).toBeLessThan(0.04);
  });

  it('a replay draw is min(count, n) distinct entries, fixed by its key', () => {
    const d = replayDraw(10, 4, key(2));
    expect(d).toHaveLength(4);
    expect(new Set(d).size).toBe(4);
    expect(replayDraw(10, 4, key(2))).toEqual(d);
    expect(replayDraw(3, 4, key(2)).sort()).toEqual([0, 1, 2]);
  });

  it('hiddenMse is the mean squared difference over the elements of real tokens', async () => {
    const z = fromArray([1, 2, 3, 4], [1, 2, 2], { backend }), s = fromArray([0, 0, 100, 100], [1, 2, 2], { backend }), m = fromArray([1, 0], [1, 2], { backend });
    expect(await readScalar(hiddenMse(z, s, m, 1))).toBeCloseTo((1 + 4) / 2, 6);
    release(z, s, m);
  });

  it('afterDomain writes a buffer that survives a reload byte for byte; replaying it under the model that wrote it gives MSE 0', async () => {
    const out = join(work, 'derpp-unit');
    const hyper = { ...envOf([], { 'replay-size': 6 }).hyper, importanceSubset: 4, importanceBatchSize: 4 };
    const did = await derpp.afterDomain!({ model: w.model, out, corpus: farm, backend, hyper, priors: [], log: () => {} });
    expect(did).toBe(true);
    const dir = join(out, 'replay');
    const b = await readReplay(dir);
    expect(b).toMatchObject({ size: 6, seen: chunks.length, domains: 1, seqLen: 32, width: cfg.width, specials: tok.specials });
    expect(b.ids).toHaveLength(6 * 32);
    await writeReplay(join(work, 'derpp-copy'), b);
    expect(Buffer.compare(readFileSync(join(dir, 'buffer.safetensors')), readFileSync(join(work, 'derpp-copy/buffer.safetensors')))).toBe(0);
    for (let s = 0; s < 6; s++) expect(Array.from(b.ids.subarray(s * 32, (s + 1) * 32))).toEqual(Array.from(chunks[b.origin[2 * s + 1]]));
    const parts = await partsOf(derpp, envOf([dir]), base, batchOf());
    expect(parts.logits).toBeLessThan(1e-12);
    expect(parts.replay).toBeGreaterThan(0);
    expect(parts.loss).toBeCloseTo(parts.mlm + parts.replay + parts.logits, 5);
    const other = perturbed(base);
    expect((await partsOf(derpp, envOf([dir]), other, batchOf())).logits).toBeGreaterThan(0);
    release(other);
  });
});

describe('gradient accumulation', () => {
  const losses = async (m: Method, out: string, importance: string[], accum: number, options: Record<string, number> = {}) => {
    await posttrain({
      model: w.model, corpus: farm, out, method: m, importance, steps: 2, batchSize: 4 / accum, gradAccum: accum, seqLen: 32, lr: 1e-2, seed: 5, dropout: false, options, backend, quiet: true,
    });
    return readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  };

  it('kd and ewc: two micro-batches of 2 give the loss and parts of one batch of 4', async () => {
    const fisherDir = join(work, 'accum-fisher');
    const f = fisherOf(cfg, base, chunks.slice(0, 2), tok, key(1));
    await writeFisher(fisherDir, f.fisher, { domains: 1 });
    release(f.fisher);
    for (const [m, priors, part] of [[kd, [w.model], 'kd'], [ewc, [w.model, fisherDir], 'ewc']] as const) {
      const whole = await losses(m, join(work, `accum-${m.name}-1`), [...priors], 1), split = await losses(m, join(work, `accum-${m.name}-2`), [...priors], 2);
      for (const s of [0, 1]) for (const k of ['loss', 'mlm', part]) expect(split[s][k], `${m.name} step ${s + 1} ${k}`).toBeCloseTo(whole[s][k], 4);
      expect(whole[1][part]).toBeGreaterThan(0);
    }
  });

  it('derpp draws a replay mini-batch per micro-batch', async () => {
    const out = join(work, 'accum-derpp-buffer');
    await derpp.afterDomain!({ model: w.model, out, corpus: farm, backend, hyper: { ...envOf([], { 'replay-size': 8 }).hyper, importanceSubset: 4, importanceBatchSize: 4 }, priors: [], log: () => {} });
    const log = await losses(derpp, join(work, 'accum-derpp'), [join(out, 'replay')], 2, { 'replay-size': 8 });
    expect(log.every((x) => x.replay > 0 && Number.isFinite(x.loss))).toBe(true);
  });
});

describe('two domains of each record', () => {
  const run = async (m: Method, options: Record<string, number> = {}) => {
    const ctx = { base: w.model, dir: join(work, `run-${m.name}`), domains: [{ name: 'farm', train: farm }, { name: 'sea', train: sea }] } as unknown as SeedContext;
    const logs: Record<string, number>[][] = [];
    for (const t of [0, 1]) {
      const r = await posttrain({
        model: await m.startsFrom(ctx, t), corpus: ctx.domains[t].train, out: domainDir(ctx, t), method: m, importance: m.priors?.(ctx, t),
        steps: 2, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 5, importanceSubset: 5, options, backend, quiet: true,
      });
      expect(r).toMatchObject({ trained: true, stoppedOnNaN: false });
      logs.push(readFileSync(join(domainDir(ctx, t), 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>));
    }
    return { ctx, logs };
  };

  it('kd distils from the model the domain starts from', async () => {
    const { ctx, logs } = await run(kd);
    expect(kd.priors!(ctx, 1)).toEqual([continual(ctx, 1)]);
    for (const log of logs) {
      expect(log.map((x) => Object.keys(x))).toEqual(Array(2).fill(['step', 'loss', 'mlm', 'kd', 'lr', 'seconds']));
      expect(log[1].kd).toBeGreaterThan(0);
    }
    expect(JSON.parse(readFileSync(join(domainDir(ctx, 1), 'settings.json'), 'utf8'))).toMatchObject({ method: 'kd', importance: [join(domainDir(ctx, 0), 'model')], options: { 'kd-weight': 1, 'kd-temperature': 1 } });
  });

  it('ewc writes the running-mean Fisher after each domain and penalises the second', async () => {
    const { ctx, logs } = await run(ewc, { 'ewc-lambda': 100 });
    const meta = (t: number) => JSON.parse(readFileSync(join(domainDir(ctx, t), 'fisher/fisher.json'), 'utf8'));
    expect(meta(0)).toMatchObject({ domains: 1, examples: 5, previous: null });
    expect(meta(1)).toMatchObject({ domains: 2, examples: 5, previous: join(domainDir(ctx, 0), 'fisher') });
    expect(logs[0].map((x) => x.ewc)).toEqual([0, 0]);
    expect(logs[1][0].ewc).toBe(0);                      // θ = θ* at the first step
    expect(logs[1][1].ewc).toBeGreaterThan(0);
  });

  it('derpp continues the reservoir over both domains and replays the first in the second', async () => {
    const { ctx, logs } = await run(derpp, { 'replay-size': 8 });
    const seaChunks = domainChunks(sea, tok, 32).length;
    const b0 = await readReplay(join(domainDir(ctx, 0), 'replay')), b1 = await readReplay(join(domainDir(ctx, 1), 'replay'));
    expect(b0).toMatchObject({ seen: chunks.length, domains: 1 });
    expect(b1).toMatchObject({ seen: chunks.length + seaChunks, domains: 2 });
    expect(b1.ids).toHaveLength(8 * 32);
    expect(logs[0].map((x) => [x.replay, x.logits])).toEqual([[0, 0], [0, 0]]);
    for (const x of logs[1]) expect(x.replay).toBeGreaterThan(0);
    expect(logs[1][1].logits).toBeGreaterThan(0);
    // entries kept from domain 0 keep the hidden states they were stored with
    for (let s = 0; s < 8; s++) {
      if (b1.origin[2 * s] !== 0) continue;
      const c = b1.origin[2 * s + 1], s0 = Array.from({ length: 8 }, (_, i) => i).find((i) => b0.origin[2 * i + 1] === c)!;
      expect(Array.from(b1.hidden.subarray(s * 32 * cfg.width, (s + 1) * 32 * cfg.width))).toEqual(Array.from(b0.hidden.subarray(s0 * 32 * cfg.width, (s0 + 1) * 32 * cfg.width)));
    }
  });
});
