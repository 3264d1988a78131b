import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sum, mean, max, variance, fromArray, cpu, cpuRead, sumTo, broadcastTo } from '../../src/index.js';
import { arbShape, arbValues, sizeOfShape } from '../support/arbitraries.js';
import { gpu, cpuBackend } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn } from '../support/oracle.js';

const withAxis = arbShape({ minRank: 1, maxRank: 4, maxSize: 5000 }).chain((shape) =>
  fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), arbValues(sizeOfShape(shape)), fc.boolean()));

describe('reductions', () => {
  const fns = { sum, mean, max };
  for (const [name, f] of Object.entries(fns)) {
    it.skipIf(!gpu)(`${name} over any axis: WebGPU equals the CPU reference`, async () => {
      await fc.assert(fc.asyncProperty(withAxis, async ([shape, axis, values, keepDims]) => {
        const g = (x: Parameters<typeof f>[0]) => f(x, axis, { keepDims });
        const want = await runOn(cpuBackend, g, [{ values, shape }]);
        const got = await runOn(gpu!, g, [{ values, shape }]);
        expectAllClose(got, want, { rtol: 2e-5, atol: 1e-5 * Math.sqrt(shape[(axis + shape.length) % shape.length]) });
      }), { numRuns: 20 });
    });
    it(`${name}: VJP agrees with central differences`, () => {
      fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 3, maxSize: 60 }).chain((shape) =>
        fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), arbValues(sizeOfShape(shape)))), ([shape, axis, values]) => {
        const v = name === 'max' ? values.map((x, i) => x + i * 1e-3) : values; // no ties
        checkVjp((x) => f(x, axis), [{ values: v, shape }]);
      }), { numRuns: 25 });
    });
  }

  it.skipIf(!gpu)('long rows take the workgroup path and agree with the CPU', async () => {
    const values = Array.from({ length: 3 * 70000 }, (_, i) => Math.sin(i));
    for (const f of [sum, max, mean]) {
      const want = await runOn(cpuBackend, (x) => f(x, 1), [{ values, shape: [3, 70000] }]);
      const got = await runOn(gpu!, (x) => f(x, 1), [{ values, shape: [3, 70000] }]);
      expectAllClose(got, want, { rtol: 1e-4, atol: 1e-3 });
    }
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const n = 65536 * 256 + 300; // needs more than 65,535 workgroups of 256 threads
    const values = new Float32Array(n).map((_, i) => (i % 7) - 3);
    const want = await runOn(cpuBackend, (x) => sum(x, 1), [{ values, shape: [n / 4, 4] }]);
    const got = await runOn(gpu!, (x) => sum(x, 1), [{ values, shape: [n / 4, 4] }]);
    expectAllClose(got, want);
  });

  it('variance with correction 1 is the unbiased estimate', () => {
    const x = fromArray([1, 2, 3, 4], [4], { backend: cpu(), dtype: 'f64' });
    expectAllClose(cpuRead(variance(x, 0, { correction: 1 })), [5 / 3]);
    expectAllClose(cpuRead(variance(x)), [1.25]);
    checkVjp((t) => variance(t, 1, { correction: 1 }), [{ values: [1, 4, 2, 8, 5, 7], shape: [2, 3] }]);
  });

  it('sumTo inverts broadcastTo', () => {
    fc.assert(fc.property(arbShape({ maxRank: 3, maxSize: 50 }), fc.integer({ min: 1, max: 4 }), (shape, k) => {
      const x = fromArray(shape.map(() => 0).length ? new Array(sizeOfShape(shape)).fill(1) : [1], shape, { backend: cpu() });
      const big = broadcastTo(x, [k, ...shape]);
      expect(Array.from(cpuRead(sumTo(big, shape)))).toEqual(new Array(sizeOfShape(shape)).fill(k));
    }));
  });
});
