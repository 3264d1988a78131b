import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, add, sub, mul, div, maximum, minimum, less, greaterEqual, equal, ShapeError, fromArray, cpu } from '../../src/index.js';
import { arbBroadcastPair, arbValues, sizeOfShape } from '../support/arbitraries.js';
import { gpu, cpuBackend } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn } from '../support/oracle.js';

const fns: Record<string, (a: Tensor, b: Tensor) => Tensor> = { add, sub, mul, div, maximum, minimum, less, greaterEqual, equal };
const data = arbBroadcastPair({ maxRank: 5, maxSize: 2000 }).chain(([sa, sb]) =>
  fc.tuple(fc.constant(sa), fc.constant(sb), arbValues(sizeOfShape(sa)), arbValues(sizeOfShape(sb))));
const nonZero = (v: number[]) => v.map((x) => (Math.abs(x) < 0.25 ? x + (x < 0 ? -0.5 : 0.5) : x));

describe('binary ops', () => {
  for (const [name, f] of Object.entries(fns)) {
    it.skipIf(!gpu)(`${name}: WebGPU equals the CPU reference under broadcasting`, async () => {
      await fc.assert(fc.asyncProperty(data, async ([sa, sb, va, vb]) => {
        const b = name === 'div' ? nonZero(vb) : vb;
        const want = await runOn(cpuBackend, f, [{ values: va, shape: sa }, { values: b, shape: sb }]);
        const got = await runOn(gpu!, f, [{ values: va, shape: sa }, { values: b, shape: sb }]);
        expectAllClose(got, want, { rtol: 1e-6, atol: 1e-7 });
      }), { numRuns: 20 });
    });
  }

  for (const name of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum']) {
    it(`${name}: VJP (with broadcasting) agrees with central differences`, () => {
      fc.assert(fc.property(arbBroadcastPair({ maxRank: 3, maxSize: 60 }).chain(([sa, sb]) =>
        fc.tuple(fc.constant(sa), fc.constant(sb), arbValues(sizeOfShape(sa)), arbValues(sizeOfShape(sb)))), ([sa, sb, va, vb]) => {
        // keep max/min away from ties, where the derivative jumps
        const b = name === 'div' ? nonZero(vb) : name === 'maximum' || name === 'minimum' ? vb.map((x) => x + 0.013) : vb;
        // (a shift alone can still land a value within the finite-difference step of a partner: skip those draws)
        if (name === 'maximum' || name === 'minimum') fc.pre(Array.from(va).every((x) => Array.from(b).every((y) => Math.abs(x - y) > 1e-4)));
        checkVjp(fns[name], [{ values: va, shape: sa }, { values: b, shape: sb }]);
      }), { numRuns: 25 });
    });
  }

  it('scalar operands work on both sides', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      expectAllClose(await runOn(be, (x) => sub(1, x), [{ values: [1, 2, 3], shape: [3] }]), [0, -1, -2]);
      expectAllClose(await runOn(be, (x) => div(6, x), [{ values: [1, 2, 3], shape: [3] }]), [6, 3, 2]);
      expectAllClose(await runOn(be, (x) => less(0, x), [{ values: [-1, 0, 3], shape: [3] }]), [0, 0, 1]);
    }
    checkVjp((x) => div(2, sub(3, mul(x, 2))), [{ values: [0.1, 0.2, -0.4], shape: [3] }]);
  });

  it('a shape mismatch names the op and both shapes', () => {
    const a = fromArray([1, 2, 3], [3], { backend: cpu() });
    const b = fromArray([1, 2], [2], { backend: cpu() });
    expect(() => add(a, b)).toThrow(ShapeError);
    expect(() => add(a, b)).toThrow(/add: cannot broadcast \[3\] with \[2\]/);
  });
});
