// HAT (hard attention to the task) on adapters: its maths on hand-computed tiny tensors (CPU), and the
// record end to end on the tiny world: units an earlier domain uses keep their adapter weights byte for
// byte through a later domain, and the LM's own weights never move.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../src/autodiff/grad.js';
import { cpu } from '../../src/backend/cpu.js';
import { HAT_MASK_FILE, hat, hatMaskDir, hatStartDir, hatTaskModel, readHatMasks } from '../../src/continual/baselines/hat.js';
import { domainDir, modelOf } from '../../src/continual/common.js';
import type { SeedContext } from '../../src/continual/method.js';
import { posttrain } from '../../src/continual/posttrain.js';
import { type RunOptions, runSequence } from '../../src/continual/run.js';
import type { RunResults } from '../../src/eval/report.js';
import { E } from '../../src/fp.js';
import { loadCheckpoint, paramsToHf, saveCheckpoint } from '../../src/io/hf-roberta.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { trainBpe } from '../../src/io/tokenizer/index.js';
import { parseConfig } from '../../src/nn/config.js';
import { initParams } from '../../src/nn/params.js';
import { tokenizerFiles } from '../../src/train/checkpointing.js';
import { IGNORE, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { chain } from '../../src/optim/transform.js';
import { counters } from '../../src/tensor/tensor.js';
import { treeLeavesWithPaths } from '../../src/tensor/tree.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';
import {
  annealedScale, bakeMask, blockAdapterGradients, clampLeaf, compensated, compensationFactor, cumulativeMask, hardMask, layerMasks, sparsity, taskMask,
} from '../../src/continual/baselines/hat-mask.js';
import type { Adapter, Params } from '../../src/nn/params.js';
import { adapter } from '../../src/nn/roberta.js';
import { mul } from '../../src/ops/binary.js';
import { foldIn, randomNormal, key } from '../../src/ops/random.js';
import { sum } from '../../src/ops/reduce.js';
import { release } from '../../src/tensor/scope.js';
import { type Tensor, fromArray, read } from '../../src/tensor/tensor.js';
import { backends, cpuBackend } from '../support/devices.js';

const be = { backend: cpuBackend };
const t = (v: number[], shape?: number[]) => fromArray(v, shape ?? [v.length], be);
const vals = async (x: Tensor) => Array.from(await read(x));
const close = (a: number[], b: number[], digits = 5) => { expect(a.length).toBe(b.length); a.forEach((x, i) => expect(x, `[${i}]`).toBeCloseTo(b[i], digits)); };
const sig = (x: number) => 1 / (1 + Math.exp(-x));

describe('HAT maths', () => {
  it('the mask scale anneals linearly from 1/s_max (first step) to s_max (last step)', () => {
    expect(annealedScale(0, 5, 400)).toBe(1 / 400);
    expect(annealedScale(4, 5, 400)).toBe(400);
    expect(annealedScale(2, 5, 400)).toBeCloseTo(0.0025 + (400 - 0.0025) / 2, 10);
    expect(annealedScale(1, 5, 400)).toBeCloseTo(0.0025 + (400 - 0.0025) / 4, 10);
    expect(annealedScale(0, 1, 400)).toBe(400);
    expect(() => annealedScale(5, 5, 400)).toThrow(/not one of 5 steps/);
    expect(() => annealedScale(0, 5, 0)).toThrow(/s_max/);
  });

  it('masks are sigmoid(s·e); the hard mask uses s_max; layer masks are the [L, 2, r] rows', async () => {
    close(await vals(taskMask(t([0, 1, -2]), 2)), [0.5, sig(2), sig(-4)]);
    // at the first step every unit is half open whatever e is; at s_max they are 0 or 1
    close(await vals(taskMask(t([3, -3]), 1 / 400)), [sig(3 / 400), sig(-3 / 400)]);
    expect(await vals(hardMask(t([0.1, -0.1, 0.5]), 400))).toEqual([1, Math.fround(sig(-40)), 1]);
    const lm = layerMasks(t([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]));
    expect(lm).toHaveLength(2);
    expect(await vals(lm[0].attn)).toEqual([1, 2, 3]);
    expect(await vals(lm[0].ffn)).toEqual([4, 5, 6]);
    expect(await vals(lm[1].attn)).toEqual([7, 8, 9]);
    expect(lm[1].ffn.shape).toEqual([3]);
    expect(() => layerMasks(t([1, 2, 3], [1, 3, 1]))).toThrow(/\[L, 2, r\]/);
    expect(Array.from(cumulativeMask(Float32Array.of(1, 0, 0.25), Float32Array.of(0, 0.5, 1)))).toEqual([1, 0.5, 1]);
  });

  it('the sparsity regulariser: Σ m(1 − prev) / Σ (1 − prev), the mean of m on the first domain, 0 when every unit is taken', async () => {
    // free = [0, 1, 0.5, 1]: (0·0.5 + 1·1 + 0.5·0.25 + 1·0) / 2.5 = 1.125 / 2.5
    close(await vals(sparsity(t([0.5, 1, 0.25, 0]), t([1, 0, 0.5, 0]))), [0.45]);
    close(await vals(sparsity(t([0.5, 1, 0.25, 0]), t([0, 0, 0, 0]))), [1.75 / 4]);
    expect(await vals(sparsity(t([0.5, 1]), t([1, 1])))).toEqual([0]);
  });

  it('compensation: the gradient of e times s_max (cosh(clamp(s e, ±50)) + 1) / (s (cosh e + 1)); the value is e bit for bit', async () => {
    const e = [0, 1, -0.5, 0.3];
    const want = (s: number, smax: number) => e.map((x) => (smax / s) * (Math.cosh(Math.max(-50, Math.min(50, s * x))) + 1) / (Math.cosh(x) + 1));
    close(await vals(compensationFactor(t(e), 2, 400)), want(2, 400), 3);
    expect((await vals(compensationFactor(t(e), 2, 400)))[0]).toBe(200);   // e = 0: s_max/s
    // s·e beyond ±50 is clamped: e = 1, s = 100 → 4 (cosh 50 + 1) / (cosh 1 + 1)
    const big = await vals(compensationFactor(t([1]), 100, 400));
    expect(big[0] / (4 * (Math.cosh(50) + 1) / (Math.cosh(1) + 1))).toBeCloseTo(1, 5);
    // through the loss: value of Σ w·ẽ is Σ w·e exactly; its gradient is w · factor
    const w = [1, -2, 0.5, 3];
    const [v, g] = valueAndGrad(({ e: x }: { e: Tensor }) => sum(mul(compensated(x, 2, 400), t(w))), ['e'])({ e: t(e) });
    expect(await vals(v)).toEqual(await vals(sum(mul(t(e), t(w)))));
    close(await vals(g.e), want(2, 400).map((f, i) => f * w[i]), 2);
  });

  it('blocking zeroes exactly the gradients of units earlier domains use and passes free ones (and the LM) unchanged', async () => {
    const D = 3, r = 2;
    const ones = (shape: number[]) => fromArray(new Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape, be);
    const ad = (): Adapter => ({ down: { weight: ones([r, D]), bias: ones([r]) }, up: { weight: ones([D, r]), bias: ones([D]) } });
    const grads = { embeddings: { word: ones([4, D]) }, layers: [{ query: { weight: ones([D, D]), bias: ones([D]) }, adapter: { attn: ad(), ffn: ad() } }] } as unknown as Params;
    // attn: unit 0 used, unit 1 free; ffn: unit 0 a quarter used, unit 1 used
    const prev = Float32Array.of(1, 0, 0.25, 1);
    const later = blockAdapterGradients(prev, 1, r, cpuBackend, { upBias: true });
    const [u] = later.tx.update(grads, {}, grads);
    const a = u.layers[0].adapter!;
    expect(await vals(a.attn.down.weight)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(await vals(a.attn.down.bias)).toEqual([0, 1]);
    expect(await vals(a.attn.up.weight)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(await vals(a.ffn.down.weight)).toEqual([0.75, 0.75, 0.75, 0, 0, 0]);
    expect(await vals(a.ffn.down.bias)).toEqual([0.75, 0]);
    expect(await vals(a.ffn.up.weight)).toEqual([0.75, 0, 0.75, 0, 0.75, 0]);
    expect(await vals(a.attn.up.bias)).toEqual([0, 0, 0]);            // unmasked: used by every earlier domain
    expect(await vals(u.embeddings.word)).toEqual(new Array(12).fill(1));
    expect(await vals(u.layers[0].query.weight)).toEqual(new Array(9).fill(1));
    const first = blockAdapterGradients(new Float32Array(4), 1, r, cpuBackend, { upBias: false });
    const [u0] = first.tx.update(grads, {}, grads);
    for (const leaf of [u0.layers[0].adapter!.attn.down.weight, u0.layers[0].adapter!.ffn.up.weight, u0.layers[0].adapter!.ffn.up.bias]) expect((await vals(leaf)).every((x) => x === 1)).toBe(true);
    expect(() => blockAdapterGradients(prev, 2, r, cpuBackend, { upBias: true })).toThrow(/4 mask values for 2 layers/);
    later.release(); first.release();
  });

  it("clampLeaf makes the step leave one leaf in [lo, hi] and passes the others' updates", async () => {
    const p = { extra: { hat: t([5, -5.5, 1, 7]) }, w: t([5, 5]) };
    const u = { extra: { hat: t([2, -1, 0.5, 0]) }, w: t([3, 3]) };
    const [v] = clampLeaf<typeof p>('extra.hat', -6, 6).update(u, {}, p);
    expect(await vals(v.extra.hat)).toEqual([1, -0.5, 0.5, -1]);
    expect(await vals(v.w)).toEqual([3, 3]);
    expect(() => clampLeaf<typeof p>('extra.nope', -6, 6).update(u, {}, p)).toThrow(/no leaf extra.nope/);
  });

  it("baking a mask into up.weight's columns gives the masked adapter's output", async () => {
    const D = 4, r = 3;
    const a: Adapter = {
      down: { weight: randomNormal(key(1), [r, D], be), bias: randomNormal(key(2), [r], be) },
      up: { weight: randomNormal(key(3), [D, r], be), bias: randomNormal(key(4), [D], be) },
    };
    const x = randomNormal(key(5), [2, 5, D], be);
    for (const m of [[1, 0, 1], [0.3, 1, 0], [1, 1, 1]]) {
      const baked = bakeMask(a, t(m));
      close(await vals(adapter(x, baked, undefined, false)), await vals(adapter(x, a, t(m), false)), 5);
      close(await vals(adapter(x, baked)), await vals(adapter(x, a, t(m))), 5);
      expect(baked.down).toBe(a.down);
      expect(baked.up.bias).toBe(a.up.bias);
    }
    expect(() => bakeMask(a, t([1, 0]))).toThrow(/must be \[3\]/);
    release(a, x);
  });
});

// ---- the record end to end ---------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'das-hat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
/** A tiny model wide enough for several adapter units: width 64 → r = 4, two layers → 16 units. */
let wide: string;
beforeAll(async () => {
  w = await makeTinyWorld(work, { trainExamples: 16, testExamples: 8 });
  wide = join(work, 'wide');
  const text = ['farm', 'sea'].flatMap((d) => readFileSync(join(work, d, 'train.txt'), 'utf8').trim().split('\n'));
  const tok = trainBpe([...text, 'apple zebra north south'], { vocabSize: 320, minFrequency: 1 });
  const c = parseConfig({
    model_type: 'roberta', vocab_size: tok.vocabSize, hidden_size: 64, num_attention_heads: 2, num_hidden_layers: 2, intermediate_size: 64,
    max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
  });
  if (E.isLeft(c)) throw c.left;
  const params = initParams(c.right, key(11), cpu(), { mlm: true });
  await saveCheckpoint(wide, c.right, params, tokenizerFiles(tok));
  release(params);
});

const tensors = async (file: string) => {
  const r = await readSafetensors(file);
  if (E.isLeft(r)) throw r.left;
  return r.right.tensors;
};
const bytes = (x: { data: ArrayBufferView }) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength);
const same = (a: { data: ArrayBufferView }, b: { data: ArrayBufferView }) => Buffer.compare(bytes(a), bytes(b)) === 0;
const ctxFor = (dir: string, base: string): SeedContext => ({
  base, domains: [{ name: 'farm', train: join(w.dir, 'farm/train.txt') }, { name: 'sea', train: join(w.dir, 'sea/train.txt') }] as SeedContext['domains'],
  seed: 3, dir: join(work, dir), backend: cpuBackend, counters: { posttrain: 0, importance: 0, finetune: 0 }, quiet: true, log: () => {},
  hyper: { steps: 4, batchSize: 4, seqLen: 32, lr: 1e-2, importanceSubset: 8, importanceBatchSize: 4 },
});
/** Post-trains domain t of ctx as `das run` does (start, priors, the method's settings). */
const domain = async (ctx: SeedContext, t: number) => posttrain({
  ...ctx.hyper, model: await hat.startsFrom(ctx, t), corpus: ctx.domains[t].train, out: domainDir(ctx, t), method: hat, importance: hat.priors!(ctx, t),
  seed: ctx.seed, saveEvery: 2, backend: cpuBackend, quiet: true,
});
const adapterName = (l: number, k: number, part: string) => `roberta.encoder.layer.${l}.adapter.${k === 0 ? 'attention' : 'output'}.${part}`;

describe('hat', () => {
  it('two domains: units domain 0 uses keep their adapter weights byte for byte, free ones train, the LM never moves', async () => {
    const ctx = ctxFor('chain', wide);
    const r0 = await domain(ctx, 0);
    expect(r0).toMatchObject({ method: 'hat', trained: true, importanceComputed: true, importance: hatMaskDir(domainDir(ctx, 0)) });
    const start = await tensors(join(hatStartDir(ctx), 'model.safetensors'));
    const e0 = start.get('das.extra.hat')!;
    expect(e0.shape).toEqual([2, 2, 2, 4]);                                   // [domains, L, 2, r]
    expect(Array.from(e0.data).every((x) => Math.abs(x) <= 6)).toBe(true);
    expect(Array.from(start.get(adapterName(0, 0, 'up.weight'))!.data).every((x) => x === 0)).toBe(true);   // identity at the start
    const m0 = await readHatMasks(hatMaskDir(domainDir(ctx, 0)));
    expect(m0).toMatchObject({ domain: 0, smax: 400, shape: [2, 2, 4] });
    expect(Array.from(m0.seen)).toEqual(Array.from(m0.task));
    const log = readFileSync(join(domainDir(ctx, 0), 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(log.map((x) => Object.keys(x))).toEqual(Array(4).fill(['step', 'loss', 'mlm', 'reg', 'lr', 'seconds']));
    expect(log.every((x) => x.reg > 0 && x.reg < 1 && Math.abs(x.loss - x.mlm - 0.75 * x.reg) < 1e-4)).toBe(true);
    expect(hat.priors!(ctx, 1)).toEqual([hatMaskDir(domainDir(ctx, 0))]);

    const r1 = await domain(ctx, 1);
    expect(r1.trained).toBe(true);
    const m1 = await readHatMasks(hatMaskDir(domainDir(ctx, 1)));
    expect(m1.domain).toBe(1);
    expect(Array.from(m1.seen)).toEqual(Array.from(m1.task, (x, i) => Math.max(x, m0.task[i])));
    const base = await tensors(join(wide, 'model.safetensors'));
    const a0 = await tensors(join(modelOf(ctx, 0), 'model.safetensors')), a1 = await tensors(join(modelOf(ctx, 1), 'model.safetensors'));
    // the LM: every weight as in the base model, after both domains
    let lm = 0;
    for (const [k, x] of base) { expect(same(a0.get(k)!, x), k).toBe(true); expect(same(a1.get(k)!, x), k).toBe(true); lm++; }
    expect(lm).toBe(base.size);
    // per unit: used by domain 0 (hard mask 1) → down row, down bias, up column identical; free ones train
    const D = 64, r = 4;
    let used = 0, moved = 0;
    for (let l = 0; l < 2; l++) for (let k = 0; k < 2; k++) {
      const get = (m: typeof a0, part: string) => m.get(adapterName(l, k, part))!.data as Float32Array;
      const [dw0, dw1, db0, db1, uw0, uw1] = [get(a0, 'down.weight'), get(a1, 'down.weight'), get(a0, 'down.bias'), get(a1, 'down.bias'), get(a0, 'up.weight'), get(a1, 'up.weight')];
      expect(same({ data: get(a0, 'up.bias') }, { data: get(a1, 'up.bias') })).toBe(true);   // unmasked: blocked after the first domain
      for (let j = 0; j < r; j++) {
        const row = (x: Float32Array) => Array.from(x.subarray(j * D, (j + 1) * D)), col = (x: Float32Array) => Array.from({ length: D }, (_, i) => x[i * r + j]);
        const unchanged = JSON.stringify([row(dw0), db0[j], col(uw0)]) === JSON.stringify([row(dw1), db1[j], col(uw1)]);
        if (m0.task[(l * 2 + k) * r + j] === 1) { used++; expect(unchanged, `layer ${l} adapter ${k} unit ${j}`).toBe(true); }
        else if (!unchanged) moved++;
      }
    }
    expect(used).toBeGreaterThan(0);
    expect(moved).toBeGreaterThan(0);
    // domain 0's embedding is never touched again; domain 1's trains and stays within ±6
    const half = 2 * 2 * 4, h0 = a0.get('das.extra.hat')!.data as Float32Array, h1 = a1.get('das.extra.hat')!.data as Float32Array;
    expect(same({ data: h0.subarray(0, half) }, { data: h1.subarray(0, half) })).toBe(true);
    expect(same({ data: h0.subarray(half) }, { data: h1.subarray(half) })).toBe(false);
    expect(Array.from(h1).every((x) => Math.abs(x) <= 6)).toBe(true);

    // end task 0 after domain 1: domain 1's model with task 0's hard mask baked in, no embeddings
    const ft = await hat.endTaskModel!(ctx, 1, 0);
    expect(ft).toBe(hatTaskModel(ctx, 1, 0));
    const baked = await tensors(join(ft, 'model.safetensors'));
    expect([...baked.keys()].some((k) => k.startsWith('das.extra.'))).toBe(false);
    for (let l = 0; l < 2; l++) for (let k = 0; k < 2; k++) {
      const up = a1.get(adapterName(l, k, 'up.weight'))!.data as Float32Array, want = Float32Array.from(up, (x, i) => x * m0.task[(l * 2 + k) * r + (i % r)]);
      expect(Array.from(baked.get(adapterName(l, k, 'up.weight'))!.data)).toEqual(Array.from(want));
      expect(same(baked.get(adapterName(l, k, 'down.weight'))!, a1.get(adapterName(l, k, 'down.weight'))!)).toBe(true);
    }
    const again = readFileSync(join(ft, 'model.safetensors'));
    expect(await hat.endTaskModel!(ctx, 1, 0)).toBe(ft);
    expect(Buffer.compare(readFileSync(join(ft, 'model.safetensors')), again)).toBe(0);
    const ck = await loadCheckpoint(ft, cpuBackend);
    if (E.isLeft(ck)) throw ck.left;
    expect(ck.right.params.extra).toBeUndefined();
    release(ck.right.params);
    // finished domains are not redone; the masks are not rewritten
    const again1 = await domain(ctx, 1);
    expect(again1).toMatchObject({ trained: false, importanceComputed: false });
  });

  it('an interrupted domain resumes from its checkpoint (task embeddings and their AdamW moments included) to the same bytes', async () => {
    const straight = ctxFor('straight', wide), cut = ctxFor('cut', wide);
    await domain(straight, 0);
    const ac = new AbortController();
    const run = async (signal?: AbortSignal, onStep?: (step: number) => void) => posttrain({
      ...cut.hyper, model: await hat.startsFrom(cut, 0), corpus: cut.domains[0].train, out: domainDir(cut, 0), method: hat, importance: [], seed: cut.seed, saveEvery: 2,
      backend: cpuBackend, quiet: true, signal, onStep,
    });
    await expect(run(ac.signal, (step) => { if (step === 3) ac.abort(); })).rejects.toThrow();
    const opt = await tensors(join(domainDir(cut, 0), 'checkpoint', 'optimizer.safetensors'));
    expect(opt.has('m.das.extra.hat') && opt.has('v.das.extra.hat')).toBe(true);
    expect((await run()).resumedAt).toBe(2);
    expect(Buffer.compare(readFileSync(join(modelOf(cut, 0), 'model.safetensors')), readFileSync(join(modelOf(straight, 0), 'model.safetensors')))).toBe(0);
    expect(Buffer.compare(readFileSync(join(hatMaskDir(domainDir(cut, 0)), HAT_MASK_FILE)), readFileSync(join(hatMaskDir(domainDir(straight, 0)), HAT_MASK_FILE)))).toBe(0);
  });

  it('the loss, its parts and the blocked gradients agree on every backend', async () => {
    const ctx = ctxFor('agree', wide);
    await domain(ctx, 0);
    // the embeddings are a parameter: loaded as Params.extra.hat, written back under das.extra.<name> (a plain name)
    const st = await loadCheckpoint(hatStartDir(ctx), cpuBackend);
    if (E.isLeft(st)) throw st.left;
    expect(st.right.params.extra?.hat.shape).toEqual([2, 2, 2, 4]);
    expect([...(await paramsToHf(st.right.cfg, st.right.params)).keys()].filter((k) => k.startsWith('das.'))).toEqual(['das.extra.hat']);
    await expect(paramsToHf(st.right.cfg, { ...st.right.params, extra: { 'a.b': st.right.params.extra!.hat } })).rejects.toThrow(/extra parameter 'a.b'/);
    release(st.right.params);
    const B = 2, T = 8, ids = Int32Array.from({ length: B * T }, (_, i) => 5 + ((i * 37) % 200)), labels = new Int32Array(B * T).fill(IGNORE);
    [1, 4, 9, 14].forEach((i) => { labels[i] = ids[i]; });
    const results: { loss: number[]; grads: Map<string, number[]> }[] = [];
    for (const backend of backends) {
      const ck = await loadCheckpoint(modelOf(ctx, 0), backend);
      if (E.isLeft(ck)) throw ck.left;
      const { cfg, params } = ck.right;
      const d = await hat.domain({ cfg, backend, priors: hat.priors!(ctx, 1), hyper: { ...ctx.hyper, seed: 3, dropout: false } });
      const batch = { corrupted: toDevice(cfg, { B, T, ids }, backend), original: toDevice(cfg, { B, T, ids }, backend), targets: mlmTargets({ B, T, ids, labels }, backend), step: 1 };
      const [[loss, parts], g] = valueAndGrad((a: { params: Params }) => d.loss(a.params, batch, undefined), ['params'])({ params });
      const [u] = chain(...d.before!).update(g.params, [{}, {}], params);
      const grads = new Map<string, number[]>();
      for (const [path, x] of treeLeavesWithPaths(u)) if (path.includes('adapter') || path.startsWith('extra')) grads.set(path, await vals(x));
      results.push({ loss: [...(await vals(loss)), ...(await vals(parts.mlm)), ...(await vals(parts.reg))], grads });
      release(params, batch, loss, parts, g, u);
      d.release();
    }
    const [ref, ...others] = results;
    expect(ref.grads.get('extra.hat')!.slice(0, 16).every((x) => x === 0)).toBe(true);   // domain 0's row gets no gradient
    expect(ref.grads.get('extra.hat')!.slice(16).some((x) => x !== 0)).toBe(true);
    for (const o of others) {
      close(o.loss, ref.loss, 4);
      for (const [path, g] of ref.grads) {
        const scale = Math.max(1e-6, ...g.map(Math.abs));
        o.grads.get(path)!.forEach((x, i) => expect(Math.abs(x - g[i]) / scale, `${path}[${i}]`).toBeLessThan(2e-3));
      }
    }
  });

  it('without its start (adapters and task embeddings) HAT refuses to train, saying why', async () => {
    await expect(posttrain({ ...ctxFor('plain', w.model).hyper, model: w.model, corpus: join(w.dir, 'farm/train.txt'), out: join(work, 'plain'), method: hat, seed: 1, backend: cpuBackend, quiet: true }))
      .rejects.toThrow(/hat: the model has no task embeddings \(das.extra.hat\).*hat-start/);
  });

  it('das run --method hat fills the progressive matrix from the masked end-task models', async () => {
    const o: RunOptions = {
      sequence: w.sequence, model: w.model, out: join(work, 'run'), methods: ['hat'], seeds: [7],
      posttrain: { steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, saveEvery: 2, importanceSubset: 8, importanceBatchSize: 4 },
      finetune: { epochs: 2, lr: 3e-3, batchSize: 8, seqLen: 32 }, backend: cpuBackend, quiet: true,
    };
    const live = counters.liveTensors;
    await runSequence(o);
    expect(counters.liveTensors).toBe(live);
    const r = JSON.parse(readFileSync(join(work, 'run/results.json'), 'utf8')) as RunResults;
    const seed = r.methods[0].perSeed[0];
    expect(r.methods[0].method).toBe('hat');
    for (const x of [seed.mf1[0][0], seed.mf1[1][0], seed.mf1[1][1]]) expect(x).toBeGreaterThanOrEqual(0);
    const dir = join(work, 'run/hat/seed-7');
    for (const [t, k] of [[0, 0], [1, 0], [1, 1]]) expect(existsSync(join(dir, t === 0 ? '0-farm' : '1-sea', `task-${k}`, 'model', 'model.safetensors')), `${t}→${k}`).toBe(true);
    expect(existsSync(join(dir, '1-sea', 'hat-mask', HAT_MASK_FILE))).toBe(true);
  });
});
