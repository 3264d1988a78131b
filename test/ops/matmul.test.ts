import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type HostArray, type MatmulVariant, type Tensor, ShapeError, cpu, fromArray, gelu, geluBackward, geluDeriv, linear, linearComposed,
  matmul, matmulOp, matmulVariantFor, mul, read, release, tidy, vjp,
} from '../../src/index.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { checkVjp, expectAllClose, on, runOn, seededValues } from '../support/oracle.js';

type Flags = { transA: boolean; transB: boolean };
const allFlags: Flags[] = [false, true].flatMap((transA) => [false, true].map((transB) => ({ transA, transB })));
const name = (f: Flags) => `${f.transA ? 'Aᵀ' : 'A'}·${f.transB ? 'Bᵀ' : 'B'}`;

/** Stored shapes of a and b for op(a) [.., M, K] · op(b) [.., K, N]. */
const operands = (M: number, N: number, K: number, f: Flags, ba: number[] = [], bb: number[] = []): [number[], number[]] =>
  [[...ba, ...(f.transA ? [K, M] : [M, K])], [...bb, ...(f.transB ? [N, K] : [K, N])]];

// Sums of K products of values in [-1, 1): f32 rounding grows about linearly with K.
const tol = (K: number) => ({ rtol: 1e-5, atol: 1e-6 * (K + 1) });

/** Runs op(a)·op(b) on the CPU and the GPU (with a given kernel family) and compares. */
async function agree(sa: number[], sb: number[], f: Flags, seed: number, variant: MatmulVariant = 'auto'): Promise<void> {
  const K = f.transA ? sa[sa.length - 2] : sa[sa.length - 1];
  const inputs = [
    { values: seededValues(sa.reduce((x, y) => x * y, 1), seed), shape: sa },
    { values: seededValues(sb.reduce((x, y) => x * y, 1), seed + 1), shape: sb },
  ];
  const h = (a: Tensor, b: Tensor) => matmul(a, b, f);
  const want = await runOn(cpuBackend, h, inputs);
  const prev = gpu!.setKernelOptions({ matmul: { variant } });
  try {
    expectAllClose(await runOn(gpu!, h, inputs), want, tol(K));
  } finally {
    gpu!.setKernelOptions(prev);
  }
}

// Dimensions that hit both kernels (multiples of 4 read as vec4) and every tile edge.
/** Whether this device runs the subgroup kernel (needs the 'subgroups' feature and 8-wide subgroups). */
const hasSubgroups = gpu !== null && (() => {
  const prev = gpu.setKernelOptions({ matmul: { variant: 'subgroups' } });
  try { return matmulVariantFor(gpu) === 'subgroups'; } finally { gpu.setKernelOptions(prev); }
})();

const dimArb = fc.oneof(fc.constantFrom(1, 2, 3, 5, 7, 13, 17, 31, 33, 65, 129), fc.constantFrom(4, 8, 12, 16, 32, 64, 100, 128));
const mnk = fc.tuple(dimArb, dimArb, dimArb, fc.nat({ max: 1_000_000 }));

describe('matmul', () => {
  for (const variant of ['registers', 'subgroups', 'shared'] as const) {
    for (const f of allFlags) {
      it.skipIf(!gpu || (variant === 'subgroups' && !hasSubgroups))(`${name(f)} (${variant}): WebGPU equals the CPU for awkward M, N, K`, async () => {
        await fc.assert(fc.asyncProperty(mnk, async ([M, N, K, seed]) => {
          const [sa, sb] = operands(M, N, K, f);
          await agree(sa, sb, f, seed, variant);
        }), { numRuns: 12 });
      });
    }
  }

  it.skipIf(!gpu)('large prime and 4-aligned shapes agree with the CPU (65, 129, 257; 128, 260; K = 131 after vec4 rows)', async () => {
    for (const f of allFlags) {
      await agree(...operands(129, 65, 257, f), f, 3);
      for (const variant of hasSubgroups ? ['registers', 'subgroups', 'shared'] as const : ['registers', 'shared'] as const) {
        await agree(...operands(128, 260, 132, f), f, 5, variant);
        await agree(...operands(128, 260, 131, f), f, 7, variant);
      }
    }
  });

  it.skipIf(!gpu)('batch axes broadcast: equal, missing on either side, and size-1 against size-n', async () => {
    const cases: [number[], number[]][] = [[[3], [3]], [[2, 3], []], [[], [2]], [[2, 1], [3]], [[4, 1, 2], [3, 1]]];
    for (const f of allFlags) {
      for (const [ba, bb] of cases) {
        await agree(...operands(5, 8, 12, f, ba, bb), f, 11);
        await agree(...operands(13, 7, 3, f, ba, bb), f, 12);
        await agree(...operands(8, 8, 8, f, ba, bb), f, 13, 'shared');
        await agree(...operands(8, 8, 8, f, ba, bb), f, 14, 'registers');
      }
    }
  });

  it('the output shape is the broadcast batch followed by [M, N]', () => {
    const be = cpu();
    const a = fromArray(new Array(2 * 1 * 3 * 4).fill(1), [2, 1, 3, 4], { backend: be });
    const b = fromArray(new Array(5 * 2 * 4).fill(1), [5, 2, 4], { backend: be });
    expect(matmul(a, b, { transB: true }).shape).toEqual([2, 5, 3, 2]);
  });

  it.skipIf(!gpu)('a batched product whose grid needs more than 65,535 workgroups (both kernels)', async () => {
    await agree([70_000, 1, 1], [70_000, 1, 1], allFlags[0], 21);
    await agree([66_000, 1, 4], [66_000, 4, 4], allFlags[0], 22);
  });

  it('K = 0 gives zeros and an empty M or N gives an empty result', async () => {
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      expectAllClose(await runOn(be, (a, b) => matmul(a, b), [{ values: [], shape: [2, 0] }, { values: [], shape: [0, 3] }]), [0, 0, 0, 0, 0, 0]);
      expect((await runOn(be, (a, b) => matmul(a, b), [{ values: [], shape: [0, 4] }, { values: [1, 2, 3, 4], shape: [4, 1] }])).length).toBe(0);
    }
  });

  it.skipIf(!gpu)("'auto' picks a register kernel on CPU adapters (subgroups when it can) and the shared one elsewhere", () => {
    const prev = gpu!.setKernelOptions({ matmul: { variant: 'auto' } });
    try {
      const software = /llvmpipe|lavapipe|swiftshader|software/i.test(Object.values(gpu!.opened.info).join(' '));
      expect(matmulVariantFor(gpu!)).toBe(software ? (hasSubgroups ? 'subgroups' : 'registers') : 'shared');
    } finally {
      gpu!.setKernelOptions(prev);
    }
  });

  for (const f of allFlags) {
    it(`${name(f)}: VJP agrees with central differences (with broadcast batch axes)`, () => {
      const cases: [number[], number[]][] = [[[], []], [[2], [2]], [[2, 3], []], [[], [2]], [[2, 1], [3]]];
      for (const [ba, bb] of cases) {
        const [sa, sb] = operands(3, 4, 5, f, ba, bb);
        const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
        checkVjp((a, b) => matmul(a, b, f), [{ values: seededValues(size(sa), 1), shape: sa }, { values: seededValues(size(sb), 2), shape: sb }]);
      }
    });
  }

  it('the VJP skips the product for an input that needs no gradient', () => {
    const be = cpu();
    const cpuRule = matmulOp.cpu;
    let calls = 0;
    matmulOp.cpu = (...args) => { calls++; cpuRule(...args); };
    try {
      const a = fromArray(seededValues(6, 1), [2, 3], { backend: be });
      const b = fromArray(seededValues(12, 2), [3, 4], { backend: be });
      for (const [wrt, backward] of [[['a'], 1], [['b'], 1], [['a', 'b'], 2]] as const) {
        calls = 0;
        const [y, pull] = vjp((x: { a: Tensor; b: Tensor }) => matmul(x.a, x.b), wrt)({ a, b });
        pull(fromArray(seededValues(8, 3), y.shape, { backend: be }));
        expect(calls).toBe(1 + backward);
      }
    } finally {
      matmulOp.cpu = cpuRule;
    }
  });

  it('shape errors name the op and both operands', () => {
    const be = cpu();
    const t = (shape: number[]) => fromArray(new Array(shape.reduce((x, y) => x * y, 1)).fill(0), shape, { backend: be });
    expect(() => matmul(t([2, 3]), t([4, 5]))).toThrow(ShapeError);
    expect(() => matmul(t([2, 3]), t([4, 5]))).toThrow(/matmul: inner dimensions differ \(3 vs 4\): \[2, 3\] · \[4, 5\]/);
    expect(() => matmul(t([3, 2]), t([4, 5]), { transA: true })).toThrow(/\[3, 2\]ᵀ · \[4, 5\]/);
    expect(() => matmul(t([3]), t([3, 2]))).toThrow(/matmul: operands need rank ≥ 2: \[3\] · \[3, 2\]/);
    expect(() => matmul(t([2, 2, 3]), t([3, 3, 4]))).toThrow(/matmul: batch dimensions do not broadcast: \[2, 2, 3\] · \[3, 3, 4\]/);
  });
});

describe('linear', () => {
  const x = { values: seededValues(2 * 3 * 5, 4), shape: [2, 3, 5] };
  const w = { values: seededValues(4 * 5, 5), shape: [4, 5] };
  const bias = { values: seededValues(4, 6), shape: [4] };

  it('equals x·Wᵀ + b written out by hand, on every backend, with and without bias', async () => {
    const want = new Array<number>(24).fill(0);
    for (let r = 0; r < 6; r++) {
      for (let o = 0; o < 4; o++) {
        let s = bias.values[o];
        for (let i = 0; i < 5; i++) s += x.values[r * 5 + i] * w.values[o * 5 + i];
        want[r * 4 + o] = s;
      }
    }
    for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
      expectAllClose(await runOn(be, (a, b, c) => linear(a, b, c), [x, w, bias]), want, tol(5));
      expectAllClose(await runOn(be, (a, b) => linear(a, b), [x, w]), want.map((v, i) => v - bias.values[i % 4]), tol(5));
      const one = await runOn(be, (a, b, c) => linear(a, b, c), [{ values: x.values.slice(0, 5), shape: [5] }, w, bias]);
      expectAllClose(one, want.slice(0, 4), tol(5));
    }
  });

  it('VJP agrees with central differences for x, weight and bias', () => {
    checkVjp((a, b, c) => linear(a, b, c), [x, w, bias]);
    checkVjp((a, b) => linear(a, b), [x, w]);
  });

  it('shape errors name linear and the shapes', () => {
    const be = cpu();
    const t = (shape: number[]) => fromArray(new Array(shape.reduce((p, q) => p * q, 1)).fill(0), shape, { backend: be });
    expect(() => linear(t([2, 5]), t([4, 6]))).toThrow(/linear: x \[2, 5\] does not end in the 6 input features of weight \[4, 6\]/);
    expect(() => linear(t([2, 5]), t([20]))).toThrow(/linear: weight must be \[out, in\], got \[20\]/);
    expect(() => linear(t([2, 5]), t([4, 5]), t([5]))).toThrow(/linear: bias \[5\] must be \[4\] for weight \[4, 5\]/);
  });
});

describe('linear (fused bias and GELU epilogue)', () => {
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  /** y = act(x·Wᵀ + b) and its gradients for x, W, b on one backend. */
  async function forwardAndGrads(be: Backend, f: (x: Tensor, w: Tensor, b?: Tensor) => Tensor, xs: number[], out: number, bias: boolean, seed: number): Promise<HostArray[]> {
    const inF = xs[xs.length - 1];
    const x = on(be, seededValues(size(xs), seed), xs), w = on(be, seededValues(out * inF, seed + 1), [out, inF]);
    const b = bias ? on(be, seededValues(out, seed + 2), [out]) : undefined;
    const g = on(be, seededValues(size(xs) / inF * out, seed + 3), [...xs.slice(0, -1), out]);
    const outs = tidy(() => {
      const [y, pull] = vjp((a: { x: Tensor; w: Tensor; b?: Tensor }) => f(a.x, a.w, a.b), bias ? ['x', 'w', 'b'] : ['x', 'w'])({ x, w, b });
      const gr = pull(g) as { x: Tensor; w: Tensor; b?: Tensor };
      return [y, gr.x, gr.w, ...(gr.b ? [gr.b] : [])];
    });
    const host = await Promise.all(outs.map((t) => read(t)));
    release(outs, x, w, b, g);
    return host;
  }
  const fused = (act: 'none' | 'gelu') => (x: Tensor, w: Tensor, b?: Tensor) => linear(x, w, b, { act });
  const plain = (act: 'none' | 'gelu') => (x: Tensor, w: Tensor, b?: Tensor) => (act === 'gelu' ? gelu(linearComposed(x, w, b)) : linearComposed(x, w, b));
  const rows = fc.oneof(fc.constantFrom(1, 3, 7, 13, 64, 65), fc.constantFrom(4, 16, 100));

  for (const variant of ['registers', 'subgroups', 'shared'] as const) {
    it.skipIf(!gpu || (variant === 'subgroups' && !hasSubgroups))(`(${variant}) WebGPU equals the CPU for awkward sizes, with and without bias and GELU`, async () => {
      await fc.assert(fc.asyncProperty(rows, dimArb, dimArb, fc.boolean(), fc.constantFrom('none' as const, 'gelu' as const), fc.nat(1000), async (M, N, K, bias, act, seed) => {
        const want = await forwardAndGrads(cpuBackend, fused(act), [M, K], N, bias, seed);
        const prev = gpu!.setKernelOptions({ matmul: { variant } });
        try {
          const got = await forwardAndGrads(gpu!, fused(act), [M, K], N, bias, seed);
          got.forEach((t, i) => expectAllClose(t, want[i], tol(Math.max(K, i >= 2 ? M : 0))));
        } finally {
          gpu!.setKernelOptions(prev);
        }
      }), { numRuns: 10 });
    });
  }

  it('equals the plain composition (matmul, add, gelu) on every backend; on the CPU exactly in f64', async () => {
    for (const [xs, out, bias, act] of [[[2, 5, 12], 20, true, 'gelu'], [[7, 3], 5, true, 'none'], [[9], 4, false, 'gelu'], [[64, 128], 512, true, 'gelu']] as const) {
      for (const be of gpu ? [cpuBackend, gpu] : [cpuBackend]) {
        const a = await forwardAndGrads(be, fused(act), [...xs], out, bias, 3), b = await forwardAndGrads(be, plain(act), [...xs], out, bias, 3);
        a.forEach((t, i) => expectAllClose(t, b[i], tol(Math.max(xs[xs.length - 1], i >= 2 ? 64 : 0))));
      }
    }
  });

  it('VJP with GELU agrees with central differences for x, weight and bias (f64)', () => {
    const x = { values: seededValues(2 * 3 * 5, 4), shape: [2, 3, 5] }, w = { values: seededValues(4 * 5, 5), shape: [4, 5] };
    checkVjp((a, b, c) => linear(a, b, c, { act: 'gelu' }), [x, w, { values: seededValues(4, 6), shape: [4] }]);
    checkVjp((a, b) => linear(a, b, undefined, { act: 'gelu' }), [x, w]);
  });

  it('one dispatch forward (bias and GELU included) and geluBackward in one dispatch', async () => {
    if (!gpu) return;
    const x = on(gpu, seededValues(64 * 32, 1), [64, 32]), w = on(gpu, seededValues(48 * 32, 2), [48, 32]), b = on(gpu, seededValues(48, 3), [48]);
    const d0 = gpu.counters.dispatches;
    const y = linear(x, w, b, { act: 'gelu' });
    expect(gpu.counters.dispatches - d0).toBe(1);
    const g = geluBackward(x, x); // x ⊙ GELU′(x)
    expect(gpu.counters.dispatches - d0).toBe(2);
    expectAllClose(await read(g), await runOn(cpuBackend, (u) => mul(u, geluDeriv(u)), [{ values: seededValues(64 * 32, 1), shape: [64, 32] }]), { rtol: 1e-5, atol: 1e-6 });
    release(x, w, b, y, g);
  });
});
