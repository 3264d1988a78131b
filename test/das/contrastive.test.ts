// Contrastive knowledge integration (docs/method.md §6.1–6.3, §11.7, §12.10–13): parity with PyTorch
// (test/fixtures/gen_das.py (e): representations, logits, loss and every encoder gradient, both pairing
// modes, both backends), the combined loss L_MLM + λ·L_CKI, and properties on random tiny models.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Backend, type Tensor, fromArray, key, read, readScalar, release, tidy, valueAndGrad } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { type RobertaConfig, parseConfig, tinyTestConfig } from '../../src/nn/config.js';
import { hfNames, paramsFromHf } from '../../src/io/hf-roberta.js';
import { type HostBatch, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { type EncoderParams, type Params, initParams } from '../../src/nn/params.js';
import {
  type ContrastPairing, type PassMasks, contrastLogits, contrastiveLoss, dasLoss, maskedMeanPool,
} from '../../src/das/contrastive.js';
import type { Importance } from '../../src/das/soft-mask.js';
import { treeLeavesWithPaths } from '../../src/tensor/tree.js';
import { backends, cpuBackend, gpu } from '../support/devices.js';
import { loadFixture } from '../support/fixtures.js';
import { expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

const MODES: ContrastPairing[] = ['sameSequence', 'tiledPairs'];
const KINDS = ['head', 'intermediate', 'output'] as const;
const fx = await loadFixture('das.safetensors');
const cfg = (() => { const c = parseConfig(JSON.parse(fx.metadata.config)); if (E.isLeft(c)) throw c.left; return c.right; })();
const names = hfNames(cfg, { mlm: true });
const sites = Object.keys(JSON.parse(fx.metadata.dropout_sites) as Record<string, number[]>);

function setup(be: Backend) {
  const only = new Map([...fx.tensors].filter(([k]) => !/^(in|out|grad)\./.test(k)));
  const p = paramsFromHf(cfg, only, be);
  if (E.isLeft(p)) throw p.left;
  const [B, T] = fx.get('in.input_ids').shape;
  const attention = fx.get('in.attention_mask').data as Int32Array;
  const corruptedHost: HostBatch = { B, T, ids: fx.get('in.input_ids').data as Int32Array, attention, labels: fx.get('in.labels').data as Int32Array };
  const passMasks = (pass: string) => Object.fromEntries(sites.map((s) => { const t = fx.get(`in.dropmask.${pass}.${s}`); return [s, fromArray(t.data, t.shape, { backend: be })]; }));
  const masks: PassMasks = { full1: passMasks('full1'), full2: passMasks('full2'), gated: passMasks('gated') };
  const importance: Importance = Array.from({ length: cfg.layers }, (_, l) => {
    const row = (k: (typeof KINDS)[number]) => { const t = fx.get(`in.contrast.gates.${k}`); const n = t.shape[1]; return fromArray(t.data.slice(l * n, (l + 1) * n), [n], { backend: be }); };
    return { head: row('head'), intermediate: row('intermediate'), output: row('output') };
  });
  return {
    params: p.right, masks, importance,
    original: toDevice(cfg, { B, T, ids: fx.get('in.original_ids').data as Int32Array, attention }, be),
    corrupted: toDevice(cfg, corruptedHost, be),
    targets: mlmTargets(corruptedHost, be),
  };
}

const encoderOf = (p: Params): EncoderParams => ({ embeddings: p.embeddings, layers: p.layers });

/** Compares a gradient tree with `want(hf name)` (null: expected zero). */
async function compareGrads(grads: unknown, want: (hf: string) => ArrayLike<number> | null): Promise<void> {
  for (const [path, g] of treeLeavesWithPaths(grads)) {
    const hf = names.get(path)![0];
    const got = await read(g);
    const w = want(hf) ?? new Float32Array(got.length);
    // key biases have an exactly-zero true gradient (softmax ignores a per-query constant)
    if (hf.endsWith('attention.self.key.bias')) { expectAllClose(got, w, { rtol: 0, atol: 1e-6 }); continue; }
    try { expectCloseToScale(got, w, 2e-4); } catch (e) { throw new Error(`${hf}: ${(e as Error).message}`); }
  }
}

describe('contrastive parity with PyTorch (das.safetensors)', () => {
  for (const be of backends) {
    for (const pairing of MODES) {
      it(`${be.name} ${pairing}: representations, logits, loss and every encoder gradient`, async () => {
        const s = setup(be);
        const opts = { importance: s.importance, masks: s.masks, pairing };
        const f = (a: { params: EncoderParams }) => { const r = contrastiveLoss(cfg, a.params, s.original, opts); return [r.loss, r] as const; };
        const [[loss, r], g] = valueAndGrad(f, ['params'])({ params: encoderOf(s.params) });
        for (const pass of ['full1', 'full2', 'gated'] as const) expectCloseToScale(await read(r.reps[pass]), fx.get(`out.contrast.rep.${pass}`).data, 1e-4);
        expectCloseToScale(await read(r.logits), fx.get(`out.contrast.logits.${pairing}`).data, 1e-4);
        expect(await readScalar(loss)).toBeCloseTo(fx.get(`out.contrast.loss.${pairing}.f64`).data[0], 4);
        await compareGrads(g.params, (hf) => fx.get(`grad.contrast.${pairing}.${hf}`).data);
        release(s, loss, r, g);
      });
    }

    it(`${be.name} dasLoss: L_MLM + λ·L_CKI and its gradient (MLM pass without dropout)`, async () => {
      const s = setup(be);
      const lambda = 0.5;
      const f = (a: { params: Params }) => dasLoss(cfg, a.params, { corrupted: s.corrupted, original: s.original }, s.targets, { importance: s.importance, masks: s.masks, contrastWeight: lambda });
      const [[total, aux], g] = valueAndGrad(f, ['params'])({ params: s.params });
      const mlm = fx.get('out.mlm.loss.f64').data[0], cki = fx.get('out.contrast.loss.sameSequence.f64').data[0];
      expect(await readScalar(aux.mlm)).toBeCloseTo(mlm, 4);
      expect(await readScalar(aux.contrast)).toBeCloseTo(cki, 4);
      expect(await readScalar(total)).toBeCloseTo(mlm + lambda * cki, 4);
      await compareGrads(g.params, (hf) => {
        const m = fx.get(`grad.mlm.${hf}`).data;
        if (hf.startsWith('lm_head.')) return m;
        const c = fx.get(`grad.contrast.sameSequence.${hf}`).data;
        return Float64Array.from(m, (x, i) => x + lambda * c[i]);
      });
      release(s, total, aux, g);
    });
  }
});

// ---- properties on random tiny models (CPU) ---------------------------------------------------

const small: RobertaConfig = { ...tinyTestConfig, initializerRange: 0.5 };
const be = cpuBackend;

/** A right-padded host batch: B sequences of length ≤ T, every one with at least one real token. */
const arbBatch = fc.record({ B: fc.integer({ min: 1, max: 5 }), T: fc.integer({ min: 2, max: 6 }), seed: fc.nat() }).chain(({ B, T, seed }) =>
  fc.array(fc.integer({ min: 1, max: T }), { minLength: B, maxLength: B }).map((lens): HostBatch => {
    const r = seededValues(B * T, seed, 3, small.vocabSize);
    const ids = new Int32Array(B * T), attention = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { const real = t < lens[b]; ids[b * T + t] = real ? Math.floor(r[b * T + t]) : small.padId; attention[b * T + t] = real ? 1 : 0; }
    return { B, T, ids, attention };
  }));

const randomImportance = (seed: number, backend: Backend): Importance => Array.from({ length: small.layers }, (_, l) => ({
  head: fromArray(seededValues(small.heads, seed + 3 * l, 0, 1), [small.heads], { backend }),
  intermediate: fromArray(seededValues(small.intermediate, seed + 3 * l + 1, 0, 1), [small.intermediate], { backend }),
  output: fromArray(seededValues(small.width, seed + 3 * l + 2, 0, 1), [small.width], { backend }),
}));

describe('contrastive properties (CPU)', () => {
  it('with correct pairing and no dropout, the positive logit is 1/τ = 20 for every anchor', async () => {
    await fc.assert(fc.asyncProperty(arbBatch, fc.nat(), async (hb, seed) => {
      const params = initParams(small, key(seed), be), batch = toDevice(small, hb, be), importance = randomImportance(seed, be);
      const r = tidy(() => contrastiveLoss(small, params, batch, { importance }));
      const logits = await read(r.logits);
      for (let i = 0; i < hb.B; i++) expect(Math.abs(logits[i * 2 * hb.B + i] - 20)).toBeLessThan(1e-4);
      release(params, batch, importance, r);
    }), { numRuns: 15 });
  });

  it('tiledPairs anchors chunk (2i+1) mod B against "positive" chunk 2i mod B (docs/method.md §11.7)', async () => {
    await fc.assert(fc.asyncProperty(arbBatch, fc.nat(), async (hb, seed) => {
      const params = initParams(small, key(seed), be), batch = toDevice(small, hb, be), importance = randomImportance(seed, be);
      const r = tidy(() => contrastiveLoss(small, params, batch, { importance, pairing: 'sameSequence' }));
      const tiled = await read(tidy(() => contrastLogits(r.reps, 0.05, 'tiledPairs')));
      const same = await read(r.logits);                                   // without dropout: [cos(chunk a, chunk c)/τ]_{a,c} ++ gated
      const B = hb.B, W = 2 * B;
      for (let i = 0; i < B; i++) {
        const anchor = (2 * i + 1) % B;
        for (let j = 0; j < B; j++) expect(tiled[i * W + j]).toBeCloseTo(same[anchor * W + ((2 * j) % B)], 5);
        for (let k = 0; k < B; k++) expect(tiled[i * W + B + k]).toBeCloseTo(same[anchor * W + B + k], 5);
      }
      release(params, batch, importance, r);
    }), { numRuns: 15 });
  });

  it('pools only over attention-masked positions', async () => {
    await fc.assert(fc.asyncProperty(arbBatch, fc.nat(), async (hb, seed) => {
      const D = 3, n = hb.B * hb.T * D;
      const zv = seededValues(n, seed), junk = seededValues(n, seed + 1);
      const mask = Float32Array.from(hb.attention!);
      const padded = zv.map((v, i) => (mask[Math.floor(i / D)] ? v : junk[i] * 100));
      const [a, b] = await Promise.all([zv, padded].map((vals) => read(tidy(() => maskedMeanPool(fromArray(vals, [hb.B, hb.T, D], { backend: be }), fromArray(mask, [hb.B, hb.T], { backend: be }))))));
      expectAllClose(a, b, { rtol: 1e-6, atol: 1e-6 });
      for (let s = 0; s < hb.B; s++) for (let d = 0; d < D; d++) {
        let sum = 0, cnt = 0;
        for (let t = 0; t < hb.T; t++) if (mask[s * hb.T + t]) { sum += zv[(s * hb.T + t) * D + d]; cnt++; }
        expect(a[s * D + d]).toBeCloseTo(sum / cnt, 5);
      }
    }), { numRuns: 30 });
  });

  it('holds the importance constant: no gradient reaches the gates, while the gated pass still trains the weights', async () => {
    const hb: HostBatch = { B: 3, T: 5, ids: Int32Array.from(seededValues(15, 9, 3, 90), Math.floor), attention: new Int32Array(15).fill(1) };
    const params = initParams(small, key(4), be), batch = toDevice(small, hb, be), importance = randomImportance(5, be);
    const f = (a: { params: EncoderParams; importance: Importance }) => contrastiveLoss(small, a.params, batch, { importance: a.importance, dropoutKey: key(1) }).loss;
    const [, g] = valueAndGrad(f, ['params', 'importance'])({ params, importance });
    for (const [, t] of treeLeavesWithPaths(g.importance)) expect(Array.from(await read(t)).every((x) => x === 0)).toBe(true);
    const norm = (await Promise.all(treeLeavesWithPaths(g.params).map(([, t]) => read(t)))).reduce((s, a) => s + a.reduce((u, x) => u + x * x, 0), 0);
    expect(norm).toBeGreaterThan(0);
    release(params, batch, importance, g);
  });

  it('draws independent dropout per pass from one key, reproducibly; key and masks together are refused', async () => {
    const hb: HostBatch = { B: 2, T: 6, ids: Int32Array.from(seededValues(12, 3, 3, 90), Math.floor), attention: new Int32Array(12).fill(1) };
    const params = initParams(small, key(7), be), batch = toDevice(small, hb, be), importance = randomImportance(2, be);
    const run = () => tidy(() => contrastiveLoss(small, params, batch, { importance, dropoutKey: key(11) }));
    const [a, b] = [run(), run()];
    expect(Array.from(await read(a.logits))).toEqual(Array.from(await read(b.logits)));
    expect(Array.from(await read(a.reps.full1))).not.toEqual(Array.from(await read(a.reps.full2)));
    const logits = await read(a.logits);
    expect(logits[0]).toBeLessThan(20 - 1e-3);                            // dropout made the two views differ
    expect(() => contrastiveLoss(small, params, batch, { importance, dropoutKey: key(1), masks: { full1: {}, full2: {}, gated: {} } })).toThrow(/not both/);
    release(params, batch, importance, a, b);
  });

  it('dasLoss with contrastWeight 0 is exactly the MLM loss', async () => {
    const ids = Int32Array.from(seededValues(12, 5, 3, 90), Math.floor);
    const labels = new Int32Array(12).fill(-100); labels[2] = 7; labels[9] = 40;
    const corrupted: HostBatch = { B: 2, T: 6, ids: ids.map((x, i) => (labels[i] >= 0 ? small.vocabSize - 1 : x)), attention: new Int32Array(12).fill(1), labels };
    const original: HostBatch = { B: 2, T: 6, ids: ids.map((x, i) => (labels[i] >= 0 ? labels[i] : x)), attention: new Int32Array(12).fill(1) };
    const params = initParams(small, key(3), be), importance = randomImportance(8, be);
    const batch = { corrupted: toDevice(small, corrupted, be), original: toDevice(small, original, be) }, t = mlmTargets(corrupted, be);
    const [total, aux] = tidy(() => dasLoss(small, params, batch, t, { importance, contrastWeight: 0 }));
    const plain = tidy(() => mlmLoss(small, params, batch.corrupted, t));
    expect(await readScalar(total)).toBe(await readScalar(plain));
    expect(await readScalar(aux.contrast)).toBeGreaterThan(0);
    expect(() => dasLoss(small, params, batch, t, { importance, contrastWeight: -1 })).toThrow(/contrastWeight/);
    release(params, importance, batch, t, total, aux, plain);
  });
});

describe.skipIf(gpu === null)('contrastive with the library RNG on WebGPU', () => {
  it('matches the CPU: the same key gives the same dropout masks on both backends', async () => {
    const hb: HostBatch = { B: 3, T: 5, ids: Int32Array.from(seededValues(15, 2, 3, 90), Math.floor), attention: new Int32Array(15).fill(1) };
    const results: Float32Array[] = [];
    for (const b of [cpuBackend, gpu!]) {
      const params = initParams(small, key(21), b), batch = toDevice(small, hb, b), importance = randomImportance(6, b);
      const logits: Tensor = tidy(() => contrastiveLoss(small, params, batch, { importance, dropoutKey: key(5), pairing: 'tiledPairs' }).logits);
      results.push(Float32Array.from(await read(logits)));
      release(params, batch, importance, logits);
    }
    expectCloseToScale(results[1], results[0], 1e-4);
  });
});
