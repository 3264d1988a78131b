// Unit importance (docs/method.md §4–5): parity with PyTorch (test/fixtures/gen_das.py) for MLM and KL-proxy
// gate gradients, raw importance, normalisation and EMax on every backend; properties of the
// normalisation and the max accumulation; per-example gradients equal running each example alone;
// the KL proxy is ~0 without dropout; the §4.2 closed forms equal autodiff.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Backend, type Tensor, fromArray, key, read, release, tidy, valueAndGrad } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { parseConfig, type RobertaConfig } from '../../src/nn/config.js';
import { paramsFromHf } from '../../src/io/hf-roberta.js';
import type { Params } from '../../src/nn/params.js';
import { type Batch, type DropoutSource, embed } from '../../src/nn/roberta.js';
import { IGNORE, labelledLogits, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { add, crossEntropy, gelu, layerNorm, linear, matmul, permute, reshape, scalarOp, softmax } from '../../src/index.js';
import {
  type ImportanceBatch, type ImportanceSet, UNIT_KINDS, type UnitKind, accumulateRaw, addBatch, emptySums, gateGrads,
  maxAccumulate, normalizeImportance, normalizeSet, rawImportance, toLayerGates,
} from '../../src/das/importance.js';
import { backends, cpuBackend } from '../support/devices.js';
import { loadFixture } from '../support/fixtures.js';
import { expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

const fx = await loadFixture('das.safetensors');
const parsed = parseConfig(JSON.parse(fx.metadata.config));
if (E.isLeft(parsed)) throw parsed.left;
const cfg: RobertaConfig = parsed.right;
const i32 = (name: string) => fx.get(name).data as Int32Array;
const [B, T] = fx.get('in.input_ids').shape;
const hb: ImportanceBatch = { B, T, ids: i32('in.input_ids'), attention: i32('in.attention_mask'), labels: i32('in.labels'), originalIds: i32('in.original_ids') };
const SITES = Object.keys(JSON.parse(fx.metadata.dropout_sites) as Record<string, number[]>);

function paramsOn(be: Backend): Params {
  const only = new Map([...fx.tensors].filter(([k]) => !/^(in|out|grad)\./.test(k)));
  const p = paramsFromHf(cfg, only, be);
  if (E.isLeft(p)) throw p.left;
  return p.right;
}

/** The fixture's keep-masks of one pass, optionally only the examples `rows`. */
function masks(pass: string, be: Backend, rows?: number[]): DropoutSource {
  const out: Record<string, Tensor> = {};
  for (const site of SITES) {
    const t = fx.get(`in.dropmask.${pass}.${site}`);
    const per = t.data.length / t.shape[0];
    const pick = rows ?? [...Array(t.shape[0]).keys()];
    const data = new Float32Array(pick.length * per);
    pick.forEach((r, i) => data.set((t.data as Float32Array).subarray(r * per, (r + 1) * per), i * per));
    out[site] = fromArray(data, [pick.length, ...t.shape.slice(1)], { backend: be });
  }
  return { masks: out };
}

/** Rows `rows` of the fixture batch as a batch of their own. */
function subBatch(rows: number[], from: ImportanceBatch = hb): ImportanceBatch {
  const take = (a: Int32Array) => Int32Array.from(rows.flatMap((r) => Array.from(a.subarray(r * T, (r + 1) * T))));
  return { B: rows.length, T, ids: take(from.ids), attention: take(from.attention!), labels: take(from.labels!), originalIds: take(from.originalIds!) };
}

const host = async (s: ImportanceSet) => Object.fromEntries(await Promise.all(UNIT_KINDS.map(async (k) => [k, await read(s[k])] as const))) as Record<UnitKind, Float32Array>;
const fromFixture = (prefix: string, be: Backend): ImportanceSet =>
  Object.fromEntries(UNIT_KINDS.map((k) => { const t = fx.get(`${prefix}.${k}`); return [k, fromArray(t.data, t.shape, { backend: be })]; })) as ImportanceSet;
const expectSet = async (s: ImportanceSet, prefix: string, rel = 2e-4, scale = 1) => {
  const got = await host(s);
  for (const k of UNIT_KINDS) {
    try { expectCloseToScale(got[k].map((v) => v * scale), fx.get(`${prefix}.${k}`).data, rel); } catch (e) { throw new Error(`${prefix}.${k}: ${(e as Error).message}`); }
  }
};
const labelledPerExample = (b: ImportanceBatch) => Array.from({ length: b.B }, (_, n) => b.labels!.subarray(n * T, (n + 1) * T).filter((l) => l !== IGNORE).length);

describe('importance parity with PyTorch (das.safetensors)', () => {
  for (const be of backends) {
    it(`${be.name}: MLM gate gradients of the batch loss and of each example's own loss`, async () => {
      const params = paramsOn(be);
      const batch = gateGrads(cfg, params, hb, { loss: 'mlm' });
      const per = gateGrads(cfg, params, hb, { loss: 'mlm', perExample: true });
      expect(per.head.shape).toEqual([B, cfg.layers, cfg.heads]);
      await expectSet(batch, 'out.gategrad.mlm.batch');
      await expectSet(per, 'out.gategrad.mlm.perexample');
      release(params, batch, per);
    });

    it(`${be.name}: KL-proxy gate gradients with the explicit dropout masks (batch and per example)`, async () => {
      const params = paramsOn(be);
      const dropout = [masks('pass1', be), masks('pass2', be)];
      const batch = gateGrads(cfg, params, hb, { loss: 'kl', dropout });
      const per = gateGrads(cfg, params, hb, { loss: 'kl', dropout, perExample: true });
      await expectSet(batch, 'out.gategrad.kl.batch');
      await expectSet(per, 'out.gategrad.kl.perexample');
      release(params, batch, per, dropout);
    });

    it(`${be.name}: raw importance (abs-per-example, signed-batch), normalisation and EMax`, async () => {
      const params = paramsOn(be);
      const tokens = B * T; // raw = Σ / attention tokens; the fixture's raw is the mean over the B examples
      for (const loss of ['mlm', 'kl'] as const) {
        const dropout = loss === 'kl' ? [masks('pass1', be), masks('pass2', be)] : undefined;
        for (const aggregation of ['abs-per-example', 'signed-batch'] as const) {
          const s = addBatch(cfg, params, emptySums(cfg, aggregation, be), hb, { loss, dropout });
          expect([s.examples, s.tokens, s.batches]).toEqual([B, tokens, 1]);
          const raw = rawImportance(s);
          if (aggregation === 'abs-per-example') {
            await expectSet(raw, `out.impt.${loss}.raw`, 2e-4, tokens / B);
            const norm = normalizeSet(raw);
            await expectSet(norm, `out.impt.${loss}.norm`, 1e-3);
            release(norm);
          } else await expectSet(raw, `out.gategrad.${loss}.batch`, 2e-4, tokens);
          release(s.total, raw);
        }
        release(dropout);
      }
      const [kl, mlm] = [fromFixture('out.impt.kl.raw', be), fromFixture('out.impt.mlm.raw', be)];
      const [nk, nm] = [normalizeSet(kl), normalizeSet(mlm)];
      await expectSet(nk, 'out.impt.kl.norm', 1e-5);
      await expectSet(nm, 'out.impt.mlm.norm', 1e-5);
      const acc = maxAccumulate([nk, nm]);
      await expectSet(acc, 'out.impt.accum', 1e-5);
      await expectSet(accumulateRaw([kl, mlm]), 'out.impt.accum', 1e-5);
      const nt = fx.get('in.normtest.raw');
      const got = await read(normalizeImportance(fromArray(nt.data, nt.shape, { backend: be })));
      expectAllClose(got, fx.get('out.normtest.norm').data, { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(got.subarray(6, 12))).toEqual([0, 0, 0, 0, 0, 0]); // the constant row
      release(params, kl, mlm, nk, nm, acc);
    });
  }
});

// ---- properties (CPU) -----------------------------------------------------------------------------

const be = cpuBackend;
const params = paramsOn(be);
const rowsArb = fc.subarray([0, 1, 2, 3], { minLength: 1 });
const arbMatrix = fc.record({ rows: fc.integer({ min: 1, max: 4 }), cols: fc.integer({ min: 1, max: 9 }) }).chain(({ rows, cols }) =>
  fc.array(fc.oneof(fc.float({ min: -1e3, max: 1e3, noNaN: true }), fc.constantFrom(0, 1, -1, 1e-30)), { minLength: rows * cols, maxLength: rows * cols })
    .map((v) => ({ shape: [rows, cols], data: Float32Array.from(v) })));
const onCpu = (m: { shape: number[]; data: Float32Array }) => fromArray(m.data, m.shape, { backend: be });

describe('normalisation and max accumulation', () => {
  it('normalised importance lies in [0, 1], constant rows (one unit included) give 0', async () => {
    await fc.assert(fc.asyncProperty(arbMatrix, async (m) => {
      const y = await read(normalizeImportance(onCpu(m)));
      expect(y.every((v) => v >= 0 && v <= 1)).toBe(true);
      const [rows, cols] = m.shape;
      for (let r = 0; r < rows; r++) {
        const row = m.data.subarray(r * cols, (r + 1) * cols);
        if (row.every((v) => v === row[0])) expect(Array.from(y.subarray(r * cols, (r + 1) * cols)).every((v) => v === 0)).toBe(true);
      }
    }));
  });

  it('normalisation ignores a per-layer shift and positive scale of the raw importance', async () => {
    await fc.assert(fc.asyncProperty(arbMatrix, fc.float({ min: -10, max: 10, noNaN: true }), fc.float({ min: Math.fround(0.5), max: 4, noNaN: true }), async (m, shift, scale) => {
      const a = await read(normalizeImportance(onCpu(m)));
      const b = await read(normalizeImportance(onCpu({ ...m, data: m.data.map((v) => v * scale + shift) })));
      const [rows, cols] = m.shape;
      const rowOk = (r: number) => { const x = Array.from(m.data.subarray(r * cols, (r + 1) * cols)); return Math.max(...x) - Math.min(...x) > 1e-2 * Math.max(1, ...x.map(Math.abs)); };
      fc.pre(cols > 1 && Array.from({ length: rows }, (_, r) => r).every(rowOk)); // f32 squares underflow below ~1e-19
      expectAllClose(b, a, { rtol: 0, atol: 2e-3 });
    }));
  });

  const arbSets = (n: number) => fc.record({ rows: fc.integer({ min: 1, max: 3 }), cols: fc.integer({ min: 1, max: 5 }) }).chain(({ rows, cols }) =>
    fc.array(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: rows * cols * 3, maxLength: rows * cols * 3 }), { minLength: n, maxLength: n })
      .map((sets) => sets.map((v) => ({ rows, cols, v: Float32Array.from(v) }))));
  const toSet = ({ rows, cols, v }: { rows: number; cols: number; v: Float32Array }): ImportanceSet =>
    ({ head: onCpu({ shape: [rows, cols], data: v.slice(0, rows * cols) }), intermediate: onCpu({ shape: [rows, cols], data: v.slice(rows * cols, 2 * rows * cols) }), output: onCpu({ shape: [rows, cols], data: v.slice(2 * rows * cols) }) });
  const flat = async (s: ImportanceSet) => { const h = await host(s); return [...h.head, ...h.intermediate, ...h.output]; };

  it('max accumulation is commutative, associative and idempotent', async () => {
    await fc.assert(fc.asyncProperty(arbSets(3), async (raw) => {
      const [a, b, c] = raw.map(toSet);
      expect(await flat(maxAccumulate([a, b]))).toEqual(await flat(maxAccumulate([b, a])));
      expect(await flat(maxAccumulate([maxAccumulate([a, b]), c]))).toEqual(await flat(maxAccumulate([a, maxAccumulate([b, c])])));
      expect(await flat(maxAccumulate([a, b, c]))).toEqual(await flat(maxAccumulate([a, maxAccumulate([b, c])])));
      expect(await flat(maxAccumulate([a, a]))).toEqual(await flat(a));
      expect(await flat(maxAccumulate([a]))).toEqual(await flat(a));
    }));
  });

  it('max accumulation is monotone: it dominates every input, and raising an input never lowers it', async () => {
    await fc.assert(fc.asyncProperty(arbSets(3), async (raw) => {
      const [a, b, c] = raw.map(toSet);
      const ab = await flat(maxAccumulate([a, b]));
      const [fa, fb] = [await flat(a), await flat(b)];
      expect(ab.every((v, i) => v >= fa[i] && v >= fb[i] && (v === fa[i] || v === fb[i]))).toBe(true);
      const up = maxAccumulate([a, c]); // a' = max(a, c) ≥ a
      const upB = await flat(maxAccumulate([up, b]));
      expect(upB.every((v, i) => v >= ab[i])).toBe(true);
    }));
  });

  it('toLayerGates gives per-layer rows in the gates layout', async () => {
    const s = fromFixture('out.impt.accum', be);
    const g = toLayerGates(s);
    expect(g.length).toBe(cfg.layers);
    expect(g[1].intermediate.shape).toEqual([cfg.intermediate]);
    expectAllClose(await read(g[1].head), fx.get('out.impt.accum.head').data.slice(cfg.heads), { rtol: 0, atol: 0 });
  });
});

describe('gate gradients: per example, aggregation, dropout', () => {
  // running each example alone (B = 1) is the definition of the per-example gradient
  const alone = {
    mlm: [0, 1, 2, 3].map((n) => gateGrads(cfg, params, subBatch([n]), { loss: 'mlm' })),
    kl: [0, 1, 2, 3].map((n) => gateGrads(cfg, params, subBatch([n]), { loss: 'kl', dropout: [masks('pass1', be, [n]), masks('pass2', be, [n])] })),
  };

  it('per-example gate gradients of any sub-batch equal running each example alone (MLM and KL)', async () => {
    await fc.assert(fc.asyncProperty(rowsArb, fc.constantFrom('mlm' as const, 'kl' as const), async (rows, loss) => {
      const dropout = loss === 'kl' ? [masks('pass1', be, rows), masks('pass2', be, rows)] : undefined;
      const per = await host(gateGrads(cfg, params, subBatch(rows), { loss, dropout, perExample: true }));
      for (const [i, n] of rows.entries()) {
        const want = await host(alone[loss][n]);
        for (const k of UNIT_KINDS) expectCloseToScale(per[k].subarray(i * want[k].length, (i + 1) * want[k].length), want[k], 1e-4);
      }
    }), { numRuns: 12 });
  });

  it('the MLM batch gradient is the label-count-weighted mean of the per-example gradients', async () => {
    const batch = await host(gateGrads(cfg, params, hb, { loss: 'mlm' }));
    const counts = labelledPerExample(hb), C = counts.reduce((a, b) => a + b, 0);
    for (const k of UNIT_KINDS) {
      const parts = await Promise.all(alone.mlm.map((g) => read(g[k])));
      expectCloseToScale(batch[k], batch[k].map((_, j) => parts.reduce((s, p, n) => s + (counts[n] / C) * p[j], 0)), 1e-4);
    }
  });

  it('signed-batch sums batch gradients; signed-batch-cumulative weighs batch j of K by K − j + 1', async () => {
    const parts = [[0, 1], [2], [3]];
    const G = await Promise.all(parts.map((rows) => host(gateGrads(cfg, params, subBatch(rows), { loss: 'mlm' }))));
    for (const [aggregation, weight] of [['signed-batch', () => 1], ['signed-batch-cumulative', (j: number) => parts.length - j]] as const) {
      let s = emptySums(cfg, aggregation, be);
      for (const rows of parts) s = addBatch(cfg, params, s, subBatch(rows), { loss: 'mlm' });
      const raw = await host(rawImportance(s));
      for (const k of UNIT_KINDS) expectCloseToScale(raw[k].map((v) => v * B * T), G[0][k].map((_, i) => G.reduce((acc, g, j) => acc + weight(j) * g[k][i], 0)), 1e-4);
    }
  });

  it('abs-per-example does not depend on how the examples are batched (dropout off)', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom([[0, 1, 2, 3]], [[0], [1, 2], [3]], [[3, 1], [0, 2]]), fc.constantFrom('mlm' as const, 'kl' as const), async (parts, loss) => {
      let s = emptySums(cfg, 'abs-per-example', be);
      for (const rows of parts) s = addBatch(cfg, params, s, subBatch(rows), { loss, dropout: loss === 'kl' ? [masks('pass1', be, rows), masks('pass2', be, rows)] : undefined });
      const raw = await host(rawImportance(s));
      const want = await Promise.all(alone[loss].map(host));
      for (const k of UNIT_KINDS) expectCloseToScale(raw[k], raw[k].map((_, i) => want.reduce((a, w) => a + Math.abs(w[k][i]), 0) / (B * T)), 1e-4);
    }), { numRuns: 6 });
  });

  it('the KL-proxy gradient is ~0 with dropout off and clearly non-zero with dropout on', async () => {
    const off = await host(gateGrads(cfg, params, hb, { loss: 'kl' }));
    const on = await host(gateGrads(cfg, params, hb, { loss: 'kl', dropout: [{ key: key(1) }, { key: key(2) }] }));
    const same = await host(gateGrads(cfg, params, hb, { loss: 'kl', dropout: [{ key: key(1) }, { key: key(1) }] }));
    const maxAbs = (s: Record<UnitKind, Float32Array>) => Math.max(...UNIT_KINDS.flatMap((k) => Array.from(s[k], Math.abs)));
    expect(maxAbs(on)).toBeGreaterThan(1e-2);
    expect(maxAbs(off)).toBeLessThan(1e-5 * maxAbs(on)); // rounding residue only (docs/method.md §5.3)
    expect(maxAbs(same)).toBeLessThan(1e-5 * maxAbs(on)); // one dropout mask for both passes: identical passes again
  });

  it("mlmInput 'original' runs the MLM loss on the uncorrupted ids", async () => {
    const orig = await host(gateGrads(cfg, params, hb, { loss: 'mlm', mlmInput: 'original' }));
    const direct = await host(gateGrads(cfg, params, { ...hb, ids: hb.originalIds! }, { loss: 'mlm' }));
    const corrupted = await host(gateGrads(cfg, params, hb, { loss: 'mlm' }));
    for (const k of UNIT_KINDS) expect(Array.from(orig[k])).toEqual(Array.from(direct[k]));
    expect(Array.from(orig.head)).not.toEqual(Array.from(corrupted.head));
  });

  it('the KL softmax over features is a different, finite proxy', async () => {
    const dropout = [masks('pass1', be), masks('pass2', be)];
    const pos = await host(gateGrads(cfg, params, hb, { loss: 'kl', dropout }));
    const feat = await host(gateGrads(cfg, params, hb, { loss: 'kl', dropout, klAxis: 'features' }));
    expect(feat.output.every(Number.isFinite)).toBe(true);
    expect(Array.from(feat.output)).not.toEqual(Array.from(pos.output));
  });
});

// ---- §4.2 closed forms as an oracle ---------------------------------------------------------------

interface Probes { ctx: Tensor[]; u: Tensor[]; o: Tensor[] }

/** The encoder of src/nn/roberta.ts (no gates, no dropout) with zero probes added at C (before W_O), U (pre-GELU) and O (after the output dense). */
function probed(p: Params, b: Batch, probes: Probes, acts?: Probes): Tensor {
  let x = embed(cfg, p.embeddings, b);
  const H = cfg.heads, Dh = cfg.headDim, D = cfg.width;
  p.layers.forEach((lp, l) => {
    const split = (t: Tensor) => permute(reshape(t, [B, T, H, Dh]), [0, 2, 1, 3]);
    const [q, k, v] = [lp.query, lp.key, lp.value].map((w) => split(linear(x, w.weight, w.bias)));
    const probs = softmax(add(scalarOp('mul', matmul(q, k, { transB: true }), 1 / Math.sqrt(Dh)), b.maskBias), -1);
    const ctx = add(reshape(permute(matmul(probs, v), [0, 2, 1, 3]), [B, T, D]), probes.ctx[l]);
    const h = layerNorm(add(linear(ctx, lp.attnOut.weight, lp.attnOut.bias), x), lp.attnNorm.weight, lp.attnNorm.bias, cfg.layerNormEps);
    const u = add(linear(h, lp.ffnIn.weight, lp.ffnIn.bias), probes.u[l]);
    const o = add(linear(gelu(u), lp.ffnOut.weight, lp.ffnOut.bias), probes.o[l]);
    acts?.ctx.push(ctx); acts?.u.push(u); acts?.o.push(o);
    x = layerNorm(add(o, h), lp.ffnNorm.weight, lp.ffnNorm.bias, cfg.layerNormEps);
  });
  return x;
}

describe('gate-gradient closed forms (docs/method.md §4.2)', () => {
  it('Σ⟨∂L/∂C_h, C_h⟩, Σ ∂L/∂U·U and Σ ∂L/∂O·O equal the autodiff gate gradients, per example and per batch', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.boolean(), { minLength: B * T, maxLength: B * T }), fc.integer({ min: 0, max: 1000 }), async (pick, seed) => {
      const labels = Int32Array.from(pick, (on, i) => (on ? Math.floor(seededValues(1, seed + i, 0, cfg.vocabSize)[0]) : IGNORE));
      fc.pre(labels.some((l) => l !== IGNORE));
      const b: ImportanceBatch = { ...hb, labels };
      const batch = toDevice(cfg, b, be), t = mlmTargets(b, be);
      const zero = (w: number) => Array.from({ length: cfg.layers }, () => fromArray(new Float32Array(B * T * w), [B, T, w], { backend: be }));
      const probes: Probes = { ctx: zero(cfg.width), u: zero(cfg.intermediate), o: zero(cfg.width) };
      const acts = tidy(() => { const a: Probes = { ctx: [], u: [], o: [] }; probed(params, batch, probes, a); return a; });
      const f = (a: { probes: Probes }) => crossEntropy(labelledLogits(cfg, params, probed(params, batch, a.probes), t), t.labels);
      const [, g] = valueAndGrad(f, ['probes'])({ probes });
      // closed forms: per example n, layer l, unit j
      const perEx: Record<UnitKind, Float64Array> = { head: new Float64Array(B * cfg.layers * cfg.heads), intermediate: new Float64Array(B * cfg.layers * cfg.intermediate), output: new Float64Array(B * cfg.layers * cfg.width) };
      const fold = async (kind: UnitKind, dz: Tensor[], z: Tensor[], width: number, unit: (f: number) => number, units: number) => {
        for (let l = 0; l < cfg.layers; l++) {
          const [gd, zd] = [await read(dz[l]), await read(z[l])];
          for (let i = 0; i < gd.length; i++) { const n = Math.floor(i / (T * width)); perEx[kind][(n * cfg.layers + l) * units + unit(i % width)] += gd[i] * zd[i]; }
        }
      };
      await fold('head', g.probes.ctx, acts.ctx, cfg.width, (f) => Math.floor(f / cfg.headDim), cfg.heads);
      await fold('intermediate', g.probes.u, acts.u, cfg.intermediate, (f) => f, cfg.intermediate);
      await fold('output', g.probes.o, acts.o, cfg.width, (f) => f, cfg.width);
      const auto = await host(gateGrads(cfg, params, b, { loss: 'mlm' }));
      for (const k of UNIT_KINDS) {
        const n = auto[k].length;
        expectCloseToScale(auto[k], auto[k].map((_, i) => Array.from({ length: B }, (_, e) => perEx[k][e * n + i]).reduce((a, c) => a + c, 0)), 1e-4);
      }
      // per-example losses: example n's closed form uses the gradient of its own mean loss (the batch
      // mean weighs it by count_n / C), so rescale by C / count_n
      const per = await host(gateGrads(cfg, params, b, { loss: 'mlm', perExample: true }));
      const counts = labelledPerExample(b), C = counts.reduce((a, c) => a + c, 0);
      for (const k of UNIT_KINDS) {
        const n = per[k].length / B;
        expectCloseToScale(per[k], per[k].map((_, i) => { const e = Math.floor(i / n); return counts[e] === 0 ? 0 : (perEx[k][i] * C) / counts[e]; }), 1e-4);
      }
      release(batch, t, probes, g, acts);
    }), { numRuns: 8 });
  });
});
