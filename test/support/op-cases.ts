// Op agreement cases that run anywhere (no vitest, no Node): each case draws inputs of random shape with
// fast-check, runs the op and its VJP (a random cotangent) on the CPU reference and on a WebGPU backend,
// and compares outputs and input gradients. Used by the browser suite (test/browser/page/suite.ts) on the
// browser's adapter; the per-op files in test/ops/ run the full property tests under Node.
import fc from 'fast-check';
import {
  type Backend, type Tensor, abs, adamwUpdate, add, arange, attention, bernoulli, broadcastTo, cast, concat, crossEntropy, div, dropout,
  equal, erfOp, exp, fromArray, full, gather, gelu, geluDeriv, greater, greaterEqual, key, layerNorm, less, lessEqual, linear, log,
  logSoftmax, matmul, max, maximum, mean, minimum, mul, neg, notEqual, pad, permute, pow, randomNormal, randomUniform, read, reciprocal,
  relu, repeatEach, reshape, rsqrt, scalarOp, sigmoid, sign, slice, softmax, sqrt, square, stack, sub, sum, tanh, tidy, vjp, where,
} from '../../src/index.js';
import { arbBroadcastPair, arbShape, arbValues, sizeOfShape } from './arbitraries.js';

export interface Input { values: ArrayLike<number>; shape: number[]; dtype?: 'f32' | 'i32'; /** Differentiate with respect to it (float inputs; default true). */ grad?: boolean }
export interface Tol { rtol: number; atol: number }
export interface OpCase {
  name: string;
  inputs: fc.Arbitrary<Input[]>;
  f: (...xs: Tensor[]) => Tensor | Tensor[];
  tol?: Tol;
  /** Gradients: |got − want| ≤ gradRel · (the gradient's largest magnitude) + 1e-6 (f32 rounding of O(1) cotangent sums). */
  gradRel?: number;
  /** false: forward only (not differentiable, or integer outputs). */
  vjp?: boolean;
  runs?: number;
}

const T: Tol = { rtol: 2e-6, atol: 2e-6 };
const scaled = (v: number[], lo: number, hi: number) => v.map((x) => lo + ((x + 1) / 2) * (hi - lo));
const f32 = (shape: number[], lo = -1, hi = 1): fc.Arbitrary<Input> => arbValues(sizeOfShape(shape), 1).map((v) => ({ values: scaled(v, lo, hi), shape }));
const one = (o: { maxRank?: number; maxSize?: number; lo?: number; hi?: number } = {}): fc.Arbitrary<Input[]> =>
  arbShape({ maxRank: o.maxRank ?? 4, maxSize: o.maxSize ?? 2000 }).chain((s) => f32(s, o.lo, o.hi)).map((x) => [x]);
const ints = (shape: number[], n: number): fc.Arbitrary<Input> =>
  fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: sizeOfShape(shape), maxLength: sizeOfShape(shape) }).map((v) => ({ values: v, shape, dtype: 'i32' as const }));
const dim = (max: number) => fc.integer({ min: 1, max });
/**
 * Rows of D ≥ 2 values whose spread is tiny against the values themselves lose digits to f32 cancellation
 * in x − mean, in any f32 kernel (a row [0.7304, 0.7311] has 3 significant digits left), which the f64
 * reference does not: such rows get ±0.1 added alternately, so the comparison judges the kernel, not f32.
 */
const spreadRows = (x: Input, D: number): Input => {
  if (D < 2) return x;
  const v = Array.from(x.values);
  for (let r = 0; r * D < v.length; r++) {
    const row = v.slice(r * D, r * D + D), m = row.reduce((a, y) => a + y, 0) / D;
    if (Math.sqrt(row.reduce((a, y) => a + (y - m) ** 2, 0) / D) < 0.05) for (let j = 0; j < D; j++) v[r * D + j] += j % 2 === 0 ? -0.1 : 0.1;
  }
  return { ...x, values: v };
};
/** A random axis of a shape of rank r ≥ 1, sometimes negative. */
const axisOf = (r: number) => fc.integer({ min: -r, max: r - 1 });

const unary = (name: string, f: (x: Tensor) => Tensor, lo: number, hi: number, tol: Tol = T, vjpOk = true): OpCase =>
  ({ name, inputs: one({ lo, hi }), f, tol, vjp: vjpOk, gradRel: 1e-4 });

const binary = (name: string, f: (a: Tensor, b: Tensor) => Tensor, differentiable: boolean): OpCase => ({
  name,
  inputs: arbBroadcastPair({ maxRank: 4, maxSize: 1500 }).chain(([sa, sb]) => fc.tuple(f32(sa, -2, 2), f32(sb, -2, 2)))
    .map(([a, b]) => [a, name === 'div' ? { ...b, values: Array.from(b.values, (x) => (Math.abs(x) < 0.25 ? x + (x < 0 ? -0.5 : 0.5) : x)) }
      // maximum, minimum: keep b off a's values (ties, where the derivative jumps), on the host so both backends see the same f32 values
      : name === 'maximum' || name === 'minimum' ? { ...b, values: Array.from(b.values, (x) => x + 0.0137) } : b]),
  // gradients of a broadcast operand are sums over the broadcast axes: f32 sums in another order
  f, tol: { rtol: 1e-6, atol: 1e-7 }, vjp: differentiable, gradRel: 1e-4,
});

/** Every case; together with the RoBERTa step of the suite they reach every op with a WebGPU rule. */
export const opCases: OpCase[] = [
  unary('neg', neg, -5, 5), unary('exp', exp, -10, 10, { rtol: 4e-6, atol: 1e-6 }), unary('log', log, 0.01, 100), unary('sqrt', sqrt, 0.2, 100),
  unary('rsqrt', rsqrt, 0.01, 100, { rtol: 4e-6, atol: 0 }), unary('tanh', tanh, -20, 20, { rtol: 1e-5, atol: 2e-7 }),
  unary('erf', erfOp, -6, 6, { rtol: 1e-6, atol: 4e-7 }), unary('gelu', gelu, -8, 8, { rtol: 1e-6, atol: 1e-6 }), unary('abs', abs, 0.05, 5),
  unary('sigmoid', sigmoid, -20, 20), unary('square', square, -5, 5), unary('reciprocal', reciprocal, 0.1, 10), unary('relu', relu, 0.05, 5),
  unary('sign', sign, -5, 5, T, false), unary('pow', (x) => pow(x, 1.7), 0.1, 5, { rtol: 1e-5, atol: 1e-6 }),
  unary('geluDeriv', geluDeriv, -8, 8, { rtol: 1e-5, atol: 1e-6 }, false),
  binary('add', add, true), binary('sub', sub, true), binary('mul', mul, true), binary('div', div, true),
  binary('maximum', maximum, true), binary('minimum', minimum, true),
  binary('equal', (a, b) => equal(a, mul(b, 0)), false), binary('notEqual', (a, b) => notEqual(a, mul(b, 0)), false),
  binary('less', less, false), binary('lessEqual', lessEqual, false), binary('greater', greater, false), binary('greaterEqual', greaterEqual, false),
  { name: 'scalarBinary', inputs: one({ lo: 0.5, hi: 3 }), f: (x) => stack([scalarOp('mul', x, 1.5), scalarOp('rsub', x, 2), scalarOp('rdiv', x, 3), scalarOp('maximum', x, 1)]), tol: { rtol: 1e-6, atol: 1e-7 } },
  {
    name: 'reduceAxis (sum, mean, max over random axes)',
    inputs: arbShape({ minRank: 1, maxRank: 4, maxSize: 3000 }).chain((s) => fc.tuple(f32(s), axisOf(s.length), fc.boolean()))
      .map(([x, axis, keep]) => [x, { values: [axis, keep ? 1 : 0], shape: [2], dtype: 'i32', grad: false }]),
    f: (x, a) => { const [axis, keep] = cpuInts(a); return concat([sum(x, axis, { keepDims: !!keep }), mean(x, axis, { keepDims: !!keep }), max(x, axis, { keepDims: !!keep })].map((t) => reshape(t, [t.size])), 0); },
    tol: { rtol: 2e-5, atol: 2e-5 },
  },
  {
    name: 'broadcastTo',
    inputs: arbShape({ minRank: 1, maxRank: 4, maxSize: 1500 }).chain((s) => fc.tuple(fc.nat({ max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
      .chain(([drop, ones]) => f32(s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))).map((x) => [x, { values: s, shape: [s.length], dtype: 'i32' as const, grad: false }]))),
    f: (x, s) => broadcastTo(x, Array.from(cpuInts(s))),
  },
  { name: 'fill (full, arange)', inputs: fc.tuple(dim(300), fc.integer({ min: -50, max: 50 })).map(([n, v]) => [{ values: [n, v], shape: [2], dtype: 'i32', grad: false }]),
    f: (p) => { const [n, v] = cpuInts(p); return concat([full([n], v / 7, { backend: p.backend }), arange(0, n, 1, { backend: p.backend })], 0); }, vjp: false },
  { name: 'cast (f32 ↔ i32)', inputs: one({ lo: -100, hi: 100 }), f: (x) => cast(cast(x, 'i32'), 'f32'), vjp: false },
  {
    name: 'permute',
    inputs: arbShape({ minRank: 1, maxRank: 5, maxSize: 3000 }).chain((s) => fc.tuple(f32(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length })))
      .map(([x, axes]) => [x, { values: axes, shape: [axes.length], dtype: 'i32', grad: false }]),
    f: (x, a) => permute(x, Array.from(cpuInts(a))),
  },
  {
    name: 'slice and pad',
    inputs: arbShape({ minRank: 1, maxRank: 4, maxSize: 2000 }).chain((s) => fc.tuple(f32(s), fc.tuple(...s.map((d) => fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.integer({ min: 0, max: 3 })))))).map(([x, r]) => [x, { values: r.flat(), shape: [r.length, 2], dtype: 'i32', grad: false }]),
    f: (x, r) => { const v = cpuInts(r), n = x.shape.length; const st = Array.from({ length: n }, (_, i) => v[2 * i]); const pd = Array.from({ length: n }, (_, i) => v[2 * i + 1]); return pad(slice(x, st), pd, pd.map((p) => (p + 1) % 3)); },
  },
  {
    name: 'concat, stack and repeatEach',
    inputs: arbShape({ minRank: 1, maxRank: 3, maxSize: 800 }).chain((s) => fc.tuple(f32(s), f32(s), dim(4), axisOf(s.length))).map(([a, b, k, axis]) => [a, b, { values: [k, axis], shape: [2], dtype: 'i32', grad: false }]),
    f: (a, b, p) => { const [k, axis] = cpuInts(p); return concat([reshape(concat([a, b], axis), [2 * a.size]), reshape(stack([a, b], 0), [2 * a.size]), reshape(repeatEach(reshape(a, [a.size]), k), [a.size * k])], 0); },
  },
  {
    name: 'gather (and its backward)',
    inputs: fc.tuple(dim(70), dim(40), arbShape({ minRank: 1, maxRank: 2, maxSize: 300 })).chain(([V, D, s]) => fc.tuple(f32([V, D]), ints(s, V))),
    f: (table, ids) => gather(table, ids), tol: { rtol: 0, atol: 0 }, gradRel: 1e-5,
  },
  {
    name: 'where',
    inputs: arbBroadcastPair({ maxRank: 3, maxSize: 1000 }).chain(([sa, sb]) => fc.tuple(f32(sa), f32(sb), f32(sa))),
    f: (c, a, b) => where(greater(c, 0), a, b),
  },
  {
    name: 'random (uniform, bernoulli, dropout: the same bits on both)',
    inputs: fc.tuple(arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }), fc.nat({ max: 1e6 })).chain(([s, seed]) => f32(s).map((x) => [x, { values: [seed], shape: [1], dtype: 'i32' as const, grad: false }])),
    f: (x, sd) => { const k = key(cpuInts(sd)[0]); const o = { backend: x.backend }; return concat([randomUniform(k, x.shape, o), bernoulli(k, x.shape, 0.3, o), dropout(k, x, 0.25)].map((t) => reshape(t, [t.size])), 0); },
    tol: { rtol: 1e-6, atol: 1e-7 }, vjp: false,
  },
  {
    // Box–Muller's log and cos: WGSL allows them a few ulp (cos 2^-11 absolute on [−π, π]); SwiftShader's differ from the CPU's by ~1e-5.
    name: 'random (normal)',
    inputs: fc.tuple(arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }), fc.nat({ max: 1e6 })).map(([s, seed]) => [{ values: [seed, ...s], shape: [1 + s.length], dtype: 'i32' as const, grad: false }]),
    f: (p) => { const [seed, ...s] = cpuInts(p); return randomNormal(key(seed), s, { backend: p.backend }); },
    tol: { rtol: 2e-4, atol: 2e-4 }, vjp: false,
  },
  {
    name: 'adamwUpdate',
    inputs: arbShape({ minRank: 1, maxRank: 2, maxSize: 3000 }).chain((s) => fc.tuple(f32(s), f32(s), f32(s), f32(s, 0.01, 1))),
    f: (p, g, m, v) => adamwUpdate(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 }), tol: { rtol: 1e-5, atol: 1e-6 }, vjp: false,
  },
  {
    name: 'softmax and logSoftmax (and backward)',
    inputs: arbShape({ minRank: 1, maxRank: 4, maxSize: 3000 }).chain((s) => fc.tuple(f32(s, -4, 4), axisOf(s.length))).map(([x, a]) => [x, { values: [a], shape: [1], dtype: 'i32', grad: false }]),
    f: (x, a) => { const axis = cpuInts(a)[0]; return concat([reshape(softmax(x, axis), [x.size]), reshape(logSoftmax(x, axis), [x.size])], 0); },
    tol: { rtol: 1e-5, atol: 2e-6 }, gradRel: 1e-4,
  },
  {
    name: 'layerNorm (and backward)',
    inputs: fc.tuple(arbShape({ minRank: 0, maxRank: 2, maxSize: 200 }), dim(300)).chain(([lead, D]) => fc.tuple(f32([...lead, D], -2, 2).map((x) => spreadRows(x, D)), f32([D], 0.5, 1.5), f32([D]))),
    f: (x, w, b) => layerNorm(x, w, b, 1e-5), tol: { rtol: 1e-4, atol: 1e-5 }, gradRel: 2e-4,
  },
  {
    name: 'crossEntropy (and backward)',
    inputs: fc.tuple(dim(60), dim(300)).chain(([N, C]) => fc.tuple(f32([N, C], -4, 4), fc.array(fc.oneof(fc.integer({ min: 0, max: C - 1 }), fc.constant(-100)), { minLength: N, maxLength: N })))
      .map(([z, l]) => [z, { values: l, shape: [l.length], dtype: 'i32' as const }]),
    f: (z, l) => concat([crossEntropy(z, l, { reduction: 'none' }), reshape(crossEntropy(z, l), [1])], 0), tol: { rtol: 1e-5, atol: 1e-5 }, gradRel: 1e-4,
  },
  {
    name: 'matmul (batched, transposed)',
    inputs: fc.tuple(arbShape({ maxRank: 2, maxSize: 6 }), dim(70), dim(70), dim(70), fc.boolean(), fc.boolean()).chain(([lead, M, K, N, ta, tb]) =>
      fc.tuple(f32([...lead, ...(ta ? [K, M] : [M, K])]), f32([...lead, ...(tb ? [N, K] : [K, N])])).map(([a, b]) => [a, b, { values: [ta ? 1 : 0, tb ? 1 : 0], shape: [2], dtype: 'i32' as const, grad: false }])),
    f: (a, b, t) => { const [ta, tb] = cpuInts(t); return matmul(a, b, { transA: !!ta, transB: !!tb }); }, tol: { rtol: 1e-4, atol: 1e-4 }, gradRel: 1e-4,
  },
  {
    name: 'linear (+ GELU)',
    inputs: fc.tuple(arbShape({ minRank: 1, maxRank: 2, maxSize: 64 }), dim(70), dim(70)).chain(([lead, K, N]) => fc.tuple(f32([...lead, K]), f32([N, K]), f32([N]))),
    f: (x, w, b) => concat([reshape(linear(x, w, b), [-1]), reshape(linear(x, w, b, { act: 'gelu' }), [-1])], 0), tol: { rtol: 1e-4, atol: 1e-4 }, gradRel: 1e-4,
  },
  {
    name: 'attention (fused, with head gates and dropout)',
    inputs: fc.tuple(dim(3), dim(20), dim(4), dim(16)).chain(([B, Tn, H, Dh]) => fc.tuple(f32([B, Tn, 3 * H * Dh]), fc.array(fc.constantFrom(0, 0, 0, -1e4), { minLength: B * Tn, maxLength: B * Tn }), f32([H], 0, 1), fc.nat({ max: 1000 }))
      .map(([qkv, m, g, seed]) => [qkv, { values: m, shape: [B, 1, 1, Tn], grad: false }, g, { values: [H, seed], shape: [2], dtype: 'i32' as const, grad: false }])),
    f: (qkv, m, g, p) => { const [H, seed] = cpuInts(p); return attention(qkv, m, { heads: H, gate: g, dropout: { key: key(seed), p: 0.1 } }); }, tol: { rtol: 3e-4, atol: 3e-5 },
    // softmax·V and the head-gate gradient sum long f32 products; SwiftShader's exp is less exact than lavapipe's
    // (1e-4 / 1e-5 and 2e-4 of the gradient's scale were each exceeded once there)
    gradRel: 1e-3,
  },
];

/** Integer parameters travel as i32 inputs (so shrinking sees them); their values are read on the host. */
const hostInts = new WeakMap<Tensor, Int32Array>();
function cpuInts(t: Tensor): Int32Array {
  const v = hostInts.get(t);
  if (v === undefined) throw new Error('op-cases: parameter tensor without host values');
  return v;
}

/** Deterministic cotangent values (test data, not the library RNG). */
function cotangent(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s / 4294967296) * 2 - 1; });
}

/** Outputs (flattened, in order) and gradients of the differentiated inputs of one case on one backend. */
export async function runCase(c: OpCase, xs: readonly Input[], be: Backend): Promise<{ outputs: Float64Array[]; grads: Float64Array[] }> {
  const ts = xs.map((x) => { const t = fromArray(x.values, x.shape, { backend: be, dtype: x.dtype ?? 'f32' }); if (x.dtype === 'i32') hostInts.set(t, Int32Array.from(x.values)); return t; });
  const wrt = c.vjp === false ? [] : xs.flatMap((x, i) => ((x.dtype ?? 'f32') === 'f32' && x.grad !== false ? [`x${i}`] : []));
  const made = tidy(() => {
    if (wrt.length === 0) { const y = c.f(...ts); return Array.isArray(y) ? y : [y]; }
    const args: Record<string, Tensor> = Object.fromEntries(ts.map((t, i) => [`x${i}`, t]));
    const [y, pull] = vjp((a: Record<string, Tensor>) => c.f(...ts.map((_, i) => a[`x${i}`])) as Tensor, wrt)(args);
    const g = pull(fromArray(cotangent(y.size, 99), y.shape, { backend: be }));
    return [y, ...wrt.map((k) => g[k])];
  });
  try {
    const host = await Promise.all(made.map(async (t) => Float64Array.from(await read(t))));
    const nOut = wrt.length === 0 ? host.length : 1;
    return { outputs: host.slice(0, nOut), grads: host.slice(nOut) };
  } finally {
    for (const t of [...made, ...ts]) t.dispose();
  }
}

/** The first disagreement between two arrays (|a − e| > atol + rtol·|e|; NaN must match NaN), or null. */
export function disagreement(got: ArrayLike<number>, want: ArrayLike<number>, { rtol, atol }: Tol): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const a = got[i], e = want[i];
    if (Number.isNaN(a) || Number.isNaN(e)) { if (Number.isNaN(a) !== Number.isNaN(e)) return `element ${i}: got ${a}, expected ${e}`; continue; }
    if (a !== e && !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) return `element ${i}: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol}, n=${got.length})`;
  }
  return null;
}

const maxAbs = (xs: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i])); return m; };

/** Relative to the largest magnitude of `want` (parity with PyTorch, as test/support/oracle.ts's expectCloseToScale). */
export function disagreementToScale(got: ArrayLike<number>, want: ArrayLike<number>, rel: number): string | null {
  return disagreement(got, want, { rtol: 0, atol: rel * Math.max(maxAbs(want), 1e-30) });
}

/** Runs one case's property on `gpu` against `cpu`; returns null or the counterexample and what differed. */
export async function checkCase(c: OpCase, cpu: Backend, gpu: Backend, o: { runs: number; seed: number }): Promise<string | null> {
  const r = await fc.check(fc.asyncProperty(c.inputs, async (xs) => {
    const want = await runCase(c, xs, cpu), got = await runCase(c, xs, gpu);
    for (const [i, w] of want.outputs.entries()) { const d = disagreement(got.outputs[i], w, c.tol ?? T); if (d) throw new Error(`output ${i}: ${d}`); }
    for (const [i, w] of want.grads.entries()) { const d = disagreement(got.grads[i], w, { rtol: 0, atol: (c.gradRel ?? 1e-5) * maxAbs(w) + 1e-6 }); if (d) throw new Error(`gradient ${i}: ${d}`); }
  }), { numRuns: c.runs ?? o.runs, seed: o.seed });
  if (!r.failed) return null;
  const shapes = (r.counterexample?.[0] as Input[] | undefined)?.map((x) => `[${x.shape.join(', ')}]`).join(' ');
  return `${c.name}: ${(r.errorInstance as Error | undefined)?.message ?? String(r.errorInstance)} — inputs ${shapes} (seed ${o.seed}, path ${r.counterexamplePath})`;
}
