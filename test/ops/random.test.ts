import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type Key, type Tensor, ShapeError, bernoulli, cpuRead, dropout, foldIn, fromArray, key, ones, randomBits,
  randomNormal, randomUniform, read, splitKey, threefry2x32, tidy,
} from '../../src/index.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { gpu, cpuBackend } from '../support/devices.js';
import { checkVjp, expectAllClose, seededValues } from '../support/oracle.js';

const arbKey = fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })) as fc.Arbitrary<Key>;

async function take(f: () => Tensor): Promise<number[]> {
  const t = tidy(f);
  const out = Array.from(await read(t));
  t.dispose();
  return out;
}
const host = (f: () => Tensor): number[] => tidy(() => Array.from(cpuRead(f())));
const both = async (f: (be: Backend) => Tensor): Promise<[number[], number[]]> =>
  [host(() => f(cpuBackend)), await take(() => f(gpu!))];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => { const m = mean(xs); return mean(xs.map((x) => (x - m) ** 2)); };
function corr(a: number[], b: number[]): number {
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}
/** Pearson χ² of counts against a uniform expectation. */
function chiSquare(counts: number[], n: number): number {
  const e = n / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}
const hist = (us: number[], bins: number) => {
  const c = new Array<number>(bins).fill(0);
  for (const u of us) c[Math.floor(u * bins)]++;
  return c;
};

describe('keys and the Threefry hash', () => {
  it('matches the Random123 known-answer vectors for Threefry-2x32-20', () => {
    const hex = (k: Key, c0: number, c1: number) => threefry2x32(k, c0, c1).map((w) => w.toString(16).padStart(8, '0'));
    expect(hex([0, 0], 0, 0)).toEqual(['6b200159', '99ba4efe']);
    expect(hex([0xffffffff, 0xffffffff], 0xffffffff, 0xffffffff)).toEqual(['1cb996fc', 'bb002be7']);
    expect(hex([0x13198a2e, 0x03707344], 0x243f6a88, 0x85a308d3)).toEqual(['c4923a9c', '483df7a0']);
  });

  it('key, splitKey and foldIn are deterministic and give distinct keys', () => {
    expect(key(42)).toEqual([0, 42]);
    expect(key(-1)).toEqual([0xffffffff, 0xffffffff]);
    expect(key(2 ** 40 + 3)).toEqual([256, 3]);
    const ks = splitKey(key(0), 1000);
    expect(splitKey(key(0), 1000)).toEqual(ks);
    expect(new Set(ks.map((k) => `${k[0]},${k[1]}`)).size).toBe(1000);
    expect(foldIn(key(0), 7)).toEqual(foldIn(key(0), 7));
    expect(foldIn(key(0), 7)).not.toEqual(foldIn(key(0), 8));
    expect(foldIn(key(0), 0)).not.toEqual(splitKey(key(0), 1)[0]); // separate counter streams
  });

  it('rejects malformed keys, seeds and probabilities', () => {
    expect(() => key(1.5)).toThrow(ShapeError);
    expect(() => splitKey([1, -1] as Key)).toThrow(/two u32 words/);
    expect(() => randomBits([2 ** 32, 0] as Key, [3], { backend: cpuBackend })).toThrow(ShapeError);
    expect(() => bernoulli(key(0), [3], 1.5, { backend: cpuBackend })).toThrow(/probability/);
    expect(() => randomBits(key(0), [3], { backend: cpuBackend, dtype: 'f32' })).toThrow(/i32 only/);
    expect(() => randomUniform(key(0), [3], { backend: cpuBackend, dtype: 'i32' })).toThrow(ShapeError);
    const x = fromArray([1, 2], [2], { backend: cpuBackend, dtype: 'i32' });
    expect(() => dropout(key(0), x, 0.5)).toThrow(ShapeError);
    x.dispose();
  });
});

describe('random tensors', () => {
  it('element i depends only on the key and i (not on the shape)', () => {
    const k = key(3);
    const flat = host(() => randomBits(k, [35], { backend: cpuBackend }));
    expect(host(() => randomBits(k, [5, 7], { backend: cpuBackend }))).toEqual(flat);
    // elements 2j and 2j+1 are the two words of counter j (kernels/random.wgsl)
    expect(flat).toEqual(flat.map((_, i) => threefry2x32(k, i >> 1, 0)[i & 1] | 0));
  });

  it.skipIf(!gpu)('raw bits: WebGPU equals the CPU exactly', async () => {
    await fc.assert(fc.asyncProperty(arbKey, arbShape({ maxSize: 5000 }), async (k, shape) => {
      const [want, got] = await both((backend) => randomBits(k, shape, { backend }));
      expect(got).toEqual(want);
    }), { numRuns: 15 });
  });

  it.skipIf(!gpu)('uniform [0, 1): identical on both backends; [low, high) within one f32 rounding', async () => {
    await fc.assert(fc.asyncProperty(arbKey, arbShape({ maxSize: 5000 }), async (k, shape) => {
      const [want, got] = await both((backend) => randomUniform(k, shape, { backend }));
      expect(got).toEqual(want);
      for (const u of want) expect(u >= 0 && u < 1).toBe(true);
      const [w2, g2] = await both((backend) => randomUniform(k, shape, { backend, low: -3, high: 5 }));
      expectAllClose(g2, w2, { rtol: 2e-7, atol: 1e-6 });
    }), { numRuns: 10 });
  });

  it.skipIf(!gpu)('normal: WebGPU equals the CPU up to f32 rounding, including the tails', async () => {
    const k = key(11);
    const [want, got] = await both((backend) => randomNormal(k, [1 << 18], { backend, mean: 1, std: 2 }));
    expectAllClose(got, want, { rtol: 2e-6, atol: 2e-5 });
    await fc.assert(fc.asyncProperty(arbKey, arbShape({ maxSize: 3000 }), async (kk, shape) => {
      const [w, g] = await both((backend) => randomNormal(kk, shape, { backend }));
      expectAllClose(g, w, { rtol: 2e-6, atol: 1e-5 });
    }), { numRuns: 10 });
  });

  it.skipIf(!gpu)('bernoulli: identical on both backends for every p, in f32 and i32', async () => {
    for (const p of [0, 1e-7, 0.1, 0.5, 0.9, 1]) {
      for (const dtype of ['f32', 'i32'] as const) {
        const [want, got] = await both((backend) => bernoulli(key(5), [4099], p, { backend, dtype }));
        expect(got).toEqual(want);
        if (p === 0) expect(want.every((b) => b === 0)).toBe(true);
        if (p === 1) expect(want.every((b) => b === 1)).toBe(true);
      }
    }
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const n = 65536 * 256 + 300;
    const k = key(99);
    const got = await take(() => randomBits(k, [n], { backend: gpu! }));
    const want = cpuRead(tidy(() => randomBits(k, [n], { backend: cpuBackend })));
    let bad = -1;
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) { bad = i; break; }
    expect(bad).toBe(-1);
  });
});

describe('statistical quality (fixed keys: deterministic)', () => {
  const N = 1 << 16;
  const us = host(() => randomUniform(key(2024), [N], { backend: cpuBackend }));

  it('uniform: mean, variance and a 64-bin χ² look uniform', () => {
    expect(Math.abs(mean(us) - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance(us) - 1 / 12)).toBeLessThan(0.003);
    expect(chiSquare(hist(us, 64), N)).toBeLessThan(110); // dof 63: P(χ² > 110) ≈ 2e-4
  });

  it('adjacent counters are uncorrelated (lag-1 correlation, 8×8 pair χ²)', () => {
    expect(Math.abs(corr(us.slice(0, -1), us.slice(1)))).toBeLessThan(0.02);
    const pairs = new Array<number>(64).fill(0);
    for (let i = 0; i + 1 < N; i += 2) pairs[Math.floor(us[i] * 8) * 8 + Math.floor(us[i + 1] * 8)]++;
    expect(chiSquare(pairs, N / 2)).toBeLessThan(110);
  });

  it('split keys, folded keys and neighbouring seeds give uncorrelated streams', () => {
    const [a, b] = splitKey(key(2024), 2);
    const streams = [a, b, foldIn(key(2024), 1), key(2025)].map((k) => host(() => randomUniform(k, [N], { backend: cpuBackend })));
    for (const s of streams) expect(Math.abs(corr(us, s))).toBeLessThan(0.02);
    expect(Math.abs(corr(streams[0], streams[1]))).toBeLessThan(0.02);
  });

  it('every bit position of the raw words is balanced', () => {
    const bits = host(() => randomBits(key(7), [N], { backend: cpuBackend }));
    for (let b = 0; b < 32; b++) {
      const ones = bits.reduce((s, w) => s + ((w >>> b) & 1), 0);
      expect(Math.abs(ones - N / 2)).toBeLessThan(5 * Math.sqrt(N / 4));
    }
  });

  it('normal: mean, variance, fourth moment and tail mass', () => {
    const zs = host(() => randomNormal(key(8), [N], { backend: cpuBackend, mean: 0, std: 1 }));
    expect(Math.abs(mean(zs))).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance(zs) - 1)).toBeLessThan(0.03);
    expect(Math.abs(mean(zs.map((z) => z ** 4)) - 3)).toBeLessThan(0.15);
    const tail = zs.filter((z) => Math.abs(z) > 1.959964).length / N;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.005);
  });

  it('bernoulli(p) has frequency p', () => {
    for (const p of [0.1, 0.5, 0.85]) {
      const bs = host(() => bernoulli(key(9), [N], p, { backend: cpuBackend }));
      expect(Math.abs(mean(bs) - p)).toBeLessThan(5 * Math.sqrt(p * (1 - p) / N));
    }
  });
});

describe('dropout', () => {
  it('drops exactly where bernoulli(p) is 1 and scales the rest by 1/(1 − p)', () => {
    const k = key(21), p = 0.3;
    const y = host(() => dropout(k, ones([2000], { backend: cpuBackend }), p));
    const dropped = host(() => bernoulli(k, [2000], p, { backend: cpuBackend }));
    expect(y).toEqual(dropped.map((d) => (d === 1 ? 0 : Math.fround(1 / (1 - p)))));
  });

  it.skipIf(!gpu)('WebGPU equals the CPU bit for bit', async () => {
    await fc.assert(fc.asyncProperty(arbKey, arbShape({ maxSize: 5000 }), fc.double({ min: 0.01, max: 0.99, noNaN: true }), async (k, shape, p) => {
      const values = seededValues(sizeOfShape(shape), k[0] ^ k[1], -4, 4);
      const [want, got] = await both((backend) => dropout(k, fromArray(values, shape, { backend }), p));
      expect(got).toEqual(want);
    }), { numRuns: 15 });
  });

  it('p = 0 returns x without a dispatch; p = 1 gives zeros', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      const x = fromArray([1, -2, 3], [3], { backend: be });
      const before = gpu?.counters.dispatches ?? 0;
      const y = dropout(key(1), x, 0);
      expect(gpu?.counters.dispatches ?? 0).toBe(before);
      expect(Array.from(await read(y))).toEqual([1, -2, 3]);
      const z = dropout(key(1), x, 1);
      expect(Array.from(await read(z))).toEqual([0, 0, 0]);
      for (const t of [x, y, z]) t.dispose();
    }
  });

  it('VJP is dropout of the cotangent with the same key (f64 central differences)', () => {
    const k = key(4);
    fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 3, maxSize: 60 }), fc.constantFrom(0, 0.25, 0.5, 1), (shape, p) => {
      checkVjp((x) => dropout(k, x, p), [{ values: seededValues(sizeOfShape(shape), 5), shape }]);
    }), { numRuns: 15 });
  });
});
