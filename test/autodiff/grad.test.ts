import { describe, expect, it } from 'vitest';
import { add, counters, cpu, cpuRead, exp, fromArray, grad, log, mul, release, stopGradient, sum, tidy, type Tensor, valueAndGrad, vjp, square } from '../../src/index.js';
import { expectAllClose } from '../support/oracle.js';

const be = cpu();
const t = (v: number[], shape = [v.length]) => fromArray(v, shape, { backend: be, dtype: 'f64' });

describe('autodiff', () => {
  it('valueAndGrad over a nested tree, differentiating chosen keys only', () => {
    const params = { w: t([1, 2]), layers: [{ b: t([0.5, -1]) }] };
    const data = { x: t([3, 4]) };
    const f = (a: { params: typeof params; data: typeof data }) =>
      sum(square(add(mul(a.params.w, a.data.x), a.params.layers[0].b)));
    const [v, g] = valueAndGrad(f, ['params'])({ params, data });
    // (3+0.5)² + (8−1)² = 12.25 + 49
    expect(cpuRead(v)[0]).toBeCloseTo(61.25);
    expectAllClose(cpuRead(g.params.w), [2 * 3.5 * 3, 2 * 7 * 4]);
    expectAllClose(cpuRead(g.params.layers[0].b), [7, 14]);
    expect('data' in g).toBe(false);
    release(v, g, params, data);
  });

  it('a leaf the output does not depend on gets zeros', () => {
    const a = { x: t([1]), y: t([2, 3]) };
    const g = grad((p: typeof a) => sum(exp(p.x)), ['x', 'y'])(a);
    expectAllClose(cpuRead(g.y), [0, 0]);
    expectAllClose(cpuRead(g.x), [Math.E]);
    release(g, a);
  });

  it('hasAux-style output returns [value, aux]', () => {
    const a = { x: t([2]) };
    const [[v, aux], g] = valueAndGrad((p: typeof a) => [sum(square(p.x)), { note: 'ok' }] as const, ['x'])(a);
    expect(cpuRead(v)[0]).toBe(4);
    expect(aux.note).toBe('ok');
    expect(cpuRead(g.x)[0]).toBe(4);
    release(v, g, a);
  });

  it('stopGradient cuts the flow', () => {
    const a = { x: t([3]) };
    const g = grad((p: typeof a) => sum(mul(p.x, stopGradient(p.x))), ['x'])(a);
    expect(cpuRead(g.x)[0]).toBe(3);
    release(g, a);
  });

  it('a tensor used twice accumulates its gradient', () => {
    const a = { x: t([0.7]) };
    const g = grad((p: typeof a) => sum(add(mul(p.x, p.x), log(p.x))), ['x'])(a);
    expect(cpuRead(g.x)[0]).toBeCloseTo(1.4 + 1 / 0.7, 12);
    release(g, a);
  });

  it('vjp pulls back any cotangent once', () => {
    const a = { x: t([1, 2, 3]) };
    const [y, pull] = vjp((p: typeof a) => square(p.x), ['x'])(a);
    const g = pull(t([1, 0, 2]));
    expectAllClose(cpuRead(g.x), [2, 0, 12]);
    expect(() => pull(t([1, 1, 1]))).toThrow(/already used/);
    release(y, g, a);
  });

  it('leaves no live tensors behind', () => {
    const before = counters.liveTensors;
    const a = { x: t([1, 2, 3]) };
    for (let i = 0; i < 5; i++) {
      const [v, g] = valueAndGrad((p: typeof a) => sum(exp(tidy(() => mul(p.x, 2)))), ['x'])(a);
      release(v, g);
    }
    release(a);
    expect(counters.liveTensors).toBe(before);
  });

  it('the function must return a scalar', () => {
    const a = { x: t([1, 2]) };
    expect(() => grad((p: typeof a): Tensor => exp(p.x), ['x'])(a)).toThrow(/scalar/);
    release(a);
  });
});
