import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type RowGeometry, type Tensor, ShapeError, add, cpu, cpuRead, fromArray, logSoftmax, softmax, softmaxBackward,
  softmaxBackwardComposed, sum,
} from '../../src/index.js';
import { arbShape, arbValues, sizeOfShape } from '../support/arbitraries.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { geometries, tiny, withGeometry } from '../support/row-geometry.js';
import { checkVjp, expectAllClose, runOn, seededValues } from '../support/oracle.js';


const fns = { softmax, logSoftmax };
// Outputs are O(1) (softmax) or O(range + log r) (logSoftmax); rounding grows with the row length.
const tol = (r: number) => ({ rtol: 1e-5, atol: 2e-6 * Math.sqrt(r + 1) });

const withAxis = arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), arbValues(sizeOfShape(shape), 8)));

describe('softmax and logSoftmax', () => {
  for (const [name, f] of Object.entries(fns)) {
    for (const g of geometries) {
      it.skipIf(!gpu)(`${name} (${g} per row) along any axis: WebGPU equals the CPU reference`, async () => {
        await withGeometry(g, () => fc.assert(fc.asyncProperty(withAxis, async ([shape, axis, values]) => {
          const h = (x: Tensor) => f(x, axis);
          const want = await runOn(cpuBackend, h, [{ values, shape }]);
          const got = await runOn(gpu!, h, [{ values, shape }]);
          expectAllClose(got, want, tol(shape[(axis + shape.length) % shape.length]));
        }), { numRuns: 12 }));
      });
    }

    it.skipIf(!gpu)(`${name}: awkward rows × columns agree with the CPU (1, primes; 1, 3, 257, 2000)`, async () => {
      for (const g of geometries) {
        await withGeometry(g, async () => {
          for (const [rows, cols] of [[1, 1], [1, 2000], [7, 1], [13, 3], [31, 257], [3, 2000], [97, 64]]) {
            const values = seededValues(rows * cols, rows * 1000 + cols, -6, 6);
            const want = await runOn(cpuBackend, f, [{ values, shape: [rows, cols] }]);
            const got = await runOn(gpu!, f, [{ values, shape: [rows, cols] }]);
            expectAllClose(got, want, tol(cols));
          }
        });
      }
    });

    it(`${name}: VJP agrees with central differences (f64)`, () => {
      fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 3, maxSize: 60 }).chain((shape) =>
        fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), arbValues(sizeOfShape(shape), 3))), ([shape, axis, values]) => {
        checkVjp((x) => f(x, axis), [{ values, shape }]);
      }), { numRuns: 20 });
    });
  }

  it.skipIf(!gpu)('grids past 65,535 workgroups fold correctly in both geometries', async () => {
    const rows = 70_001;
    const values = Float32Array.from({ length: rows * 3 }, (_, i) => ((i * 7919) % 13) - 6);
    for (const g of geometries) {
      await withGeometry(g, async () => {
        for (const f of [softmax, logSoftmax]) {
          const want = await runOn(cpuBackend, f, [{ values, shape: [rows, 3] }]);
          const got = await runOn(gpu!, f, [{ values, shape: [rows, 3] }]);
          expectAllClose(got, want, tol(3));
        }
      }, tiny);
    }
  });

  it('softmax rows sum to 1 and ignore a per-row constant (f64)', () => {
    fc.assert(fc.property(arbShape({ minRank: 2, maxRank: 2, maxSize: 400 }).chain((shape) =>
      fc.tuple(fc.constant(shape), arbValues(sizeOfShape(shape), 20), arbValues(shape[0], 50))), ([[rows, cols], values, shift]) => {
      const be = cpu();
      const x = fromArray(values, [rows, cols], { backend: be, dtype: 'f64' });
      const c = fromArray(shift, [rows, 1], { backend: be, dtype: 'f64' });
      expectAllClose(cpuRead(sum(softmax(x), 1)), new Array(rows).fill(1), { rtol: 0, atol: 1e-12 });
      expectAllClose(cpuRead(softmax(add(x, c))), cpuRead(softmax(x)), { rtol: 1e-9, atol: 1e-14 });
      expectAllClose(cpuRead(logSoftmax(add(x, c))), cpuRead(logSoftmax(x)), { rtol: 1e-9, atol: 1e-9 });
    }), { numRuns: 30 });
  });

  it.skipIf(!gpu)('on WebGPU, softmax rows sum to 1 and a per-row shift changes nothing beyond rounding', async () => {
    const [rows, cols] = [37, 300];
    const values = seededValues(rows * cols, 5, -10, 10);
    const shift = seededValues(rows, 6, -100, 100);
    const sums = await runOn(gpu!, (x) => sum(softmax(x), 1), [{ values, shape: [rows, cols] }]);
    expectAllClose(sums, new Array(rows).fill(1), { rtol: 0, atol: 2e-6 });
    const shifted = values.map((v, i) => v + shift[Math.floor(i / cols)]);
    const a = await runOn(gpu!, softmax, [{ values, shape: [rows, cols] }]);
    const b = await runOn(gpu!, softmax, [{ values: shifted, shape: [rows, cols] }]);
    expectAllClose(b, a, { rtol: 1e-4, atol: 1e-9 }); // |x + c| ≤ 110 costs ≈ 110·2⁻²⁴ in each exponent
  });

  it('huge difference between logits ([-1000, 1000]) gives finite results on every backend', async () => {
    const values = [-1000, 1000, 0, 999.5, -1000, -999, 1000, 1000];
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      for (const g of geometries) {
        await withGeometry(g, async () => {
          const p = await runOn(be, softmax, [{ values, shape: [2, 4] }]);
          const lp = await runOn(be, logSoftmax, [{ values, shape: [2, 4] }]);
          expect(Array.from(p).every(Number.isFinite) && Array.from(lp).every(Number.isFinite)).toBe(true);
          expectAllClose(p, [0, 0.6224593312018546, 0, 0.3775406687981454, 0, 0, 0.5, 0.5], { rtol: 1e-5, atol: 1e-7 });
          expectAllClose(lp, [-2000.474076984, -0.474076984, -1000.474076984, -0.974076984, -2000.693147, -1999.693147, -0.693147181, -0.693147181], { rtol: 1e-6, atol: 1e-4 });
        });
      }
    }
  });

  it('the fused backward equals the composed VJP (f64), for softmax and logSoftmax along any axis', () => {
    fc.assert(fc.property(withAxis, ([shape, axis, values]) => {
      const be = cpu();
      const x = fromArray(values, shape, { backend: be, dtype: 'f64' });
      const g = fromArray(seededValues(values.length, 3), shape, { backend: be, dtype: 'f64' });
      for (const log of [false, true]) {
        const y = log ? logSoftmax(x, axis) : softmax(x, axis);
        expectAllClose(cpuRead(softmaxBackward(y, g, { axis, log })), cpuRead(softmaxBackwardComposed(y, g, { axis, log })), { rtol: 1e-10, atol: 1e-12 });
      }
    }), { numRuns: 20 });
  });

  it.skipIf(!gpu)('the fused backward kernel equals the composed VJP on WebGPU', async () => {
    for (const g of geometries) {
      await withGeometry(g, async () => {
        for (const [shape, axis] of [[[13, 257], 1], [[5, 7, 3], 1], [[1, 2000], 1], [[31, 1], 1]] as const) {
          const n = sizeOfShape(shape);
          const inputs = [{ values: seededValues(n, 1, 0, 1), shape }, { values: seededValues(n, 2), shape }];
          for (const log of [false, true]) {
            const want = await runOn(gpu!, (y, c) => softmaxBackwardComposed(y, c, { axis, log }), inputs);
            const got = await runOn(gpu!, (y, c) => softmaxBackward(y, c, { axis, log }), inputs);
            expectAllClose(got, want, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(shape[axis]) });
          }
        }
      });
    }
  });

  it('the fused backward has a correct VJP itself (second order, f64)', () => {
    for (const log of [false, true]) {
      const y = log ? seededValues(12, 4, -3, -0.1) : seededValues(12, 4, 0.05, 1);
      checkVjp((yy, gg) => softmaxBackward(yy, gg, { axis: 1, log }), [{ values: y, shape: [3, 4] }, { values: seededValues(12, 9), shape: [3, 4] }]);
    }
  });

  it('rejects an axis out of range and integer inputs', () => {
    const x = fromArray([1, 2, 3], [3], { backend: cpu() });
    expect(() => softmax(x, 1)).toThrow(ShapeError);
    expect(() => logSoftmax(fromArray([1, 2], [2], { backend: cpu(), dtype: 'i32' }))).toThrow(/logSoftmax: dtype i32/);
  });
});
