// A training-like loop: after warm-up no new GPU buffers are created and live counts stay flat.
import { describe, expect, it } from 'vitest';
import { type Backend, type Tensor, add, counters, fromArray, gelu, memoryStats, mean, mul, readScalar, release, square, sub, tidy, valueAndGrad, treeMap } from '../../src/index.js';
import { backends, gpu } from '../support/devices.js';
import { seededValues } from '../support/oracle.js';

type Params = { w: Tensor; b: Tensor };

function trainLoop(be: Backend, steps: number) {
  const x = fromArray(seededValues(64 * 16, 1), [64, 16], { backend: be });
  const target = fromArray(seededValues(64 * 16, 2), [64, 16], { backend: be });
  let params: Params = { w: fromArray(seededValues(16, 3), [16], { backend: be }), b: fromArray(new Array(16).fill(0), [16], { backend: be }) };
  const loss = (a: { p: Params }) => mean(square(sub(gelu(add(mul(x, a.p.w), a.p.b)), target)));
  const step = (p: Params): [Params, Tensor] => tidy(() => {
    const [l, g] = valueAndGrad(loss, ['p'])({ p });
    const next = treeMap(p, (t, path) => sub(t, mul(path === 'w' ? g.p.w : g.p.b, 0.1)));
    return [next, l];
  });
  const live: number[] = [], created: number[] = [];
  let first = NaN, last = NaN;
  return (async () => {
    for (let i = 0; i < steps; i++) {
      const [next, l] = step(params);
      release(params);
      params = next;
      if (i === 0) first = await readScalar(l);
      if (i === steps - 1) last = await readScalar(l);
      l.dispose();
      live.push(counters.liveTensors);
      created.push(memoryStats(be).pool?.created ?? 0);
    }
    release(params, x, target);
    return { live, created, first, last };
  })();
}

describe('memory in a training loop', () => {
  for (const be of backends) {
    it(`${be.name}: live tensors stay flat over 1,000 steps${be.name === 'webgpu' ? ' and no GPU buffer is created after warm-up' : ''}`, async () => {
      const before = counters.liveTensors;
      const { live, created, first, last } = await trainLoop(be, 1000);
      expect(new Set(live.slice(2)).size).toBe(1);
      if (be === gpu) expect(created[999]).toBe(created[2]);
      expect(last).toBeLessThan(first);
      expect(counters.liveTensors).toBe(before);
    });
  }
});

describe('buffers over the pool cap', () => {
  it.skipIf(!gpu)('are destroyed only after the commands that use them are submitted', async () => {
    const be = gpu!;
    const x = fromArray(seededValues(64, 5), [64], { backend: be });
    // 600 same-size temporaries released inside one recording: more than the pool keeps per size.
    const y = tidy(() => {
      let acc = x;
      const temps: Tensor[] = [];
      for (let i = 0; i < 600; i++) { acc = add(acc, 1); temps.push(acc); }
      return mul(acc, 1);
    });
    const out = await import('../../src/index.js').then((m) => m.toArray(y));
    expect(out[0]).toBeCloseTo(seededValues(64, 5)[0] + 600, 3);
    release(x, y);
  });
});
