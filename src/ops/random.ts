// Counter-based randomness with explicit keys. Element i of any random tensor hashes the counter
// (i, 0) with Threefry-2x32-20 (Salmon et al. 2011, as in JAX): adds, rotates and xors on u32, so
// the CPU (here, `>>> 0` wrap-around) and kernels/random.wgsl produce the same bits for a key.
// Counter word 1 separates streams: 0 element bits, 1 splitKey, 2 foldIn.
import type { Backend } from '../backend/backend.js';
import type { DType } from '../tensor/dtype.js';
import { type Shape, ShapeError, checkShape, fmt } from '../tensor/shape.js';
import { type Tensor, alias, getDefaultBackend } from '../tensor/tensor.js';
import { type OpDef, apply1, defineOp, expectFloat } from './define.js';
import { WG, elementGroups } from './elementwise.js';

/** Two u32 words. Keys are plain host values: split them, never reuse one for two purposes. */
export type Key = readonly [number, number];

const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const;
const out2 = new Uint32Array(2);
const ks = new Uint32Array(3);

/** Threefry-2x32 with 20 rounds; writes the two result words into `out2` (no allocation per element). */
function threefryInto(k0: number, k1: number, c0: number, c1: number): void {
  ks[0] = k0; ks[1] = k1; ks[2] = k0 ^ k1 ^ 0x1bd11bda;
  let x0 = (c0 + ks[0]) >>> 0, x1 = (c1 + ks[1]) >>> 0;
  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      const rot = ROT[(block % 2) * 4 + r];
      x0 = (x0 + x1) >>> 0;
      x1 = (((x1 << rot) | (x1 >>> (32 - rot))) ^ x0) >>> 0;
    }
    const s = block + 1; // key injection s after every four rounds
    x0 = (x0 + ks[s % 3]) >>> 0;
    x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0;
  }
  out2[0] = x0; out2[1] = x1;
}

/** The raw hash: Threefry-2x32-20 of counter (c0, c1) under `k`, as two u32. */
export function threefry2x32(k: Key, c0: number, c1: number): [number, number] {
  threefryInto(k[0], k[1], c0, c1);
  return [out2[0], out2[1]];
}

function checkKey(op: string, k: Key): void {
  if (k.length !== 2 || !k.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
    throw new ShapeError(op, `a key is two u32 words, got [${k.join(', ')}]`);
  }
}

/** A key from an integer seed (|seed| < 2^53; negative seeds wrap as 64-bit two's complement). */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new ShapeError('key', `seed must be a safe integer, got ${seed}`);
  return [Math.floor(seed / 4294967296) >>> 0, seed >>> 0];
}

/** n independent keys derived from `k`. */
export function splitKey(k: Key, n = 2): Key[] {
  checkKey('splitKey', k);
  if (!Number.isInteger(n) || n < 0) throw new ShapeError('splitKey', `n must be a non-negative integer, got ${n}`);
  return Array.from({ length: n }, (_, j) => threefry2x32(k, j, 1) as Key);
}

/** A key derived from `k` and an integer (a step number, a layer index); data is taken mod 2^32. */
export function foldIn(k: Key, data: number): Key {
  checkKey('foldIn', k);
  if (!Number.isInteger(data)) throw new ShapeError('foldIn', `data must be an integer, got ${data}`);
  return threefry2x32(k, data >>> 0, 2) as Key;
}

// ---- the ops ------------------------------------------------------------------------------

const TWO_M24 = 2 ** -24;
const kinds = { bits: 0, uniform: 1, normal: 2, bernoulli: 3, dropout: 4 } as const;
type Kind = keyof typeof kinds;

interface RandomParams {
  key: Key;
  kind: Kind;
  shape: Shape;
  dtype: DType;
  /** uniform: low; normal: mean. */
  a: number;
  /** uniform: high − low; normal: std; dropout: 1/(1 − p). */
  b: number;
  /** bernoulli: keep if bits24 < thresh; dropout: drop if bits24 < thresh. */
  thresh: number;
}

/** Box–Muller (cosine branch) from both hash words: u1 ∈ (0, 1] avoids log 0, the angle lies in [−π, π). */
const normalAt = (w0: number, w1: number): number => {
  const u1 = ((w0 >>> 8) + 1) * TWO_M24;
  const u2 = (w1 >>> 8) * TWO_M24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
};

/** Generators (no inputs) and dropout (one input): one kernel, `MODE` picks the output. */
export const randomOp: OpDef<RandomParams> = defineOp<RandomParams>({
  name: 'random',
  shape: (inputs, p) => {
    checkKey(p.kind, p.key);
    if (p.kind === 'dropout') {
      expectFloat('dropout', inputs[0]);
      return [{ shape: inputs[0].shape, dtype: inputs[0].dtype }];
    }
    checkShape(p.kind, p.shape);
    const ok = p.kind === 'bits' ? p.dtype === 'i32' : p.kind === 'bernoulli' || p.dtype !== 'i32';
    if (!ok) throw new ShapeError(p.kind, `dtype ${p.dtype} not supported for ${fmt(p.shape)} (${p.kind === 'bits' ? 'i32 only' : 'f32 or f64'})`);
    return [{ shape: p.shape, dtype: p.dtype }];
  },
  cpu: (ins, [y], { outputs: [t], params: p }) => {
    const [k0, k1] = p.key;
    // f32 dropout multiplies by the f32-rounded scale, as the kernel does: same bits on both backends.
    const scale = t.dtype === 'f32' ? Math.fround(p.b) : p.b;
    for (let i = 0; i < y.length; i++) {
      // Normal: both words of counter i. Otherwise elements 2j and 2j+1 share counter j (kernel header).
      const normal = p.kind === 'normal';
      if (normal || (i & 1) === 0) threefryInto(k0, k1, normal ? i : i / 2, 0);
      const w0 = normal ? out2[0] : out2[i & 1];
      switch (p.kind) {
        case 'bits': y[i] = w0 | 0; break;
        case 'uniform': y[i] = p.a + p.b * ((w0 >>> 8) * TWO_M24); break;
        case 'normal': y[i] = p.a + p.b * normalAt(w0, out2[1]); break;
        case 'bernoulli': y[i] = (w0 >>> 8) < p.thresh ? 1 : 0; break;
        case 'dropout': y[i] = (w0 >>> 8) < p.thresh ? 0 : ins[0][i] * scale; break;
        default: p.kind satisfies never;
      }
    }
  },
  gpu: (ctx, inputs, [y], p) => {
    const x = p.kind === 'dropout' ? inputs[0] : ctx.scratch([1], 'f32');
    ctx.dispatch({
      kernel: 'random', constants: { MODE: kinds[p.kind], IS_INT: y.dtype === 'i32' ? 1 : 0, WG },
      uniforms: [y.size, p.key[0], p.key[1], p.thresh, { f32: p.a }, { f32: p.b }],
      workgroups: elementGroups(p.kind === 'normal' ? y.size : Math.ceil(y.size / 2)), bindings: [x, y],
    });
  },
  // Dropout is linear in x: the cotangent goes through the same mask and scale.
  vjp: ({ params: p }, [g]) => [p.kind === 'dropout' ? apply1(randomOp, [g!], p) : null],
});

export interface RandomOptions { dtype?: DType; backend?: Backend }

const generate = (kind: Kind, k: Key, shape: Shape, o: RandomOptions, dtype: DType, a = 0, b = 0, thresh = 0): Tensor =>
  apply1(randomOp, [], { key: k, kind, shape, dtype: o.dtype ?? dtype, a, b, thresh }, o.backend ?? getDefaultBackend());

/** ceil(p·2^24): comparing the top 24 bits with it is exact integer arithmetic on both backends. */
function threshold(op: string, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new ShapeError(op, `probability must lie in [0, 1], got ${p}`);
  return Math.ceil(p * 2 ** 24);
}

/** Raw Threefry bits of each element as i32 (tests and debugging). */
export const randomBits = (k: Key, shape: Shape, o: RandomOptions = {}): Tensor => generate('bits', k, shape, o, 'i32');

/** Uniform on [low, high) from the top 24 bits: u = bits24·2^-24 is exact in f32. */
export function randomUniform(k: Key, shape: Shape, o: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = o.low ?? 0, high = o.high ?? 1;
  return generate('uniform', k, shape, o, 'f32', low, high - low);
}

/** Normal(mean, std²) by Box–Muller (cosine branch) from both words of element i's hash. */
export function randomNormal(k: Key, shape: Shape, o: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  return generate('normal', k, shape, o, 'f32', o.mean ?? 0, o.std ?? 1);
}

/** 1 with probability p (keep if bits24 < ceil(p·2^24)), else 0; f32 unless dtype says otherwise. */
export const bernoulli = (k: Key, shape: Shape, p: number, o: RandomOptions = {}): Tensor =>
  generate('bernoulli', k, shape, o, 'f32', 0, 0, threshold('bernoulli', p));

/**
 * x·mask/(1 − p): element i is dropped when its top 24 bits are < ceil(p·2^24). The mask depends only
 * on the key and the element index, so both backends drop the same elements. p = 0 returns x.
 */
export function dropout(k: Key, x: Tensor, p: number): Tensor {
  const thresh = threshold('dropout', p);
  if (p === 0) return alias(x);
  return apply1(randomOp, [x], { key: k, kind: 'dropout', shape: x.shape, dtype: x.dtype, a: 0, b: p === 1 ? 0 : 1 / (1 - p), thresh });
}
