import fc from 'fast-check';
import { describe, it } from 'vitest';
import { type Tensor, unaryOps, neg, exp, log, sqrt, rsqrt, tanh, erfOp, gelu, abs, sigmoid, square, reciprocal, relu, pow, geluDeriv } from '../../src/index.js';
import { arbTensorData } from '../support/arbitraries.js';
import { gpu, cpuBackend } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn } from '../support/oracle.js';

type Case = { f: (x: Tensor) => Tensor; lo: number; hi: number; tol: { rtol: number; atol: number } };
const t = { rtol: 2e-6, atol: 2e-6 };
const cases: Record<string, Case> = {
  neg: { f: neg, lo: -5, hi: 5, tol: t },
  exp: { f: exp, lo: -10, hi: 10, tol: { rtol: 4e-6, atol: 1e-6 } },
  log: { f: log, lo: 0.01, hi: 100, tol: t },
  sqrt: { f: sqrt, lo: 0, hi: 100, tol: t },
  rsqrt: { f: rsqrt, lo: 0.01, hi: 100, tol: { rtol: 4e-6, atol: 0 } },
  tanh: { f: tanh, lo: -20, hi: 20, tol: { rtol: 1e-5, atol: 2e-7 } },
  erf: { f: erfOp, lo: -6, hi: 6, tol: { rtol: 1e-6, atol: 4e-7 } },
  // f32 computes 1 + erf(x/√2) with cancellation for x ≪ 0: absolute error ≈ |x|·ulp(1)
  gelu: { f: gelu, lo: -8, hi: 8, tol: { rtol: 1e-6, atol: 1e-6 } },
  abs: { f: abs, lo: -5, hi: 5, tol: t },
  sigmoid: { f: sigmoid, lo: -20, hi: 20, tol: t },
  square: { f: square, lo: -5, hi: 5, tol: t },
  reciprocal: { f: reciprocal, lo: 0.1, hi: 10, tol: t },
  relu: { f: relu, lo: -5, hi: 5, tol: t },
  pow: { f: (x) => pow(x, 1.7), lo: 0.1, hi: 5, tol: { rtol: 1e-5, atol: 1e-6 } },
  geluDeriv: { f: geluDeriv, lo: -8, hi: 8, tol: { rtol: 1e-5, atol: 1e-6 } },
};

const scaled = (v: number[], lo: number, hi: number) => v.map((x) => lo + ((x + 1) / 2) * (hi - lo));

describe('unary ops', () => {
  it('every unary op in the table has a test case', () => {
    for (const name of Object.keys(unaryOps)) if (!(name in cases) && name !== 'sign') throw new Error(`no case for ${name}`);
  });

  for (const [name, c] of Object.entries(cases)) {
    it.skipIf(!gpu)(`${name}: WebGPU equals the CPU reference`, async () => {
      await fc.assert(fc.asyncProperty(arbTensorData({ maxSize: 3000, range: 1 }), async ({ shape, values }) => {
        const v = scaled(values, c.lo, c.hi);
        const want = await runOn(cpuBackend, c.f, [{ values: v, shape }]);
        const got = await runOn(gpu!, c.f, [{ values: v, shape }]);
        expectAllClose(got, want, c.tol);
      }), { numRuns: 15 });
    });

    if (name !== 'geluDeriv') {
      it(`${name}: VJP agrees with central differences (f64)`, () => {
        fc.assert(fc.property(arbTensorData({ maxSize: 40, range: 1 }), ({ shape, values }) => {
          const lo = name === 'relu' || name === 'abs' ? 0.05 : name === 'sqrt' ? 0.2 : c.lo;
          const v = scaled(values, lo, Math.min(c.hi, 6)).map((x) => (name === 'relu' || name === 'abs' ? x * (x > 2.5 ? 1 : -1) : x));
          checkVjp(c.f, [{ values: v, shape }], { rtol: 1e-5, atol: 1e-7 });
        }), { numRuns: 20 });
      });
    }
  }

  it('erf and GELU hit known values', async () => {
    const xs = [-3, -1, -0.5, 0, 0.5, 1, 3];
    const erfs = [-0.9999779095030014, -0.8427007929497149, -0.5204998778130465, 0, 0.5204998778130465, 0.8427007929497149, 0.9999779095030014];
    expectAllClose(await runOn(cpuBackend, erfOp, [{ values: xs, shape: [7] }]), erfs, { rtol: 1e-7, atol: 1e-7 });
    const phi = [0.0013498980316301, 0.15865525393145707, 0.3085375387259869, 0.5, 0.6914624612740131, 0.8413447460685429, 0.9986501019683699];
    const gelus = xs.map((x, i) => x * phi[i]);
    expectAllClose(await runOn(cpuBackend, gelu, [{ values: xs, shape: [7] }]), gelus, { rtol: 1e-6, atol: 1e-7 });
    if (gpu) expectAllClose(await runOn(gpu, gelu, [{ values: xs, shape: [7] }]), gelus, { rtol: 1e-6, atol: 3e-7 });
  });

  it('tanh survives huge arguments', async () => {
    expectAllClose(await runOn(cpuBackend, tanh, [{ values: [-1e4, 1e4, 0], shape: [3] }]), [-1, 1, 0]);
    if (gpu) expectAllClose(await runOn(gpu, tanh, [{ values: [-1e4, 1e4, 0], shape: [3] }]), [-1, 1, 0]);
  });
});
