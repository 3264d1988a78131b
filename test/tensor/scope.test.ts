import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, counters, cpu, fromArray, keep, mul, ReleasedTensorError, release, tidy, toArray, type Tensor } from '../../src/index.js';

const be = cpu();
const t = (v: number[]) => fromArray(v, [v.length], { backend: be });

describe('scopes', () => {
  it('tidy releases everything it allocated except the result', async () => {
    const before = counters.liveTensors;
    const x = t([1, 2]);
    const y = tidy(() => { const a = add(x, x); const b = mul(a, a); return add(b, 1); });
    expect(counters.liveTensors).toBe(before + 2);
    expect(await toArray(y)).toEqual([5, 17]);
    release(x, y);
    expect(counters.liveTensors).toBe(before);
  });

  it('a returned outside tensor comes back as a fresh handle (releasing the old one is safe)', async () => {
    const x = t([3]);
    const y = tidy(() => x);
    expect(y).not.toBe(x);
    x.dispose();
    expect(await toArray(y)).toEqual([3]);
    y.dispose();
  });

  it('using a released tensor throws', () => {
    const x = t([1]);
    x.dispose();
    expect(() => add(x, x)).toThrow(ReleasedTensorError);
  });

  it('nested scopes move results outwards and free on error', () => {
    const before = counters.liveTensors;
    const x = t([1]);
    expect(() => tidy(() => { tidy(() => add(x, 1)); throw new Error('boom'); })).toThrow('boom');
    expect(counters.liveTensors).toBe(before + 1);
    const r = tidy(() => ({ a: tidy(() => add(x, 1)), list: [add(x, 2)], n: 3 }));
    expect(r.n).toBe(3);
    expect(counters.liveTensors).toBe(before + 3);
    release(r, x);
    expect(counters.liveTensors).toBe(before);
  });

  it('rejects async functions', () => {
    expect(() => tidy(async () => 1 as never)).toThrow(/Promise/);
  });

  it('keep() takes a tensor out of the scope', () => {
    let k: Tensor | undefined;
    tidy(() => { k = keep(t([7])); t([8]); });
    expect(k!.released).toBe(false);
    k!.dispose();
  });

  it('any interleaving of allocations, scopes and releases returns to zero live tensors (model)', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.constant('alloc'), fc.constant('tidy'), fc.constant('release')), { maxLength: 40 }), (plan) => {
      const before = counters.liveTensors;
      const held: Tensor[] = [];
      for (const step of plan) {
        if (step === 'alloc') held.push(t([1, 2, 3]));
        else if (step === 'tidy') held.push(tidy(() => { const a = t([1]); return add(a, held.length > 0 ? held[0].size : 0); }));
        else held.pop()?.dispose();
      }
      release(held);
      expect(counters.liveTensors).toBe(before);
    }));
  });
});
