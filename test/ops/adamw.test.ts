import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AdamwOptions, type Backend, type Tensor, HF_ADAMW, ShapeError, adamwUpdate, clipByGlobalNorm, cpuRead, fromArray,
  globalNorm, grad, read, release, sum, tidy,
} from '../../src/index.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { gpu, cpuBackend } from '../support/devices.js';
import { checkVjp, expectAllClose, seededValues } from '../support/oracle.js';

type Mode = Pick<AdamwOptions, 'decay' | 'epsOn'>;
const modes: Mode[] = [{}, { decay: 'after' }, { epsOn: 'v' }, HF_ADAMW];
const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.05 };

/** PyTorch / transformers AdamW written out plainly, one element at a time, in f64. */
function reference(p: number[], g: number[][], o: typeof hyper & Mode): { p: number[]; m: number[]; v: number[] } {
  const q = [...p], m = p.map(() => 0), v = p.map(() => 0);
  g.forEach((gt, k) => {
    const t = k + 1, bc1 = 1 - o.beta1 ** t, bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < q.length; i++) {
      let x = q[i];
      if (o.decay !== 'after') x *= 1 - o.lr * o.weightDecay;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gt[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gt[i] * gt[i];
      if (o.epsOn === 'v') x -= (o.lr * Math.sqrt(bc2) / bc1) * m[i] / (Math.sqrt(v[i]) + o.eps);
      else x -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i] / bc2) + o.eps);
      if (o.decay === 'after') x -= o.lr * o.weightDecay * x;
      q[i] = x;
    }
  });
  return { p: q, m, v };
}

/** Runs `steps` updates from m = v = 0 on one backend; returns host copies. */
async function run(be: Backend, p0: number[], gs: number[][], shape: number[], o: Partial<AdamwOptions>, dtype: 'f32' | 'f64' = 'f32') {
  const mk = (vals: number[], sh = shape) => fromArray(vals, sh, { backend: be, dtype });
  let p = mk(p0), m = mk(p0.map(() => 0)), v = mk(p0.map(() => 0));
  for (const [k, gv] of gs.entries()) {
    const g = mk(gv);
    const next = adamwUpdate(p, g, m, v, { ...hyper, ...o, step: k + 1 });
    release(p, m, v, g);
    [p, m, v] = next;
  }
  const out = { p: Array.from(await read(p)), m: Array.from(await read(m)), v: Array.from(await read(v)) };
  release(p, m, v);
  return out;
}

const grads = (n: number, steps: number, seed: number) => Array.from({ length: steps }, (_, k) => seededValues(n, seed + k, -2, 2));

describe('adamwUpdate', () => {
  for (const mode of modes) {
    it(`CPU f64 matches a hand-written reference over 6 steps (decay ${mode.decay ?? 'before'}, eps on ${mode.epsOn ?? 'vhat'})`, async () => {
      const n = 37, p0 = seededValues(n, 1, -1, 1), gs = grads(n, 6, 10);
      const got = await run(cpuBackend, p0, gs, [n], mode, 'f64');
      const want = reference(p0, gs, { ...hyper, ...mode });
      expectAllClose(got.p, want.p, { rtol: 1e-13, atol: 1e-15 });
      expectAllClose(got.m, want.m, { rtol: 1e-13, atol: 1e-15 });
      expectAllClose(got.v, want.v, { rtol: 1e-13, atol: 1e-15 });
    });
  }

  it('the first step moves each parameter by ≈ lr·sign(g)', async () => {
    const got = await run(cpuBackend, [1, 1, 1], [[0.5, -3, 1e-3]], [3], { weightDecay: 0 }, 'f64');
    expectAllClose(got.p, [0.5, -3, 1e-3].map((g) => 1 - 1e-2 * Math.sign(g) * (Math.abs(g) / (Math.abs(g) + 1e-6))), { rtol: 1e-12 });
    expectAllClose(got.m, [0.05, -0.3, 1e-4], { rtol: 1e-12 });
    expectAllClose(got.v, [0.25e-3, 9e-3, 1e-9], { rtol: 1e-12 });
  });

  it("emit 'update' gives the parameter change u = −δ (p' = p + u) with the same moments, on every backend", async () => {
    const shape = [4, 6], n = 24;
    const [p0, g0, m0, v0] = [seededValues(n, 2), seededValues(n, 3, -2, 2), seededValues(n, 4, -0.1, 0.1), seededValues(n, 5, 0, 0.01)];
    for (const mode of modes) {
      const once = async (be: Backend, dtype: 'f32' | 'f64', emit: 'param' | 'update') => {
        const [p, g, m, v] = [p0, g0, m0, v0].map((x) => fromArray(x, shape, { backend: be, dtype }));
        const r = adamwUpdate(p, g, m, v, { ...hyper, ...mode, step: 3, emit });
        const out = await Promise.all(r.map(async (t) => Array.from(await read(t))));
        release(p, g, m, v, r);
        return out;
      };
      // f64: p' − p and u agree to f64 rounding of p
      const [pn, mn, vn] = await once(cpuBackend, 'f64', 'param'), [u, mu, vu] = await once(cpuBackend, 'f64', 'update');
      expectAllClose(u, pn.map((x, i) => x - p0[i]), { rtol: 0, atol: 1e-15 });
      expect(mu).toEqual(mn);
      expect(vu).toEqual(vn);
      for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
        const [p32, m32, v32] = await once(be, 'f32', 'param'), [u32, um, uv] = await once(be, 'f32', 'update');
        expect(um).toEqual(m32);
        expect(uv).toEqual(v32);
        // p + u rounds once more than p − δ: within an f32 ulp of p'
        const base = Array.from(Float32Array.from(p0));
        expectAllClose(base.map((x, i) => Math.fround(x + u32[i])), p32, { rtol: 2 ** -23, atol: 2 ** -29 });
      }
    }
  });

  it.skipIf(!gpu)('WebGPU equals the CPU on awkward shapes, any step and state', async () => {
    await fc.assert(fc.asyncProperty(arbShape({ maxSize: 5000 }), fc.integer({ min: 1, max: 3000 }), fc.constantFrom(...modes), fc.nat(1000), async (shape, step, mode, seed) => {
      const n = sizeOfShape(shape);
      const vals = [seededValues(n, seed, -2, 2), seededValues(n, seed + 1, -1, 1), seededValues(n, seed + 2, -0.1, 0.1), seededValues(n, seed + 3, 0, 0.01)];
      const once = async (be: Backend) => tidy(() => {
        const [p, g, m, v] = vals.map((x) => fromArray(x, shape, { backend: be }));
        return adamwUpdate(p, g, m, v, { ...hyper, ...mode, step });
      });
      const readAll = async (ts: Tensor[]) => { const r = await Promise.all(ts.map((t) => read(t))); release(ts); return r; };
      const [wp, wm, wv] = await readAll(await once(cpuBackend));
      const [gp, gm, gv] = await readAll(await once(gpu!));
      expectAllClose(gp, wp, { rtol: 0, atol: 5e-7 }); // |p| ≤ 2: about two f32 ulps
      // m and v cancel (β·m ≈ −(1−β)·g): absolute error is a few ulps of the larger term
      expectAllClose(gm, wm, { rtol: 3e-7, atol: 3e-8 });
      expectAllClose(gv, wv, { rtol: 3e-7, atol: 3e-9 });
    }), { numRuns: 15 });
  });

  it('zero gradients with weightDecay 0 leave p, m and v exactly unchanged', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      for (const mode of modes) {
        const p0 = seededValues(300, 6, -3, 3);
        const got = await run(be, p0, [new Array(300).fill(0), new Array(300).fill(0)], [300], { ...mode, weightDecay: 0 });
        expect(got.p).toEqual(Array.from(Float32Array.from(p0)));
        expect(got.m.every((x) => x === 0) && got.v.every((x) => x === 0)).toBe(true);
      }
    }
  });

  it('a 1M-parameter update runs and agrees across backends', async () => {
    const n = 1 << 20, shape = [1024, 1024];
    const p0 = seededValues(n, 7), gs = grads(n, 2, 30);
    const c = await run(cpuBackend, p0, gs, shape, HF_ADAMW);
    expect(c.p.every(Number.isFinite)).toBe(true);
    if (gpu) {
      const g = await run(gpu, p0, gs, shape, HF_ADAMW);
      expectAllClose(g.p, c.p, { rtol: 0, atol: 3e-7 });
      expectAllClose(g.v, c.v, { rtol: 3e-7, atol: 1e-12 });
    }
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const n = 65536 * 256 + 300;
    const p0 = new Float32Array(n).map((_, i) => Math.sin(i)), g0 = new Float32Array(n).map((_, i) => Math.cos(i));
    const step = async (be: Backend) => {
      const [p, g, z] = [p0, g0, new Float32Array(n)].map((x) => fromArray(x, [n], { backend: be }));
      const r = adamwUpdate(p, g, z, z, { ...hyper, step: 1 });
      const out = [await read(r[0]), await read(r[2])];
      release(p, g, z, r);
      return out;
    };
    const [wp, wv] = await step(cpuBackend), [gp, gv] = await step(gpu!);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (Math.abs(gp[i] - wp[i]) > 2.5e-7 || Math.abs(gv[i] - wv[i]) > 1e-9) bad = i;
    expect(bad).toBe(-1);
  });

  it('rejects mismatched shapes, bad steps and an unknown emit; is not differentiable', () => {
    tidy(() => {
      const be = cpuBackend;
      const a = fromArray([1, 2, 3, 4], [2, 2], { backend: be }), b = fromArray([1, 2, 3, 4], [4], { backend: be });
      const o = { ...hyper, step: 1 };
      expect(() => adamwUpdate(a, b, a, a, o)).toThrow(ShapeError);
      expect(() => adamwUpdate(a, a, a, a, { ...o, step: 0 })).toThrow(/step/);
      expect(() => adamwUpdate(a, a, a, a, { ...o, emit: 'p' as 'param' })).toThrow(/emit/);
      expect(() => grad(({ x }: { x: Tensor }) => sum(adamwUpdate(x, a, a, a, o)[0]), ['x'])({ x: a })).toThrow(/not differentiable/);
    });
  });
});

describe('globalNorm and clipByGlobalNorm', () => {
  const data = [{ values: [3, 4], shape: [2] }, { values: [12], shape: [1, 1] }, { values: [], shape: [0] }];

  it('globalNorm is sqrt of the summed squares (13 for [3, 4] and [12])', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      const ts = data.map((d) => fromArray(d.values, d.shape, { backend: be }));
      const nrm = globalNorm(ts);
      expect(nrm.shape).toEqual([]);
      expectAllClose(await read(nrm), [13]);
      release(ts, nrm);
    }
    expect(() => globalNorm([])).toThrow(ShapeError);
  });

  it('clipping scales by maxNorm / (norm + 1e-6) above maxNorm and leaves smaller gradients alone', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      const ts = data.map((d) => fromArray(d.values, d.shape, { backend: be }));
      const [clipped, nrm] = clipByGlobalNorm(ts, 6.5);
      const c = 6.5 / (13 + 1e-6);
      expectAllClose(await read(nrm), [13]);
      expectAllClose(await read(clipped[0]), [3 * c, 4 * c], { rtol: 1e-6 });
      expectAllClose(await read(clipped[1]), [12 * c], { rtol: 1e-6 });
      const [same] = clipByGlobalNorm(ts, 100);
      expect(Array.from(await read(same[0]))).toEqual([3, 4]);
      release(ts, clipped, nrm, same);
    }
  });

  it.skipIf(!gpu)('WebGPU equals the CPU on many awkward tensors', async () => {
    await fc.assert(fc.asyncProperty(fc.array(arbShape({ maxSize: 3000 }), { minLength: 1, maxLength: 6 }), async (shapes) => {
      const vals = shapes.map((s, i) => seededValues(sizeOfShape(s), i + 1));
      const norm = async (be: Backend) => {
        const ts = vals.map((v, i) => fromArray(v, shapes[i], { backend: be }));
        const [cl, nrm] = clipByGlobalNorm(ts, 1);
        const out = [Array.from(await read(nrm)), ...(await Promise.all(cl.map(async (t) => Array.from(await read(t)))))];
        release(ts, cl, nrm);
        return out;
      };
      const want = await norm(cpuBackend), got = await norm(gpu!);
      const total = vals.reduce((a, v) => a + v.length, 0);
      want.forEach((w, i) => expectAllClose(got[i], w, { rtol: 1e-6 * Math.sqrt(total + 1), atol: 1e-7 }));
    }), { numRuns: 15 });
  });

  it('globalNorm and clipping: VJPs agree with central differences (f64)', () => {
    const ins = [{ values: seededValues(6, 1), shape: [2, 3] }, { values: seededValues(4, 2), shape: [4] }];
    checkVjp((a, b) => globalNorm([a, b]), ins);
    checkVjp((a, b) => sum(clipByGlobalNorm([a, b], 0.5)[0][1]), ins);
    expect(cpuRead(tidy(() => globalNorm([fromArray([0], [1], { backend: cpuBackend })])))[0]).toBe(0);
  });
});
