// Houlsby adapters and the soft prompt (docs/adapters.md): fresh adapters are the identity bit for bit;
// the adapter is x + up(GELU(down(x)) ⊙ mask) (host f64 reference, fused = unfused, CPU = WebGPU) and
// sits after each sub-layer's output, before add + norm; f64 finite differences check the gradients of
// the adapters, their unit masks and the prompt; the prompt equals a plain model run on longer
// sequences; DAS gates still apply; checkpoints round-trip and refuse malformed adapter tensors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Backend, type Tensor, add, cast, cpuRead, fromArray, key, mul, randomNormal, read, release, reshape, scalarOp, slice, tidy,
  treeLeavesWithPaths, treeMap, valueAndGrad,
} from '../../src/index.js';
import { E } from '../../src/fp.js';
import { type RobertaConfig, tinyTestConfig } from '../../src/nn/config.js';
import {
  ADAPTER_REDUCTION, type Gates, type LayerAdapters, type Params, adapterUnits, adaptersOf, initAdapters, initParams, initPrompt, withAdapters,
} from '../../src/nn/params.js';
import { type AdapterMask, type Batch, type ForwardOptions, adapter, embed, encode } from '../../src/nn/roberta.js';
import { type HostBatch, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { gateGrads } from '../../src/das/importance.js';
import { PROMPT_NAME, loadCheckpoint, paramsFromHf, paramsToHf, parseCheckpoint, saveCheckpoint } from '../../src/io/hf-roberta.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import type { IoError } from '../../src/io/io-error.js';
import { backends, cpuBackend, gpu } from '../support/devices.js';
import { expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

const cfg: RobertaConfig = { ...tinyTestConfig, initializerRange: 0.2 };
const R = 4; // adapter units in most tests (adapterUnits(tiny) is 1)

/** Parameters with non-zero biases and norm offsets everywhere (initParams zeroes them). */
function params(be: Backend, seed = 3): Params {
  const p = initParams(cfg, key(seed), be, { mlm: true });
  let n = 0;
  const q = treeMap(p, (t) => add(t, randomNormal(key(100 * seed + n++), t.shape, { std: 0.05, backend: be })));
  release(p);
  return q;
}

/** Adapters with every weight and bias random (a non-zero up projection: not the identity). */
function randomAdapters(be: Backend, seed = 7, units = R): LayerAdapters[] {
  const a = initAdapters(cfg, key(seed), be, units);
  let n = 0;
  const q = treeMap(a, (t) => add(t, randomNormal(key(1000 * seed + n++), t.shape, { std: 0.3, backend: be })));
  release(a);
  return q;
}

function hostBatch(B: number, T: number, seed = 5): HostBatch {
  const ids = Int32Array.from(seededValues(B * T, seed, 3, cfg.vocabSize - 1), Math.floor);
  for (let b = 1; b < B; b += 2) for (let t = T - 3; t < T; t++) ids[b * T + t] = cfg.padId; // padding at the end of odd rows
  const labels = Int32Array.from(ids, (v, i) => (i % 4 === 1 && v !== cfg.padId ? (v * 7) % cfg.vocabSize : -100));
  return { B, T, ids, labels };
}

const masksFor = (be: Backend, seed = 40, units = R): AdapterMask[] => Array.from({ length: cfg.layers }, (_, l) => ({
  attn: fromArray(seededValues(units, seed + l, 0, 1), [units], { backend: be }),
  ffn: fromArray(seededValues(units, seed + 10 + l, 0, 1), [units], { backend: be }),
}));

const gatesFor = (be: Backend, B: number, headZero?: [layer: number, head: number]): Gates => Array.from({ length: cfg.layers }, (_, l) => ({
  head: fromArray(Array.from({ length: B * cfg.heads }, (_, i) => (headZero && headZero[0] === l && i % cfg.heads === headZero[1] ? 0 : 1)), [B, cfg.heads], { backend: be }),
  intermediate: fromArray(new Array<number>(cfg.intermediate).fill(1), [cfg.intermediate], { backend: be }),
  output: fromArray(new Array<number>(cfg.width).fill(1), [cfg.width], { backend: be }),
}));

/** Every f32 as its bit pattern. */
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

async function encodeHost(p: Params, b: Batch, o: ForwardOptions = {}): Promise<Float32Array> {
  const z = tidy(() => encode(cfg, p, b, o));
  const out = Float32Array.from(await read(z));
  release(z);
  return out;
}

/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26), for the host GELU. */
function erf(x: number): number {
  const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const geluHost = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

describe('adapter parameters', () => {
  it('adapterUnits is max(1, ⌊width / 16⌋); initAdapters has the PyTorch shapes, zero up projection and biases', async () => {
    expect(ADAPTER_REDUCTION).toBe(16);
    expect(adapterUnits(cfg)).toBe(1);
    expect(adapterUnits({ ...cfg, width: 768 })).toBe(48);
    expect(adapterUnits({ ...cfg, width: 8 })).toBe(1);
    const a = initAdapters(cfg, key(1), cpuBackend, R);
    expect(a).toHaveLength(cfg.layers);
    for (const la of a) {
      for (const ad of [la.attn, la.ffn]) {
        expect(ad.down.weight.shape).toEqual([R, cfg.width]);
        expect(ad.down.bias.shape).toEqual([R]);
        expect(ad.up.weight.shape).toEqual([cfg.width, R]);
        expect(ad.up.bias.shape).toEqual([cfg.width]);
        for (const z of [ad.down.bias, ad.up.weight, ad.up.bias]) expect([...cpuRead(z)].every((v) => v === 0)).toBe(true);
        const w = [...cpuRead(ad.down.weight)];
        expect(w.some((v) => v !== 0)).toBe(true);
        expect(Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length)).toBeLessThan(0.6); // std 0.2
      }
    }
    expect(initAdapters(cfg, key(1), cpuBackend)[0].attn.down.weight.shape).toEqual([1, cfg.width]);
    const b = initAdapters(cfg, key(1), cpuBackend, R);
    expect(bits(cpuRead(b[1].ffn.down.weight))).toEqual(bits(cpuRead(a[1].ffn.down.weight))); // deterministic from the key
    release(a, b);
  });

  it('withAdapters shares tensors; adaptersOf finds them, undefined for a plain model, refuses a partial set', () => {
    const p = params(cpuBackend), a = initAdapters(cfg, key(2), cpuBackend, R);
    const q = withAdapters(p, a);
    expect(adaptersOf(p)).toBeUndefined();
    expect(p.layers[0].adapter).toBeUndefined(); // pure
    expect(adaptersOf(q)![1].ffn.up.weight).toBe(a[1].ffn.up.weight);
    expect(q.layers[0].query.weight).toBe(p.layers[0].query.weight);
    expect(q.lmHead).toBe(p.lmHead);
    expect(() => withAdapters(p, a.slice(1))).toThrow(/1 adapter pairs given, the model has 2 layers/);
    expect(() => adaptersOf({ ...q, layers: [q.layers[0], p.layers[1]] })).toThrow(/only 1 of 2 layers have adapters/);
    release(p, a);
  });

  it('initPrompt copies the word-embedding rows of ids ≥ 4, deterministically from the key', () => {
    const word = fromArray(Array.from({ length: cfg.vocabSize * cfg.width }, (_, i) => Math.floor(i / cfg.width)), [cfg.vocabSize, cfg.width], { backend: cpuBackend });
    const pr = initPrompt(word, 12, key(9));
    expect(pr.shape).toEqual([12, cfg.width]);
    const v = cpuRead(pr);
    const rows = Array.from({ length: 12 }, (_, i) => v[i * cfg.width]);
    for (let i = 0; i < 12; i++) {
      expect(rows[i]).toBeGreaterThanOrEqual(4);
      expect(rows[i]).toBeLessThan(cfg.vocabSize);
      for (let d = 0; d < cfg.width; d++) expect(v[i * cfg.width + d]).toBe(rows[i]);
    }
    expect(new Set(rows).size).toBeGreaterThan(6);
    const again = initPrompt(word, 12, key(9)), other = initPrompt(word, 12, key(10));
    expect([...cpuRead(again)]).toEqual([...v]);
    expect([...cpuRead(other)]).not.toEqual([...v]);
    expect(() => initPrompt(word, 0, key(1))).toThrow(/positive integer/);
    release(word, pr, again, other);
  });
});

describe('adapters in the forward pass', () => {
  for (const be of backends) {
    for (const fused of [true, false]) {
      it(`${be.name}${fused ? '' : ' unfused'}: fresh adapters are the identity, bit for bit (hidden states and MLM loss, with gates)`, async () => {
        const p = params(be), a = initAdapters(cfg, key(4), be, R), q = withAdapters(p, a);
        const hb = hostBatch(3, 11), b = toDevice(cfg, hb, be), t = mlmTargets(hb, be), g = gatesFor(be, 3, [1, 2]);
        expect(bits(await encodeHost(q, b, { fused }))).toEqual(bits(await encodeHost(p, b, { fused })));
        expect(bits(await encodeHost(q, b, { fused, gates: g, dropout: { key: key(8) } }))).toEqual(bits(await encodeHost(p, b, { fused, gates: g, dropout: { key: key(8) } })));
        const [l1, l2] = tidy(() => [mlmLoss(cfg, q, b, t, { fused }), mlmLoss(cfg, p, b, t, { fused })]);
        expect(bits(await read(l1))).toEqual(bits(await read(l2)));
        release(p, a, b, t, g, l1, l2);
      });
    }

    it(`${be.name}: adapter(x) = x + up(GELU(down(x)) ⊙ mask), against a host f64 composition, fused and unfused`, async () => {
      const [N, D] = [7, cfg.width];
      const all = randomAdapters(be), a = all[0].attn;
      const xs = seededValues(N * D, 11, -2, 2), ms = seededValues(R, 12, 0, 1);
      const [wd, bd, wu, bu] = await Promise.all([a.down.weight, a.down.bias, a.up.weight, a.up.bias].map(async (t) => Array.from(await read(t))));
      const want = (mask: number[] | undefined): number[] => {
        const out: number[] = [];
        for (let i = 0; i < N; i++) {
          const h = Array.from({ length: R }, (_, j) => {
            let s = bd[j];
            for (let d = 0; d < D; d++) s += xs[i * D + d] * wd[j * D + d];
            return geluHost(s) * (mask ? mask[j] : 1);
          });
          for (let d = 0; d < D; d++) {
            let s = bu[d];
            for (let j = 0; j < R; j++) s += h[j] * wu[d * R + j];
            out.push(xs[i * D + d] + s);
          }
        }
        return out;
      };
      for (const fused of [true, false]) {
        for (const masked of [false, true]) {
          const y = tidy(() => adapter(fromArray(xs, [N, D], { backend: be }), a, masked ? fromArray(ms, [R], { backend: be }) : undefined, fused));
          expectAllClose(await read(y), want(masked ? ms : undefined), { rtol: 1e-5, atol: 1e-5 });
          release(y);
        }
      }
      expect(() => adapter(fromArray(xs, [N, D], { backend: be }), a, fromArray([1, 1], [2], { backend: be }))).toThrow(/unit mask must be \[4\]/);
      release(all);
    });

    it(`${be.name}: the adapters sit after each sub-layer's output, before add + norm (an up bias c = that output's bias + c)`, async () => {
      const p = params(be), a = initAdapters(cfg, key(4), be, R);
      const c = (seed: number) => fromArray(seededValues(cfg.width, seed, -0.5, 0.5), [cfg.width], { backend: be });
      const ca = c(21), cf = c(22);
      // up.weight = 0, up.bias = c: adapter(x) = x + c, whatever down is.
      const withBias = a.map((la, l) => (l === 1 ? { attn: { ...la.attn, up: { ...la.attn.up, bias: ca } }, ffn: { ...la.ffn, up: { ...la.ffn.up, bias: cf } } } : la));
      const q = withAdapters(p, withBias);
      const shifted: Params = tidy(() => ({
        ...p,
        layers: p.layers.map((L, l) => (l === 1 ? { ...L, attnOut: { ...L.attnOut, bias: add(L.attnOut.bias, ca) }, ffnOut: { ...L.ffnOut, bias: add(L.ffnOut.bias, cf) } } : L)),
      }));
      const b = toDevice(cfg, hostBatch(2, 9), be);
      for (const fused of [true, false]) expectCloseToScale(await encodeHost(q, b, { fused }), await encodeHost(shifted, b, { fused }), 1e-5);
      release(p, a, ca, cf, b, shifted.layers[1].attnOut.bias, shifted.layers[1].ffnOut.bias);
    });

    it(`${be.name}: a unit mask m equals scaling the up projection's columns by m; a zero mask leaves only up.bias`, async () => {
      const p = params(be), a = randomAdapters(be), m = masksFor(be);
      const b = toDevice(cfg, hostBatch(2, 9), be);
      const scaled = tidy(() => a.map((la, l) => ({
        attn: { ...la.attn, up: { ...la.attn.up, weight: mulCols(la.attn.up.weight, m[l].attn) } },
        ffn: { ...la.ffn, up: { ...la.ffn.up, weight: mulCols(la.ffn.up.weight, m[l].ffn) } },
      })));
      for (const fused of [true, false]) {
        const got = await encodeHost(withAdapters(p, a), b, { fused, adapterMasks: m });
        expectCloseToScale(got, await encodeHost(withAdapters(p, scaled), b, { fused }), 1e-5);
        expect(bits(got)).not.toEqual(bits(await encodeHost(withAdapters(p, a), b, { fused })));
      }
      const zeroMask = masksFor(be).map((x) => tidy(() => ({ attn: scaleT(x.attn, 0), ffn: scaleT(x.ffn, 0) })));
      const upZero = tidy(() => a.map((la) => ({ attn: { ...la.attn, up: { ...la.attn.up, weight: scaleT(la.attn.up.weight, 0) } }, ffn: { ...la.ffn, up: { ...la.ffn.up, weight: scaleT(la.ffn.up.weight, 0) } } })));
      expectCloseToScale(await encodeHost(withAdapters(p, a), b, { adapterMasks: zeroMask }), await encodeHost(withAdapters(p, upZero), b), 1e-5);
      release(p, a, m, b, scaled.map((s) => [s.attn.up.weight, s.ffn.up.weight]), zeroMask, upZero.map((s) => [s.attn.up.weight, s.ffn.up.weight]));
    });

    it(`${be.name}: random adapters with masks, gates and dropout: fused equals unfused to f32 rounding, loss and gradients`, async () => {
      const p = withAdapters(params(be), randomAdapters(be)), m = masksFor(be);
      const hb = hostBatch(3, 11), b = toDevice(cfg, hb, be), t = mlmTargets(hb, be), g = gatesFor(be, 3);
      const run = async (fused: boolean) => {
        const o = (mm: AdapterMask[]): ForwardOptions => ({ fused, adapterMasks: mm, gates: g, dropout: { key: key(5) } });
        const [loss, gr] = tidy(() => valueAndGrad((x: { params: Params; masks: AdapterMask[] }) => mlmLoss(cfg, x.params, b, t, o(x.masks)), ['params', 'masks'])({ params: p, masks: m }));
        const out: [string, Float32Array][] = [['loss', Float32Array.from(await read(loss))]];
        for (const [path, x] of treeLeavesWithPaths(gr)) out.push([path, Float32Array.from(await read(x))]);
        release(loss, gr);
        return out;
      };
      const f = await run(true), u = await run(false);
      expect(f.map(([k]) => k)).toEqual(u.map(([k]) => k));
      expect(f.map(([k]) => k)).toContain('params.layers[1].adapter.ffn.up.weight');
      expect(f.map(([k]) => k)).toContain('masks[0].attn');
      f.forEach(([k, x], i) => {
        try {
          if (k.endsWith('key.bias')) expectAllClose(x, u[i][1], { rtol: 0, atol: 1e-7 });
          else expectCloseToScale(x, u[i][1], 2e-5);
        } catch (e) { throw new Error(`${k}: ${(e as Error).message}`); }
      });
      release(p, m, b, t, g);
    });
  }

  it.skipIf(!gpu)('WebGPU equals the CPU on a model with random adapters, masks and a prompt (hidden states and gradients)', async () => {
    const run = async (be: Backend, fused: boolean) => {
      const base = withAdapters(params(be), randomAdapters(be));
      const p: Params = { ...base, prompt: initPrompt(base.embeddings.word, 3, key(6)) };
      const m = masksFor(be), hb = hostBatch(3, 11), b = toDevice(cfg, hb, be), t = mlmTargets(hb, be);
      const [z, gr] = tidy(() => [
        encode(cfg, p, b, { fused, adapterMasks: m }),
        valueAndGrad((x: { params: Params; masks: AdapterMask[] }) => mlmLoss(cfg, x.params, b, t, { fused, adapterMasks: x.masks }), ['params', 'masks'])({ params: p, masks: m })[1],
      ] as const);
      const out: [string, Float32Array][] = [['hidden', Float32Array.from(await read(z))]];
      for (const [path, x] of treeLeavesWithPaths(gr)) out.push([path, Float32Array.from(await read(x))]);
      release(p, m, b, t, z, gr);
      return out;
    };
    for (const fused of [true, false]) {
      const c = await run(cpuBackend, fused), w = await run(gpu!, fused);
      c.forEach(([k, x], i) => {
        try {
          if (k.endsWith('key.bias')) expectAllClose(w[i][1], x, { rtol: 0, atol: 1e-6 });
          else expectCloseToScale(w[i][1], x, 1e-4);
        } catch (e) { throw new Error(`${k}: ${(e as Error).message}`); }
      });
    }
  });

  it('a mask for a model without adapters is an error naming the problem', () => {
    const p = params(cpuBackend), b = toDevice(cfg, hostBatch(2, 6), cpuBackend), m = masksFor(cpuBackend);
    expect(() => encode(cfg, p, b, { adapterMasks: m })).toThrow(/adapterMasks: given for a model without adapters/);
    const q = withAdapters(p, initAdapters(cfg, key(1), cpuBackend, R));
    expect(() => encode(cfg, q, b, { adapterMasks: m.slice(1) })).toThrow(/adapterMasks: 1 layers given, the model has 2/);
    release(p, b, m, adaptersOf(q));
  });
});

const scaleT = (t: Tensor, s: number): Tensor => scalarOp('mul', t, s);
/** w [D, r] with column j scaled by m[j]. */
const mulCols = (w: Tensor, m: Tensor): Tensor => mul(w, m);

describe('f64 finite differences (CPU)', () => {
  for (const fused of [true, false]) {
    it(`${fused ? 'fused' : 'unfused'}: the MLM loss's gradient wrt adapter weights, unit masks and the prompt`, async () => {
      const be = cpuBackend;
      const f64 = <T>(t: T): T => treeMap(t, (x) => cast(x, 'f64'));
      const base = withAdapters(params(be, 4), randomAdapters(be, 8));
      const p: Params = f64({ ...base, prompt: initPrompt(base.embeddings.word, 2, key(3)) });
      const m = f64(masksFor(be, 50));
      const hb = hostBatch(2, 7, 9), b0 = toDevice(cfg, hb, be), t = mlmTargets(hb, be);
      const b: Batch = { ...b0, mask: cast(b0.mask, 'f64'), maskBias: cast(b0.maskBias, 'f64') };
      type Args = { adapters: LayerAdapters[]; masks: AdapterMask[]; prompt: Tensor };
      const loss = (x: Args) => mlmLoss(cfg, { ...withAdapters(p, x.adapters), prompt: x.prompt }, b, t, { fused, adapterMasks: x.masks });
      const args: Args = { adapters: adaptersOf(p)!, masks: m, prompt: p.prompt! };
      const [, g] = tidy(() => valueAndGrad(loss, ['adapters', 'masks', 'prompt'])(args));
      const leaves = treeLeavesWithPaths(args), gl = treeLeavesWithPaths(g);
      expect(gl.map(([k]) => k)).toEqual(leaves.map(([k]) => k));
      const eps = 1e-6;
      // One direction per kind of leaf, and one through all of them together.
      const groups: [string, RegExp][] = [['down', /down/], ['up', /up/], ['masks', /^masks/], ['prompt', /^prompt/], ['all', /./]];
      for (const [name, re] of groups) {
        const dir = leaves.map(([k, x], i) => (re.test(k) ? seededValues(x.size, 300 + i, -1, 1) : new Array<number>(x.size).fill(0)));
        const at = (s: number): number => tidy(() => {
          let i = 0;
          const moved = treeMap(args, (x) => add(x, fromArray(dir[i++].map((v) => s * eps * v), x.shape, { backend: be, dtype: 'f64' })));
          return cpuRead(loss(moved))[0];
        });
        const numeric = (at(1) - at(-1)) / (2 * eps);
        let analytic = 0;
        gl.forEach(([, x], i) => { const v = cpuRead(x); for (let k = 0; k < v.length; k++) analytic += v[k] * dir[i][k]; });
        expect(Math.abs(analytic), name).toBeGreaterThan(1e-6);
        expect(Math.abs(numeric - analytic), `${name}: numeric ${numeric}, analytic ${analytic}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(analytic));
      }
      release(base, p, m, b0, b, t, g);
    });
  }
});

describe('the soft prompt', () => {
  /**
   * The reference: the plain model on the sequences with n extra tokens in front (explicit positions,
   * keys unmasked), its last T outputs. The prompt is those tokens' embedding output, so the two agree.
   */
  async function reference(be: Backend, p: Params, hb: HostBatch, front: number[], o: ForwardOptions): Promise<{ prompt: Tensor; z: Float32Array }> {
    const n = front.length, { B, T } = hb;
    const b = toDevice(cfg, hb, be);
    const pos = cpuOrRead(await read(b.positions));
    const ids = new Int32Array(B * (n + T)), positions = new Int32Array(B * (n + T)), bias = new Float32Array(B * (n + T));
    for (let r = 0; r < B; r++) {
      for (let i = 0; i < n; i++) { ids[r * (n + T) + i] = front[i]; positions[r * (n + T) + i] = cfg.padId + 1 + i; }
      for (let i = 0; i < T; i++) {
        ids[r * (n + T) + n + i] = hb.ids[r * T + i];
        positions[r * (n + T) + n + i] = pos[r * T + i];
        bias[r * (n + T) + n + i] = hb.ids[r * T + i] === cfg.padId ? -10000 : 0;
      }
    }
    const long: Batch = {
      ids: fromArray(ids, [B, n + T], { dtype: 'i32', backend: be }), positions: fromArray(positions, [B, n + T], { dtype: 'i32', backend: be }),
      maskBias: fromArray(bias, [B, 1, 1, n + T], { backend: be }), mask: fromArray(bias.map((v) => (v === 0 ? 1 : 0)), [B, n + T], { backend: be }),
    };
    const prompt = tidy(() => reshape(slice(embed(cfg, p.embeddings, long, undefined, o.fused ?? true), [0, 0, 0], [1, n, cfg.width]), [n, cfg.width]));
    const z = tidy(() => slice(encode(cfg, p, long, o), [0, n, 0]));
    const out = { prompt, z: Float32Array.from(await read(z)) };
    release(b, long, z);
    return out;
  }
  const cpuOrRead = (a: ArrayLike<number>): Int32Array => Int32Array.from(a);

  for (const be of backends) {
    for (const fused of [true, false]) {
      it(`${be.name}${fused ? '' : ' unfused'}: encode with a prompt equals the plain model on longer sequences (also with per-example gates and adapters)`, async () => {
        const p = params(be), hb = hostBatch(3, 10), front = [7, 42, 13];
        for (const variant of ['plain', 'gates', 'adapters'] as const) {
          const g = variant === 'gates' ? gatesFor(be, 3, [0, 1]) : undefined;
          const model = variant === 'adapters' ? withAdapters(p, randomAdapters(be)) : p;
          const ref = await reference(be, model, hb, front, { fused, gates: g });
          const b = toDevice(cfg, hb, be);
          const got = await encodeHost({ ...model, prompt: ref.prompt }, b, { fused, gates: g });
          expect(got.length).toBe(3 * 10 * cfg.width);
          try { expectCloseToScale(got, ref.z, 1e-5); } catch (e) { throw new Error(`${variant}: ${(e as Error).message}`); }
          release(g, ref.prompt, b, model === p ? undefined : adaptersOf(model));
        }
        release(p);
      });
    }

    it(`${be.name}: an empty prompt is no prompt; another prompt changes the outputs, not their shape`, async () => {
      const p = params(be), hb = hostBatch(2, 8), b = toDevice(cfg, hb, be);
      const plain = await encodeHost(p, b);
      const empty = fromArray([], [0, cfg.width], { backend: be });
      expect(bits(await encodeHost({ ...p, prompt: empty }, b))).toEqual(bits(plain));
      const pr1 = initPrompt(p.embeddings.word, 4, key(1)), pr2 = initPrompt(p.embeddings.word, 4, key(2));
      const z1 = tidy(() => encode(cfg, { ...p, prompt: pr1 }, b));
      expect(z1.shape).toEqual([2, 8, cfg.width]);
      const a1 = Float32Array.from(await read(z1)), a2 = await encodeHost({ ...p, prompt: pr2 }, b);
      const diff = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => Math.max(s, Math.abs(v - y[i])), 0);
      expect(diff(a1, plain)).toBeGreaterThan(1e-3);
      expect(diff(a1, a2)).toBeGreaterThan(1e-3);
      expect(() => encode(cfg, { ...p, prompt: fromArray(new Array<number>(8).fill(0), [2, 4], { backend: be }) }, b)).toThrow(/prompt: must be \[n, 24\], got \[2, 4\]/);
      release(p, b, empty, pr1, pr2, z1);
    });

    it(`${be.name}: with a prompt, padding keys stay masked (trailing padding leaves the real tokens' outputs alone)`, async () => {
      const p = params(be), pr = initPrompt(p.embeddings.word, 3, key(4));
      const short: HostBatch = { B: 1, T: 6, ids: Int32Array.from([0, 11, 27, 35, 50, 2]) };
      const padded: HostBatch = { B: 1, T: 10, ids: Int32Array.from([0, 11, 27, 35, 50, 2, 1, 1, 1, 1]) };
      const [bs, bp] = [toDevice(cfg, short, be), toDevice(cfg, padded, be)];
      for (const fused of [true, false]) {
        const zs = await encodeHost({ ...p, prompt: pr }, bs, { fused }), zp = await encodeHost({ ...p, prompt: pr }, bp, { fused });
        expectCloseToScale(zp.subarray(0, 6 * cfg.width), zs, 1e-5);
      }
      release(p, pr, bs, bp);
    });
  }
});

describe('DAS gates on a model with adapters and a prompt', () => {
  for (const be of backends) {
    it(`${be.name}: a zero head gate changes the output; gate gradients (KL and MLM importance) run and are finite`, async () => {
      const base = withAdapters(params(be), randomAdapters(be));
      const p: Params = { ...base, prompt: initPrompt(base.embeddings.word, 2, key(5)) };
      const hb = hostBatch(3, 10), b = toDevice(cfg, hb, be);
      for (const model of [base, p]) {
        const ones = await encodeHost(model, b, { gates: gatesFor(be, 3) }), zero = await encodeHost(model, b, { gates: gatesFor(be, 3, [1, 0]) });
        expectCloseToScale(ones, await encodeHost(model, b), 1e-5);
        expect(zero.reduce((s, v, i) => Math.max(s, Math.abs(v - ones[i])), 0)).toBeGreaterThan(1e-3);
      }
      for (const loss of ['kl', 'mlm'] as const) {
        for (const perExample of [false, true]) {
          const s = gateGrads(cfg, p, hb, { loss, perExample, dropout: [{ key: key(1) }, { key: key(2) }] });
          expect(s.head.shape).toEqual(perExample ? [3, cfg.layers, cfg.heads] : [cfg.layers, cfg.heads]);
          for (const k of ['head', 'intermediate', 'output'] as const) {
            const v = await read(s[k]);
            expect(v.every((x) => Number.isFinite(x))).toBe(true);
            expect(v.some((x) => x !== 0)).toBe(true);
          }
          release(s);
        }
      }
      release(p, base, b);
    });
  }
});

describe('checkpoints with adapters and a prompt', () => {
  let root = '';
  beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'adapters-')); });
  afterAll(async () => { await rm(root, { recursive: true, force: true }); });

  const model = (be: Backend): Params => {
    const base = withAdapters(params(be), randomAdapters(be));
    return { ...base, prompt: initPrompt(base.embeddings.word, 5, key(2)) };
  };

  it('save then load gives equal tensors under the same paths; config.json names the adapter units and the prompt length', async () => {
    const p = model(cpuBackend), dir = join(root, 'ck');
    await saveCheckpoint(dir, cfg, p);
    const conf = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(conf.das_adapter_units).toBe(R);
    expect(conf.das_prompt_length).toBe(5);
    const ck = await loadCheckpoint(dir, cpuBackend);
    if (E.isLeft(ck)) throw ck.left;
    const want = treeLeavesWithPaths(p), got = treeLeavesWithPaths(ck.right.params);
    expect(got.map(([k]) => k)).toEqual(want.map(([k]) => k)); // the same tree, in the same order
    expect(got.map(([k]) => k)).toContain('layers[1].adapter.ffn.up.bias');
    expect(got.map(([k]) => k)).toContain('prompt');
    got.forEach(([k, t], i) => { expect(t.shape, k).toEqual(want[i][1].shape); expect(bits(cpuRead(t)), k).toEqual(bits(cpuRead(want[i][1]))); });
    const names = [...(await paramsToHf(cfg, p)).keys()];
    expect(names).toContain('roberta.encoder.layer.0.adapter.attention.down.weight');
    expect(names).toContain('roberta.encoder.layer.1.adapter.output.up.bias');
    expect(names).toContain(PROMPT_NAME);
    // a plain model writes neither the keys nor the tensors
    const plain = params(cpuBackend), dir2 = join(root, 'plain');
    await saveCheckpoint(dir2, cfg, plain);
    const conf2 = JSON.parse(await readFile(join(dir2, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(conf2).filter((k) => k.startsWith('das_'))).toEqual([]);
    const ck2 = await loadCheckpoint(dir2, cpuBackend);
    if (E.isLeft(ck2)) throw ck2.left;
    expect(adaptersOf(ck2.right.params)).toBeUndefined();
    expect(ck2.right.params.prompt).toBeUndefined();
    release(p, ck.right.params, plain, ck2.right.params);
  });

  it('a wrong-shaped adapter or prompt tensor, or adapters on only some layers, is an IoError naming the tensor', async () => {
    const p = model(cpuBackend);
    const host = await paramsToHf(cfg, p);
    const cases: [string, (m: typeof host) => void, RegExp][] = [
      ['up.weight [D, r+1]', (m) => { m.set('roberta.encoder.layer.1.adapter.output.up.weight', { dtype: 'f32', shape: [cfg.width, R + 1], data: new Float32Array(cfg.width * (R + 1)) }); }, /roberta\.encoder\.layer\.1\.adapter\.output\.up\.weight.*shape \[24, 5\] does not match the config's \[24, 4\]/],
      ['down.weight [r, D-1]', (m) => { m.set('roberta.encoder.layer.0.adapter.attention.down.weight', { dtype: 'f32', shape: [R, cfg.width - 1], data: new Float32Array(R * (cfg.width - 1)) }); }, /roberta\.encoder\.layer\.0\.adapter\.attention\.down\.weight.*\[4, 23\] does not match the config's \[4, 24\]/],
      ['prompt [n, D+1]', (m) => { m.set(PROMPT_NAME, { dtype: 'f32', shape: [5, cfg.width + 1], data: new Float32Array(5 * (cfg.width + 1)) }); }, /roberta\.prompt\.embeddings.*\[5, 25\] does not match the config's \[5, 24\]/],
      ['layer 1 without adapters', (m) => { for (const k of [...m.keys()]) if (k.startsWith('roberta.encoder.layer.1.adapter.')) m.delete(k); }, /roberta\.encoder\.layer\.1\.adapter\.attention\.down\.weight.*missing tensor.*every layer needs/],
      ['one adapter tensor missing', (m) => { m.delete('roberta.encoder.layer.0.adapter.output.down.bias'); }, /roberta\.encoder\.layer\.0\.adapter\.output\.down\.bias.*missing tensor/],
      ['an adapter on a layer the config lacks', (m) => { m.set('roberta.encoder.layer.2.adapter.attention.up.bias', { dtype: 'f32', shape: [cfg.width], data: new Float32Array(cfg.width) }); }, /roberta\.encoder\.layer\.2\.adapter\.attention\.up\.bias.*unexpected tensor/],
    ];
    for (const [name, edit, want] of cases) {
      const m = new Map(host);
      edit(m);
      const direct = paramsFromHf(cfg, m, cpuBackend);
      expect(E.isLeft(direct), name).toBe(true);
      const err = (direct as E.Left<IoError>).left;
      expect(`${err.message}`, name).toMatch(want);
      const viaBytes = parseCheckpoint(JSON.stringify({ model_type: 'roberta', vocab_size: cfg.vocabSize, hidden_size: cfg.width, num_hidden_layers: cfg.layers, num_attention_heads: cfg.heads, intermediate_size: cfg.intermediate, max_position_embeddings: cfg.maxPositions, type_vocab_size: 1 }), serializeSafetensors(m), cpuBackend);
      expect(E.isLeft(viaBytes), name).toBe(true);
    }
    release(p);
  });
});
