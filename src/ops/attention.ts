// Fused multi-head self-attention on packed projections: scores, scale, additive mask, softmax, dropout
// on the probabilities, head gates and ·V. On WebGPU: two products on the matmul kernels that read each head
// of the packed qkv in place (no permutes) and write ctx straight into [B, T, H·Dh], around one row pass
// (kernels/attention.wgsl); the VJP is four products around kernels/attention-backward.wgsl. The
// unfused composition (`attentionComposed`: slices, permutes, matmul, scale, mask add, softmax, dropout,
// gate, matmul) is the reference: the same maths with the same dropout bits.
import type { HostArray } from '../tensor/dtype.js';
import { ShapeError, fmt } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { apply, defineOp, expectFloat, sameDtype } from './define.js';
import { add, mul, scalarOp } from './binary.js';
import { type Gemm, gemm, matmul } from './matmul.js';
import { permute, slice } from './movement.js';
import { type Key, dropout, threefry2x32 } from './random.js';
import { softmax } from './softmax.js';
import { sum } from './reduce.js';
import { reshape } from './reshape.js';

interface AttentionParams {
  heads: number;
  /** Multiplies q·k before the mask is added. */
  scale: number;
  /** Dropout on the probabilities: key, threshold ceil(p·2^24) (0: none) and keep scale 1/(1 − p). */
  key: Key;
  thresh: number;
  keep: number;
  /** Head gates: none, one per head [H], or one per example and head [B, H]. */
  gate: 'none' | 'heads' | 'batch';
}

/** [B, T, H, Dh] of packed qkv [B, T, 3·H·Dh]. */
function dims(qkv: Tensor, heads: number): [number, number, number, number] {
  const [B, T, W] = qkv.shape;
  return [B, T, heads, W / (3 * heads)];
}

function checkQkv(op: string, qkv: Tensor, heads: number): void {
  if (qkv.shape.length !== 3 || !Number.isInteger(heads) || heads < 1 || qkv.shape[2] % (3 * heads) !== 0) {
    throw new ShapeError(op, `qkv must be [B, T, 3·heads·headDim] for ${heads} heads, got ${fmt(qkv.shape)}`);
  }
}

function check(op: string, qkv: Tensor, mask: Tensor, gate: Tensor | undefined, p: AttentionParams): void {
  expectFloat(op, qkv, mask);
  sameDtype(op, qkv, mask);
  checkQkv(op, qkv, p.heads);
  const [B, T, H] = dims(qkv, p.heads);
  if (mask.size !== B * T) throw new ShapeError(op, `the additive mask ${fmt(mask.shape)} must hold B·T = ${B * T} values`);
  if (p.gate !== 'none' && (gate === undefined || gate.size !== (p.gate === 'batch' ? B * H : H))) {
    throw new ShapeError(op, `gate ${gate ? fmt(gate.shape) : 'missing'} must be [${H}] or [${B}, ${H}]`);
  }
}

function onGpu(op: string, qkv: Tensor): void {
  if (qkv.dtype !== 'f32') throw new ShapeError(op, `the WebGPU kernels take f32, got ${qkv.dtype}`);
}

const WG = 64;
const dropping = (p: AttentionParams): boolean => p.thresh > 0;
const gateStride = (p: AttentionParams, H: number): number => (p.gate === 'batch' ? H : 0);

/** The CPU dropout scale: f32 rounds it as the kernel does (random.ts). */
const keepOf = (p: AttentionParams, dtype: string): number => (dtype === 'f32' ? Math.fround(p.keep) : p.keep);

/**
 * The products on one head of packed [B, T, 3·H·Dh] qkv (batch axes B, H; read and written in place):
 * `part` k is q (0), k (1) or v (2); `t` an operand [B, H, T, T]; `ctx` one of [B, T, H·Dh].
 */
function views(B: number, T: number, H: number, Dh: number) {
  const D = H * Dh, ld = 3 * D;
  const part = (k: number) => ({ ld, off: k * D, bs: [T * ld, Dh] });
  const ctx = { ld: D, off: 0, bs: [T * D, Dh] };
  const sq = { ld: T, off: 0, bs: [H * T * T, T * T] };
  type View = { ld: number; off: number; bs: number[] };
  return {
    part, ctx, sq,
    /** op(x)·op(y) → z, over the views. */
    mm: (M: number, N: number, K: number, x: View, tx: boolean, y: View, ty: boolean, z: View): Gemm => ({
      M, N, K, transA: tx, transB: ty, dims: [B, H], as: x.bs, bs: y.bs, cs: z.bs, lda: x.ld, ldb: y.ld, ldc: z.ld, a0: x.off, b0: y.off, c0: z.off,
    }),
  };
}

/**
 * Visible ctx [B, T, H·Dh]; residuals probs [B, H, T, T], then dropout(probs) with dropout, then the gated
 * probabilities with gates. WebGPU: scores = q·kᵀ (a matmul kernel on the packed heads), the row pass
 * (attention.wgsl: scale, mask, softmax, dropout, gate), ctx = P·v written into [B, T, H·Dh]: three dispatches.
 */
export const attentionOp = defineOp<AttentionParams>({
  name: 'attention',
  visible: 1,
  shape: ([qkv, mask, gate], p) => {
    check('attention', qkv, mask, gate, p);
    const [B, T, H, Dh] = dims(qkv, p.heads);
    const pr = { shape: [B, H, T, T], dtype: qkv.dtype };
    return [{ shape: [B, T, H * Dh], dtype: qkv.dtype }, pr, ...(dropping(p) ? [pr] : []), ...(p.gate !== 'none' ? [pr] : [])];
  },
  cpu: ([x, mask, gate], outs, { inputs: [t], params: p }) => {
    const [ctx, probs] = outs, dropped = dropping(p) ? outs[2] : undefined, gated = p.gate !== 'none' ? outs[outs.length - 1] : undefined;
    const [B, T, H, Dh] = dims(t, p.heads), D = H * Dh, ld = 3 * D, keep = keepOf(p, t.dtype);
    const s = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const g = p.gate === 'none' ? 1 : gate[b * gateStride(p, H) + h];
        for (let i = 0; i < T; i++) {
          const row = ((b * H + h) * T + i) * T;
          let m = -Infinity;
          for (let j = 0; j < T; j++) {
            let dot = 0;
            for (let d = 0; d < Dh; d++) dot += x[(b * T + i) * ld + h * Dh + d] * x[(b * T + j) * ld + D + h * Dh + d];
            s[j] = dot * p.scale + mask[b * T + j];
            m = Math.max(m, s[j]);
          }
          let z = 0;
          for (let j = 0; j < T; j++) z += Math.exp(s[j] - m);
          for (let d = 0; d < Dh; d++) ctx[(b * T + i) * D + h * Dh + d] = 0;
          for (let j = 0; j < T; j++) {
            const e = row + j, pj = Math.exp(s[j] - m) / z;
            probs[e] = pj;
            let pd = pj;
            if (dropped !== undefined) {
              const w = threefry2x32(p.key, e >>> 1, 0)[e & 1];
              pd = (w >>> 8) < p.thresh ? 0 : pj * keep;
              dropped[e] = pd;
            }
            if (gated !== undefined) gated[e] = g * pd;
            for (let d = 0; d < Dh; d++) ctx[(b * T + i) * D + h * Dh + d] += g * pd * x[(b * T + j) * ld + 2 * D + h * Dh + d];
          }
        }
      }
    }
  },
  gpu: (ctx, [qkv, mask, gate], [out, probs, ...rest], p) => {
    onGpu('attention', qkv);
    const [B, T, H, Dh] = dims(qkv, p.heads), v = views(B, T, H, Dh);
    const dropped = dropping(p) ? rest[0] : undefined, gated = p.gate !== 'none' ? rest[rest.length - 1] : undefined;
    const scores = ctx.scratch([B, H, T, T], 'f32');
    gemm(ctx, qkv, qkv, scores, v.mm(T, T, Dh, v.part(0), false, v.part(1), true, v.sq));
    ctx.dispatch({
      kernel: 'attention', constants: { WG, DROP: +dropping(p), GATE: +(gated !== undefined) },
      uniforms: [B * H * T, T, H, { f32: p.scale }, p.key[0], p.key[1], p.thresh, { f32: p.keep }, gateStride(p, H)],
      workgroups: Math.ceil((B * H * T) / WG),
      bindings: [scores, mask, gate ?? mask, probs, dropped ?? ctx.scratch([1], 'f32'), gated ?? ctx.scratch([1], 'f32')],
    });
    gemm(ctx, gated ?? dropped ?? probs, qkv, out, v.mm(T, Dh, T, v.sq, false, v.part(2), false, v.ctx));
  },
  vjp: ({ inputs: [qkv, , gate], outputs: [, probs, ...rest], params: p, needs }, [g]) => {
    const [B, , H] = dims(qkv, p.heads);
    const dropped = dropping(p) ? rest[0] : probs, gated = p.gate !== 'none' ? rest[rest.length - 1] : dropped;
    const [dqkv, dgate] = apply(attentionBackwardOp, [qkv, probs, dropped, gated, g!, ...(gate ? [gate] : [])], p);
    const dg = gate === undefined || !needs[2] ? null
      : reshape(p.gate === 'batch' ? sum(reshape(dgate, [B, H, -1]), 2) : sum(reshape(dgate, [B, H, -1]), [0, 2]), gate.shape);
    return [needs[0] ? dqkv : null, null, dg];
  },
});

/**
 * The VJP of attentionOp. Inputs [qkv, probs, dropped, gated, dctx, gate?] (dropped = probs without dropout,
 * gated = dropped without gates); outputs [dqkv] or, with gates, [dqkv, per-row shares of the gate's gradient
 * [B·H·T]] (the caller sums them per head). WebGPU: dg = dctx·vᵀ, the row pass (attention-backward.wgsl),
 * then dq = ds·k, dk = dsᵀ·q and dv = gatedᵀ·dctx written into one packed dqkv: five dispatches. First order only.
 */
export const attentionBackwardOp = defineOp<AttentionParams>({
  name: 'attentionBackward',
  shape: ([qkv, probs, dropped, gated, dctx, gate], p) => {
    expectFloat('attentionBackward', qkv, probs, dropped, gated, dctx);
    checkQkv('attentionBackward', qkv, p.heads);
    const [B, T, H, Dh] = dims(qkv, p.heads);
    if (p.gate !== 'none' && gate === undefined) throw new ShapeError('attentionBackward', 'the gate is missing');
    if ([probs, dropped, gated].some((t) => t.size !== B * H * T * T) || dctx.size !== B * T * H * Dh) {
      throw new ShapeError('attentionBackward', `inconsistent shapes: qkv ${fmt(qkv.shape)}, probs ${fmt(probs.shape)}, dctx ${fmt(dctx.shape)}`);
    }
    const out = { shape: qkv.shape, dtype: qkv.dtype };
    return p.gate === 'none' ? [out] : [out, { shape: [B * H * T], dtype: qkv.dtype }];
  },
  cpu: ([x, probs, dropped, , dctx, gate], [dx, gpart], { inputs: [t], params: p }) =>
    attentionBackwardCpu(x, probs, dropped, dctx, gate, dx, gpart, t.shape, p, keepOf(p, t.dtype)),
  gpu: (ctx, [qkv, probs, dropped, gated, dctx, gate], [dqkv, gpart], p) => {
    onGpu('attentionBackward', qkv);
    const [B, T, H, Dh] = dims(qkv, p.heads), v = views(B, T, H, Dh);
    const dg = ctx.scratch([B, H, T, T], 'f32'), ds = ctx.scratch([B, H, T, T], 'f32');
    gemm(ctx, dctx, qkv, dg, v.mm(T, T, Dh, v.ctx, false, v.part(2), true, v.sq));
    ctx.dispatch({
      kernel: 'attention-backward', constants: { WG, DROP: +dropping(p), GATE: +(p.gate !== 'none') },
      uniforms: [B * H * T, T, H, { f32: p.scale }, { f32: p.keep }, gateStride(p, H)],
      workgroups: Math.ceil((B * H * T) / WG), bindings: [probs, dropped, dg, gate ?? probs, ds, gpart ?? ctx.scratch([1], 'f32')],
    });
    gemm(ctx, ds, qkv, dqkv, v.mm(T, Dh, T, v.sq, false, v.part(1), false, v.part(0)));
    gemm(ctx, ds, qkv, dqkv, v.mm(T, Dh, T, v.sq, true, v.part(0), false, v.part(1)));
    gemm(ctx, gated, dctx, dqkv, v.mm(T, Dh, T, v.sq, true, v.ctx, false, v.part(2)));
  },
});

function attentionBackwardCpu(
  x: HostArray, probs: HostArray, dropped: HostArray, dctx: HostArray, gate: HostArray | undefined, dx: HostArray, gpart: HostArray | undefined,
  shape: readonly number[], p: AttentionParams, keep: number,
): void {
  const [B, T, W] = shape, H = p.heads, Dh = W / (3 * H), D = H * Dh, ld = 3 * D;
  const ds = new Float64Array(T);
  dx.fill(0);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = gate === undefined ? 1 : gate[b * gateStride(p, H) + h];
      for (let i = 0; i < T; i++) {
        const row = ((b * H + h) * T + i) * T;
        let c = 0, gsum = 0;
        for (let j = 0; j < T; j++) {
          let dp = 0;
          for (let d = 0; d < Dh; d++) dp += dctx[(b * T + i) * D + h * Dh + d] * x[(b * T + j) * ld + 2 * D + h * Dh + d];
          gsum += dropped[row + j] * dp;
          dp *= g;
          if (dropping(p)) dp = dropped[row + j] === 0 ? 0 : dp * keep;
          ds[j] = dp;
          c += probs[row + j] * dp;
        }
        for (let j = 0; j < T; j++) {
          const s = probs[row + j] * (ds[j] - c) * p.scale, pd = g * dropped[row + j];
          for (let d = 0; d < Dh; d++) {
            const qi = (b * T + i) * ld + h * Dh + d, kj = (b * T + j) * ld + D + h * Dh + d;
            dx[qi] += s * x[kj];
            dx[kj] += s * x[qi];
            dx[kj + D] += pd * dctx[(b * T + i) * D + h * Dh + d];
          }
        }
        if (gpart !== undefined) gpart[(b * H + h) * T + i] = gsum;
      }
    }
  }
}

export interface AttentionOptions {
  heads: number;
  /** Multiplies q·k (default 1/√headDim). */
  scale?: number;
  /** Dropout on the probabilities with the library RNG: the bits of `dropout(key, probs, p)`. */
  dropout?: { key: Key; p: number };
  /** Head gates, [H] or [B, H], multiplying the (dropped-out) probabilities. */
  gate?: Tensor;
}

/**
 * Self-attention of packed projections qkv [B, T, 3·H·Dh] (q | k | v on the last axis, heads
 * contiguous in each) with an additive key mask of B·T values (e.g. [B, 1, 1, T]) → ctx [B, T, H·Dh]:
 * per head, probs = softmax(scale·q·kᵀ + mask), ctx = (gate · dropout(probs))·v. Equal, to f32
 * rounding, to the composition with matmul, softmax, dropout and mul on [B, H, T, Dh] views.
 */
export function attention(qkv: Tensor, mask: Tensor, o: AttentionOptions): Tensor {
  const Dh = qkv.shape.length === 3 ? qkv.shape[2] / (3 * o.heads) : 0;
  const p = o.dropout?.p ?? 0;
  if (!(p >= 0 && p < 1)) throw new ShapeError('attention', `dropout probability must lie in [0, 1), got ${p}`);
  const gate = o.gate === undefined ? 'none' : o.gate.size === o.heads ? 'heads' : 'batch';
  const params: AttentionParams = {
    heads: o.heads, scale: o.scale ?? 1 / Math.sqrt(Dh), key: o.dropout?.key ?? [0, 0],
    thresh: Math.ceil(p * 2 ** 24), keep: 1 / (1 - p), gate,
  };
  return apply(attentionOp, o.gate === undefined ? [qkv, mask] : [qkv, mask, o.gate], params)[0];
}

/** The same maths as unfused ops on [B, H, T, Dh] views: the reference of `attention` (and twice differentiable). */
export function attentionComposed(qkv: Tensor, mask: Tensor, o: AttentionOptions): Tensor {
  checkQkv('attention', qkv, o.heads);
  const [B, T, H, Dh] = dims(qkv, o.heads);
  const part = (k: number) => permute(reshape(slice(qkv, [0, 0, k * H * Dh], [B, T, (k + 1) * H * Dh]), [B, T, H, Dh]), [0, 2, 1, 3]);
  const scores = add(scalarOp('mul', matmul(part(0), part(1), { transB: true }), o.scale ?? 1 / Math.sqrt(Dh)), reshape(mask, [B, 1, 1, T]));
  let probs = softmax(scores, -1);
  if (o.dropout !== undefined && o.dropout.p > 0) probs = dropout(o.dropout.key, probs, o.dropout.p);
  if (o.gate !== undefined) probs = mul(probs, reshape(o.gate, o.gate.size === H ? [1, H, 1, 1] : [B, H, 1, 1]));
  return reshape(permute(matmul(probs, part(2)), [0, 2, 1, 3]), [B, T, H * Dh]);
}

export const attentionOps = { attention: attentionOp, attentionBackward: attentionBackwardOp };
