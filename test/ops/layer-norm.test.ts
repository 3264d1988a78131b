import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type HostArray, type RowGeometry, type Tensor, ShapeError, add, addLayerNorm, cpu, cpuRead, fromArray, layerNorm, layerNormBackward,
  read, release, tidy, vjp,
} from '../../src/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { geometries, tiny, withGeometry } from '../support/row-geometry.js';
import { checkVjp, expectAllClose, expectCloseToScale, on, seededValues } from '../support/oracle.js';


interface Case { shape: number[]; x: ArrayLike<number>; w: ArrayLike<number>; b: ArrayLike<number>; g: ArrayLike<number> }

/** Rows alternate around ±2, so every row of width ≥ 2 has a spread of order 1 (well conditioned). */
function makeCase(shape: number[], seed: number, offset = 0): Case {
  const n = sizeOfShape(shape), d = shape[shape.length - 1];
  return {
    shape,
    x: seededValues(n, seed).map((v, i) => v + offset + (i % 2 === 0 ? 2 : -2)),
    w: seededValues(d, seed + 1, 0.5, 1.5),
    b: seededValues(d, seed + 2),
    g: seededValues(n, seed + 3),
  };
}

/** [y, dx, dweight, dbias] on one backend. */
async function forwardAndGrads(be: Backend, c: Case): Promise<HostArray[]> {
  const d = c.shape[c.shape.length - 1];
  const x = on(be, c.x, c.shape), w = on(be, c.w, [d]), b = on(be, c.b, [d]), g = on(be, c.g, c.shape);
  const outs = tidy(() => {
    const [y, pull] = vjp((a: { x: Tensor; w: Tensor; b: Tensor }) => layerNorm(a.x, a.w, a.b), ['x', 'w', 'b'])({ x, w, b });
    const gr = pull(g);
    return [y, gr.x, gr.w, gr.b];
  });
  const host = await Promise.all(outs.map((t) => read(t)));
  release(outs, x, w, b, g);
  return host;
}

/** Tolerances scale with the row length (statistics) and, for dweight/dbias, with the row count. */
async function expectBackendsAgree(c: Case): Promise<void> {
  const d = c.shape[c.shape.length - 1], rows = sizeOfShape(c.shape) / d;
  const want = await forwardAndGrads(cpuBackend, c);
  const got = await forwardAndGrads(gpu!, c);
  const rowTol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(d) };
  const colTol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(rows) };
  [rowTol, rowTol, colTol, colTol].forEach((tol, i) => expectAllClose(got[i], want[i], tol));
}

describe('layerNorm', () => {
  for (const g of geometries) {
    it.skipIf(!gpu)(`${g} per row: output and gradients on WebGPU equal the CPU reference`, async () => {
      await withGeometry(g, () => fc.assert(fc.asyncProperty(arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }), fc.nat(1000), fc.integer({ min: -5, max: 5 }), async (shape, seed, offset) => {
        await expectBackendsAgree(makeCase(shape, seed, offset));
      }), { numRuns: 12 }));
    });
  }

  it.skipIf(!gpu)('awkward rows × columns agree with the CPU (rows 1, primes, 1000; columns 1, 3, 257, 2000)', async () => {
    for (const g of geometries) {
      await withGeometry(g, async () => {
        for (const shape of [[1, 1], [1, 2000], [7, 1], [13, 3], [31, 257], [3, 2000], [1000, 5], [2, 3, 768]]) await expectBackendsAgree(makeCase(shape, shape[0]));
      });
    }
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups fold correctly in both geometries', async () => {
    for (const g of geometries) await withGeometry(g, () => expectBackendsAgree(makeCase([70_001, 3], 11)), tiny);
  });

  it('VJP with respect to x, weight and bias agrees with central differences (f64)', () => {
    fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 3, maxSize: 60 }), fc.nat(1000), (shape, seed) => {
      const c = makeCase(shape, seed, 1);
      const d = shape[shape.length - 1];
      const inputs = [{ values: c.x, shape }, { values: c.w, shape: [d] }, { values: c.b, shape: [d] }];
      checkVjp((x, w, b) => layerNorm(x, w, b), inputs);
      for (const wrt of [[0], [1], [2]]) checkVjp((x, w, b) => layerNorm(x, w, b), inputs, { wrt });
    }), { numRuns: 20 });
  });

  it('with weight 1 and bias 0 every row has mean 0 and variance var/(var + eps) (f64)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.nat(1000), (rows, d, seed) => {
      const be = cpu();
      const xs = seededValues(rows * d, seed, -5, 5);
      const x = fromArray(xs, [rows, d], { backend: be, dtype: 'f64' });
      const y = cpuRead(layerNorm(x, fromArray(new Array(d).fill(1), [d], { backend: be, dtype: 'f64' }), fromArray(new Array(d).fill(0), [d], { backend: be, dtype: 'f64' })));
      for (let r = 0; r < rows; r++) {
        const row = xs.slice(r * d, (r + 1) * d), out = Array.from(y.slice(r * d, (r + 1) * d));
        const m = row.reduce((a, v) => a + v, 0) / d, v = row.reduce((a, u) => a + (u - m) ** 2, 0) / d;
        const my = out.reduce((a, u) => a + u, 0) / d, vy = out.reduce((a, u) => a + (u - my) ** 2, 0) / d;
        expect(Math.abs(my)).toBeLessThan(1e-12);
        expect(vy).toBeCloseTo(v / (v + 1e-5), 12);
      }
    }), { numRuns: 30 });
  });

  it.skipIf(!gpu)('on WebGPU, weight 1 and bias 0 give rows of mean 0 and variance 1', async () => {
    const [rows, d] = [19, 768];
    const xs = seededValues(rows * d, 8, -4, 6);
    const x = on(gpu!, xs, [rows, d]), w = on(gpu!, new Array(d).fill(1), [d]), b = on(gpu!, new Array(d).fill(0), [d]);
    const y = layerNorm(x, w, b);
    const out = await read(y);
    release(x, w, b, y);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(out.slice(r * d, (r + 1) * d));
      const m = row.reduce((a, v) => a + v, 0) / d;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.abs(row.reduce((a, v) => a + (v - m) ** 2, 0) / d - 1)).toBeLessThan(1e-4);
    }
  });

  it('a constant row gives y = bias and finite gradients (variance 0, rstd = 1/√eps)', async () => {
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const c: Case = { shape: [2, 4], x: [3, 3, 3, 3, 1, 2, 3, 4], w: [1, 2, 3, 4], b: [0.5, -0.5, 1, 0], g: [1, -1, 2, 0, 1, 1, 1, 1] };
      const [y, dx, dw, db] = await forwardAndGrads(be, c);
      expectAllClose(y.slice(0, 4), c.b, { rtol: 0, atol: 1e-6 });
      for (const t of [dx, dw, db]) expect(Array.from(t).every(Number.isFinite)).toBe(true);
    }
  });

  it.skipIf(!gpu)('nearly constant rows (variance below eps) agree within a tolerance scaled by rstd ≈ 1/√eps', async () => {
    const shape = [9, 64];
    const c = { ...makeCase(shape, 31), x: seededValues(9 * 64, 32).map((v) => 1 + 1e-3 * v) };
    const want = await forwardAndGrads(cpuBackend, c), got = await forwardAndGrads(gpu!, c);
    // f32 rounding of x − mean (≈ 2⁻²⁴) is amplified by rstd ≈ 316 in y and in dx.
    expectAllClose(got[0], want[0], { rtol: 0, atol: 316 * 1e-6 });
    expectCloseToScale(got[1], want[1], 1e-4);
    [2, 3].forEach((i) => expectAllClose(got[i], want[i], { rtol: 1e-4, atol: 1e-4 }));
  });

  it.skipIf(!gpu)('the backward is deterministic: the same inputs give the same bits', async () => {
    const c = makeCase([1000, 257], 21);
    const a = await forwardAndGrads(gpu!, c), b = await forwardAndGrads(gpu!, c);
    a.forEach((t, i) => expect(Buffer.from(t.buffer).equals(Buffer.from(b[i].buffer))).toBe(true));
  });

  it('layerNormBackward can skip the parameter gradients', () => {
    const be = cpu();
    const c = makeCase([3, 5], 4);
    const x = fromArray(c.x, [3, 5], { backend: be }), w = fromArray(c.w, [5], { backend: be });
    const mean = fromArray([0, 0, 0], [3], { backend: be }), rstd = fromArray([1, 1, 1], [3], { backend: be }), g = fromArray(c.g, [3, 5], { backend: be });
    expect(layerNormBackward(x, w, mean, rstd, g, { paramGrads: false })).toHaveLength(1);
    expectAllClose(cpuRead(layerNormBackward(x, w, mean, rstd, g, { paramGrads: false })[0]), cpuRead(layerNormBackward(x, w, mean, rstd, g)[0]));
  });

  it('matches PyTorch (float64) on the composite-lnce fixture', async () => {
    const file = await readSafetensors(new URL('../fixtures/composite-lnce.safetensors', import.meta.url).pathname);
    if (file._tag === 'Left') throw new Error(file.left.message);
    const t = (name: string) => file.right.tensors.get(name)!;
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const x = t('in.x'), w = t('ln.weight'), b = t('ln.bias');
      const y = tidy(() => layerNorm(on(be, x.data, x.shape), on(be, w.data, w.shape), on(be, b.data, b.shape)));
      expectAllClose(await read(y), t('out.normed').data, { rtol: 0, atol: 1e-5 });
      y.dispose();
    }
  });

  it('rejects mismatched weight or bias, an empty last axis and integer inputs', () => {
    const be = cpu();
    const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend: be }), v3 = fromArray([1, 1, 1], [3], { backend: be });
    expect(() => layerNorm(x, fromArray([1, 1], [2], { backend: be }), v3)).toThrow(/layerNorm: weight and bias must be \[3\]/);
    expect(() => layerNorm(fromArray([], [2, 0], { backend: be }), v3, v3)).toThrow(ShapeError);
    expect(() => layerNorm(fromArray([1, 2, 3], [3], { backend: be, dtype: 'i32' }), v3, v3)).toThrow(/dtype i32/);
  });
});

describe('addLayerNorm (residual add + layer norm in one dispatch)', () => {
  /** [y, dx, dres, dweight, dbias] of f(x, res, w, b) on one backend. */
  async function grads(be: Backend, f: (x: Tensor, r: Tensor, w: Tensor, b: Tensor) => Tensor, c: Case, rshape: number[], dtype: 'f32' | 'f64' = 'f32'): Promise<HostArray[]> {
    const d = c.shape[c.shape.length - 1];
    const x = on(be, c.x, c.shape, dtype), r = on(be, seededValues(sizeOfShape(rshape), 99, -1, 1), rshape, dtype);
    const w = on(be, c.w, [d], dtype), b = on(be, c.b, [d], dtype), g = on(be, c.g, c.shape, dtype);
    const outs = tidy(() => {
      const [y, pull] = vjp((a: { x: Tensor; r: Tensor; w: Tensor; b: Tensor }) => f(a.x, a.r, a.w, a.b), ['x', 'r', 'w', 'b'])({ x, r, w, b });
      const gr = pull(g);
      return [y, gr.x, gr.r, gr.w, gr.b];
    });
    const host = await Promise.all(outs.map((t) => read(t)));
    release(outs, x, r, w, b, g);
    return host;
  }
  const fused = (x: Tensor, r: Tensor, w: Tensor, b: Tensor) => addLayerNorm(x, r, w, b);
  const plain = (x: Tensor, r: Tensor, w: Tensor, b: Tensor) => layerNorm(add(x, r), w, b);
  const rshapes = (shape: number[]) => [shape, [shape[shape.length - 1]]];

  it('equals layerNorm(add(x, res)) on the CPU in f64, for a same-shape and a row residual', async () => {
    await fc.assert(fc.asyncProperty(arbShape({ minRank: 1, maxRank: 3, maxSize: 2000 }), fc.nat(1000), async (shape, seed) => {
      const c = makeCase(shape, seed);
      for (const rs of rshapes(shape)) {
        const a = await grads(cpuBackend, fused, c, rs, 'f64'), b = await grads(cpuBackend, plain, c, rs, 'f64');
        a.forEach((t, i) => expectAllClose(t, b[i], { rtol: 1e-12, atol: 1e-12 }));
      }
    }), { numRuns: 15 });
  });

  for (const g of geometries) {
    it.skipIf(!gpu)(`${g} per row: WebGPU equals the CPU and the unfused ops on random and awkward shapes`, async () => {
      await withGeometry(g, () => fc.assert(fc.asyncProperty(arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }), fc.nat(1000), async (shape, seed) => {
        const c = makeCase(shape, seed), d = shape[shape.length - 1], rows = sizeOfShape(shape) / d;
        for (const rs of rshapes(shape)) {
          const want = await grads(cpuBackend, fused, c, rs), got = await grads(gpu!, fused, c, rs), unfused = await grads(gpu!, plain, c, rs);
          const rowTol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(d) }, colTol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(rows) };
          const tols = [rowTol, rowTol, rs.length === 1 ? colTol : rowTol, colTol, colTol];
          got.forEach((t, i) => { expectAllClose(t, want[i], tols[i]); expectAllClose(t, unfused[i], tols[i]); });
        }
      }), { numRuns: 10 }));
    });
  }

  it('VJP with respect to x, the residual, weight and bias agrees with central differences (f64)', () => {
    for (const shape of [[3, 5], [2, 2, 7], [4]]) {
      const c = makeCase(shape, 5), d = shape[shape.length - 1];
      for (const rs of rshapes(shape)) {
        checkVjp((x, r, w, b) => addLayerNorm(x, r, w, b), [
          { values: c.x, shape }, { values: seededValues(sizeOfShape(rs), 6), shape: rs }, { values: c.w, shape: [d] }, { values: c.b, shape: [d] },
        ]);
      }
    }
  });

  it('rejects a residual that is neither x\'s shape nor a row', () => {
    const be = cpu();
    const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend: be }), v3 = fromArray([1, 1, 1], [3], { backend: be });
    expect(() => addLayerNorm(x, fromArray([1, 2], [2], { backend: be }), v3, v3)).toThrow(/addLayerNorm: residual \[2\] must be x's shape \[2, 3\] or \[3\]/);
  });
});
