import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Tensor, ShapeError, concat, counters, cpu, fromArray, mul, read, sum, valueAndGrad, mergeAxes, pad, permute, repeatEach, slice, sliceAxis, stack, transpose,
} from '../../src/index.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { backends, cpuBackend, gpu } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn, seededValues } from '../support/oracle.js';

// Copies are exact: GPU and CPU must agree bit for bit.
const exact = { rtol: 0, atol: 0 };
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const c = (values: number[], shape: number[]) => fromArray(values, shape, { backend: cpu(), dtype: 'f64' });

const arbPermute = arbShape({ minRank: 0, maxRank: 6, maxSize: 4000 }).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.shuffledSubarray(iota(shape.length), { minLength: shape.length, maxLength: shape.length })));

/** Per-axis [start, end) with 0 ≤ start ≤ end ≤ d (empty ranges included), sometimes written negatively. */
const arbSlice = arbShape({ minRank: 1, maxRank: 5, maxSize: 4000 }).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.tuple(...shape.map((d) => fc.tuple(fc.nat({ max: d }), fc.nat({ max: d }), fc.boolean(), fc.boolean())))
    .map((axes) => {
      const starts: number[] = [], ends: number[] = [];
      axes.forEach(([p, q, negS, negE], i) => {
        const d = shape[i], s = Math.min(p, q), e = Math.max(p, q);
        starts.push(negS && s < d ? s - d : s);
        ends.push(negE && e < d ? e - d : e);
      });
      return [starts, ends] as const;
    })));

/** 1..4 inputs that agree off `axis`, with independent sizes (including 0) along it. */
const arbConcat = arbShape({ minRank: 1, maxRank: 4, maxSize: 1500 }).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 13 })), { minLength: 1, maxLength: 4 })));

async function agree(f: (...xs: Tensor[]) => Tensor, shapes: number[][], dtype: 'f32' | 'i32' = 'f32'): Promise<void> {
  const inputs = shapes.map((shape, k) => ({ shape, dtype, values: dtype === 'i32' ? iota(sizeOfShape(shape)).map((i) => i * 7 - k) : seededValues(sizeOfShape(shape), 11 + k) }));
  const want = await runOn(cpuBackend, f, inputs);
  const got = await runOn(gpu!, f, inputs);
  expect(got.constructor).toBe(want.constructor);
  expectAllClose(got, want, exact);
}

describe('permute and transpose', () => {
  it.skipIf(!gpu)('permute: WebGPU equals the CPU reference for random permutations', async () => {
    await fc.assert(fc.asyncProperty(arbPermute, async ([shape, axes]) => agree((x) => permute(x, axes), [shape])), { numRuns: 20 });
  });

  it.skipIf(!gpu)('permute moves i32 tensors unchanged', async () => {
    await agree((x) => permute(x, [2, 0, 1]), [[3, 5, 7]], 'i32');
  });

  it('permute puts input axis axes[i] at output axis i', async () => {
    for (const be of backends) {
      // x[a, b, c] = 100a + 10b + c, shape [2, 3, 4] → y[c, a, b]
      const v = iota(24).map((i) => 100 * Math.floor(i / 12) + 10 * (Math.floor(i / 4) % 3) + (i % 4));
      const y = await runOn(be, (x) => permute(x, [2, 0, -2]), [{ values: v, shape: [2, 3, 4] }]);
      expect(Array.from(y.slice(0, 8))).toEqual([0, 10, 20, 100, 110, 120, 1, 11]);
    }
  });

  it('transpose swaps the last two axes by default', async () => {
    for (const be of backends) {
      expect(Array.from(await runOn(be, (x) => transpose(x), [{ values: iota(6), shape: [2, 3] }]))).toEqual([0, 3, 1, 4, 2, 5]);
      expect(Array.from(await runOn(be, (x) => transpose(x, 0, 2), [{ values: iota(6), shape: [1, 2, 3] }]))).toEqual([0, 3, 1, 4, 2, 5]);
    }
  });

  it('VJPs of permute and transpose agree with central differences', () => {
    fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 4, maxSize: 80 }).chain((s) =>
      fc.tuple(fc.constant(s), fc.shuffledSubarray(iota(s.length), { minLength: s.length, maxLength: s.length }))), ([shape, axes]) => {
      checkVjp((x) => permute(x, axes), [{ values: seededValues(sizeOfShape(shape), 3), shape }]);
    }), { numRuns: 15 });
    checkVjp((x) => transpose(x), [{ values: seededValues(30, 4), shape: [2, 3, 5] }]);
  });

  it('rejects axes that are not a permutation', () => {
    const x = c(iota(6), [2, 3]);
    expect(() => permute(x, [0, 0])).toThrow(ShapeError);
    expect(() => permute(x, [1])).toThrow(/permute: axes \[1\] are not a permutation of the 2 axes of \[2, 3\]/);
    expect(() => transpose(c([1, 2], [2]))).toThrow(/transpose: axis -2 out of range for rank 1/);
  });
});

describe('slice and pad', () => {
  it.skipIf(!gpu)('slice: WebGPU equals the CPU reference on random (and empty) ranges', async () => {
    await fc.assert(fc.asyncProperty(arbSlice, async ([shape, [starts, ends]]) => agree((x) => slice(x, starts, ends), [shape])), { numRuns: 20 });
  });

  it('slice keeps x[starts:ends] on each axis; negative indices count from the end', async () => {
    for (const be of backends) {
      const x = [{ values: iota(12), shape: [3, 4] }];
      expect(Array.from(await runOn(be, (t) => slice(t, [1, -3], [3, -1]), x))).toEqual([5, 6, 9, 10]);
      expect(Array.from(await runOn(be, (t) => slice(t, [-1]), x))).toEqual([8, 9, 10, 11]);
      expect(Array.from(await runOn(be, (t) => sliceAxis(t, 1, 3), x))).toEqual([3, 7, 11]);
      expect(Array.from(await runOn(be, (t) => sliceAxis(t, -1, 1, 1), x))).toEqual([]);
    }
    expect(slice(c(iota(12), [3, 4]), [2, 0], [2, 4]).shape).toEqual([0, 4]);
  });

  it('slice rejects bounds outside the axis and end < start', () => {
    const x = c(iota(12), [3, 4]);
    expect(() => slice(x, [0, 5])).toThrow(/slice: range 5..4 is invalid on axis 1 \(size 4\) of \[3, 4\]/);
    expect(() => slice(x, [2], [1])).toThrow(ShapeError);
    expect(() => slice(x, [0, 0, 0])).toThrow(/more entries than the rank/);
  });

  it.skipIf(!gpu)('pad: WebGPU equals the CPU reference', async () => {
    await fc.assert(fc.asyncProperty(arbShape({ minRank: 1, maxRank: 4, maxSize: 1500 }).chain((s) =>
      fc.tuple(fc.constant(s), fc.array(fc.nat({ max: 3 }), { minLength: s.length, maxLength: s.length }), fc.array(fc.nat({ max: 3 }), { minLength: s.length, maxLength: s.length }))),
    async ([shape, before, after]) => agree((x) => pad(x, before, after), [shape])), { numRuns: 15 });
  });

  it('pad surrounds x with zeros', async () => {
    for (const be of backends) {
      expect(Array.from(await runOn(be, (t) => pad(t, [1], [2]), [{ values: [5, 6], shape: [2] }]))).toEqual([0, 5, 6, 0, 0]);
      expect(Array.from(await runOn(be, (t) => pad(t, [0, 1]), [{ values: [1, 2], shape: [2, 1] }]))).toEqual([0, 1, 0, 2]);
    }
    expect(() => pad(c([1], [1]), [-1])).toThrow(/pad: widths \[-1\]/);
  });

  it('VJPs of slice and pad agree with central differences', () => {
    fc.assert(fc.property(arbSlice.filter(([s]) => sizeOfShape(s) <= 200), ([shape, [starts, ends]]) => {
      checkVjp((x) => slice(x, starts, ends), [{ values: seededValues(sizeOfShape(shape), 5), shape }]);
    }), { numRuns: 15 });
    checkVjp((x) => pad(x, [1, 0, 2], [0, 3]), [{ values: seededValues(24, 6), shape: [2, 3, 4] }]);
  });
});

describe('concat, stack and repeatEach', () => {
  it.skipIf(!gpu)('concat of 1..4 inputs along any axis: WebGPU equals the CPU reference', async () => {
    await fc.assert(fc.asyncProperty(arbConcat, async ([shape, axis, sizes]) => {
      const a = (axis + shape.length) % shape.length;
      const shapes = sizes.map((k) => shape.map((d, i) => (i === a ? k : d)));
      await agree((...xs) => concat(xs, axis), shapes);
    }), { numRuns: 20 });
  });

  it('concat places each input after the previous one along the axis', async () => {
    for (const be of backends) {
      const ins = [{ values: [1, 2, 3, 4], shape: [2, 2] }, { values: [5, 6], shape: [2, 1] }, { values: [], shape: [2, 0] }];
      expect(Array.from(await runOn(be, (...xs) => concat(xs, -1), ins))).toEqual([1, 2, 5, 3, 4, 6]);
      expect(Array.from(await runOn(be, (...xs) => concat(xs, 0), [ins[0], ins[0]]))).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    }
  });

  it('concat rejects mismatched shapes, dtypes and 0-d inputs', () => {
    expect(() => concat([c([1, 2], [1, 2]), c([1, 2, 3], [1, 3])], 0)).toThrow(/concat: inputs f64 \[1, 2\], f64 \[1, 3\] differ off axis 0/);
    expect(() => concat([c([1], [1]), fromArray([1], [1], { backend: cpu(), dtype: 'i32' })], 0)).toThrow(ShapeError);
    expect(() => concat([c([1], []), c([2], [])], 0)).toThrow(/use stack/);
    expect(() => concat([], 0)).toThrow(ShapeError);
  });

  it('stack adds a new axis', async () => {
    for (const be of backends) {
      const ins = [{ values: [1, 2, 3], shape: [3] }, { values: [4, 5, 6], shape: [3] }];
      expect(Array.from(await runOn(be, (...xs) => stack(xs, 1), ins))).toEqual([1, 4, 2, 5, 3, 6]);
      expect(Array.from(await runOn(be, (...xs) => stack(xs), ins))).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(stack([c([1, 2], [2])], -1).shape).toEqual([2, 1]);
    expect(() => stack([c([1, 2], [2]), c([1], [1])])).toThrow(/stack: shapes differ: \[2\], \[1\]/);
  });

  it('repeatEach expands the last axis in place', async () => {
    for (const be of backends) {
      expect(Array.from(await runOn(be, (x) => repeatEach(x, 3), [{ values: [1, 2, 3, 4], shape: [2, 2] }]))).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }
    expect(repeatEach(c([1, 2], [2]), 0).shape).toEqual([0]);
    expect(() => repeatEach(c([1], []), 2)).toThrow(ShapeError);
  });

  it('VJPs of concat, stack and repeatEach agree with central differences', () => {
    fc.assert(fc.property(arbConcat.filter(([s]) => sizeOfShape(s) <= 100), ([shape, axis, sizes]) => {
      const a = (axis + shape.length) % shape.length;
      const ins = sizes.map((k, i) => { const s = shape.map((d, j) => (j === a ? k : d)); return { shape: s, values: seededValues(sizeOfShape(s), 20 + i) }; });
      checkVjp((...xs) => concat(xs, axis), ins);
    }), { numRuns: 15 });
    checkVjp((a, b) => stack([a, b], 1), [{ values: seededValues(6, 1), shape: [2, 3] }, { values: seededValues(6, 2), shape: [2, 3] }]);
    checkVjp((x) => repeatEach(x, 4), [{ values: seededValues(6, 8), shape: [2, 3] }]);
  });
});

describe('movement gradients on every backend', () => {
  it('a chain of permute, slice, pad, concat and stack gives the same gradient on the GPU as on the CPU', async () => {
    const f = (a: { x: Tensor; y: Tensor }) => {
      const p = slice(permute(a.x, [2, 0, 1]), [1, 0, 2]);            // [2, 3, 4] → [4, 2, 3] → [3, 2, 1]
      const q = concat([p, pad(sliceAxis(a.y, 2, 1, 2), [0, 1])], 1); // [3, 2 + 2, 1]
      return sum(mul(stack([q, q], -1), fromArray(seededValues(24, 9), [3, 4, 1, 2], { backend: a.x.backend })));
    };
    const grads: number[][] = [];
    for (const be of backends) {
      const x = fromArray(seededValues(2 * 3 * 4, 1), [2, 3, 4], { backend: be });
      const y = fromArray(seededValues(3 * 1 * 3, 2), [3, 1, 3], { backend: be });
      const [v, g] = valueAndGrad(f, ['x', 'y'])({ x, y });
      grads.push([...(await read(v)), ...(await read(g.x)), ...(await read(g.y))]);
      for (const t of [v, g.x, g.y, x, y]) t.dispose();
    }
    if (grads.length === 2) expectAllClose(grads[1], grads[0], { rtol: 1e-6, atol: 1e-6 });
  });

  it('stack and repeatEach free their temporaries outside any scope', () => {
    const x = c([1, 2], [2]);
    const before = counters.liveTensors;
    const ys = [stack([x, x], 1), repeatEach(x, 3)];
    expect(counters.liveTensors).toBe(before + ys.length);
    for (const y of ys) y.dispose();
    x.dispose();
  });
});

describe('the copy kernel', () => {
  it('mergeAxes keeps the kernel rank low', () => {
    // a transpose of [2, 3, 4, 5] swapping the first two axes merges the last two: 3 axes remain
    const [dims, [xs, ys]] = mergeAxes([3, 2, 4, 5], [[20, 60, 5, 1], [40, 20, 5, 1]]);
    expect(dims).toEqual([3, 2, 20]);
    expect(xs).toEqual([20, 60, 1]);
    expect(ys).toEqual([40, 20, 1]);
    expect(mergeAxes([1, 1], [[1, 1]])[0]).toEqual([]);
  });

  it.skipIf(!gpu)('rank-7 copies run on the GPU when their axes merge to ≤ 6, and name the limit otherwise', async () => {
    await agree((x) => permute(x, [1, 0, 2, 3, 4, 5, 6]), [[2, 3, 2, 3, 2, 3, 2]]);
    await expect(agree((x) => permute(x, [6, 5, 4, 3, 2, 1, 0]), [[2, 3, 2, 3, 2, 3, 2]])).rejects.toThrow(/permute: copy of rank 7 .* exceeds 6/);
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const shape = [3, 2051, 2731]; // 16.8M elements: more than 65,535 workgroups of 256 threads
    const values = new Float32Array(sizeOfShape(shape)).map((_, i) => (i % 1021) - 510);
    const f = (x: Tensor) => permute(x, [2, 0, 1]);
    const got = await runOn(gpu!, f, [{ values, shape }]);
    const want = await runOn(cpuBackend, f, [{ values, shape }]);
    expectAllClose(got, want, exact);
  });
});
