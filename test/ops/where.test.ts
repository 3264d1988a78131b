import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError, counters, cpu, cpuRead, fromArray, where } from '../../src/index.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { backends, cpuBackend, gpu } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn, seededValues } from '../support/oracle.js';

/** Three shapes that broadcast together: each drops leading axes and sets some axes to 1. */
const arbTriple = (maxSize: number) => arbShape({ minRank: 0, maxRank: 5, maxSize }).chain((s) => {
  const one = fc.tuple(fc.nat({ max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
    .map(([drop, ones]) => s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
  return fc.tuple(one, one, one);
});

const condValues = (n: number, seed: number) => seededValues(n, seed).map((v) => (v > 0 ? 1 : 0));

describe('where', () => {
  for (const condType of ['f32', 'i32'] as const) {
    it.skipIf(!gpu)(`${condType} condition: WebGPU equals the CPU reference under broadcasting`, async () => {
      await fc.assert(fc.asyncProperty(arbTriple(3000), async ([sc, sa, sb]) => {
        const inputs = [
          { values: condValues(sizeOfShape(sc), 1), shape: sc, dtype: condType },
          { values: seededValues(sizeOfShape(sa), 2), shape: sa },
          { values: seededValues(sizeOfShape(sb), 3), shape: sb },
        ];
        const want = await runOn(cpuBackend, where, inputs);
        const got = await runOn(gpu!, where, inputs);
        expectAllClose(got, want, { rtol: 0, atol: 0 });
      }), { numRuns: 15 });
    });
  }

  it('selects a where cond ≠ 0 (NaN included) and b elsewhere, for f32 and i32 values', async () => {
    for (const be of backends) {
      const cond = { values: [1, 0, -0, NaN, 2], shape: [5] };
      expect(Array.from(await runOn(be, where, [cond, { values: [1, 2, 3, 4, 5], shape: [5] }, { values: [-1], shape: [] }]))).toEqual([1, -1, -1, 4, 5]);
      const ints = await runOn(be, where, [{ values: [0, 3], shape: [2, 1], dtype: 'i32' }, { values: [7, 8], shape: [2], dtype: 'i32' }, { values: [-9], shape: [1], dtype: 'i32' }]);
      expect(ints).toBeInstanceOf(Int32Array);
      expect(Array.from(ints)).toEqual([-9, -9, 7, 8]);
      expect(Array.from(await runOn(be, (c) => where(c, 1, 0), [{ values: [0, 5], shape: [2], dtype: 'i32' }]))).toEqual([0, 1]);
    }
  });

  it('VJP routes the cotangent to a where cond holds and to b elsewhere (with broadcasting)', () => {
    fc.assert(fc.property(arbTriple(60), ([sc, sa, sb]) => {
      const cond = fromArray(condValues(sizeOfShape(sc), 4), sc, { backend: cpu(), dtype: 'i32' });
      checkVjp((a, b) => where(cond, a, b), [{ values: seededValues(sizeOfShape(sa), 5), shape: sa }, { values: seededValues(sizeOfShape(sb), 6), shape: sb }]);
      cond.dispose();
    }), { numRuns: 20 });
    checkVjp((c, a) => where(c, a, 0), [{ values: [1, 0, 1], shape: [3] }, { values: [0.5, 2, -3], shape: [3] }], { wrt: [1] });
  });

  it('rejects mismatched dtypes and shapes that do not broadcast', () => {
    const c = fromArray([1, 0], [2], { backend: cpu() });
    expect(() => where(c, fromArray([1, 2, 3], [3], { backend: cpu() }), 0)).toThrow(/where: cannot broadcast \[2\] with \[3\]/);
    expect(() => where(c, fromArray([1, 2], [2], { backend: cpu(), dtype: 'i32' }), fromArray([1, 2], [2], { backend: cpu() }))).toThrow(ShapeError);
    expect(cpuRead(where(c, 3, 4))).toEqual(new Float32Array([3, 4]));
  });

  it('frees the tensors it makes for number operands', () => {
    const c = fromArray([1, 0], [2], { backend: cpu() });
    const before = counters.liveTensors;
    const y = where(c, 1, -1);
    expect(counters.liveTensors).toBe(before + 1);
    y.dispose(); c.dispose();
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const n = 65536 * 256 + 77;
    const cond = new Float32Array(n).map((_, i) => i % 3 === 0 ? 1 : 0);
    const y = await runOn(gpu!, (c, a, b) => where(c, a, b), [{ values: cond, shape: [n] }, { values: [5], shape: [] }, { values: [-5], shape: [1] }]);
    for (const i of [0, 1, 3, 65535 * 256, n - 2, n - 1]) expect(y[i]).toBe(i % 3 === 0 ? 5 : -5);
  });
});
