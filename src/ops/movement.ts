// Movement ops: permute/transpose, slice, pad, concat/stack, repeatEach. permute, slice, pad and
// concat are strided copies through one kernel (kernels/copy.wgsl) that moves raw 32-bit words, so
// they work for f32 and i32 alike. Their VJPs are movement ops too: permute ↔ inverse permute,
// slice ↔ pad with zeros, concat → slices.
import type { HostArray } from '../tensor/dtype.js';
import { type Shape, ShapeError, fmt, normalizeAxis, sizeOf, stridesOf } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import type { GpuContext } from '../backend/gpu-context.js';
import { type OpDef, apply1, defineOp } from './define.js';
import { WG, elementGroups } from './elementwise.js';
import { broadcastTo } from './reduce.js';
import { expandDims, reshape } from './reshape.js';

/** Rank the copy and select kernels index in; higher ranks must merge down to it. */
export const KERNEL_RANK = 6;

/**
 * Drops size-1 axes and merges adjacent axes that are contiguous with each other in every stride set
 * (outer stride = inner stride · inner size). Returns the merged shape and stride sets.
 */
export function mergeAxes(shape: Shape, strideSets: readonly (readonly number[])[]): [number[], number[][]] {
  const dims: number[] = [];
  const sets = strideSets.map(() => [] as number[]);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && strideSets.every((s, j) => sets[j][k] === s[i] * shape[i])) {
      dims[k] *= shape[i];
      strideSets.forEach((s, j) => { sets[j][k] = s[i]; });
    } else {
      dims.push(shape[i]);
      strideSets.forEach((s, j) => sets[j].push(s[i]));
    }
  }
  return [dims, sets];
}

/** y[outOff + c·ys] = x[inOff + c·xs] for every coordinate c of `shape` (the CPU reference). */
function copyCpu(x: HostArray, y: HostArray, shape: Shape, xs: readonly number[], inOff: number, ys: readonly number[], outOff: number): void {
  const n = sizeOf(shape);
  const r = shape.length;
  const c = new Array<number>(r).fill(0);
  let ix = inOff, iy = outOff;
  for (let i = 0; i < n; i++) {
    y[iy] = x[ix];
    for (let d = r - 1; d >= 0; d--) {
      c[d]++; ix += xs[d]; iy += ys[d];
      if (c[d] < shape[d]) break;
      c[d] = 0; ix -= xs[d] * shape[d]; iy -= ys[d] * shape[d];
    }
  }
}

/** The same copy as one dispatch of kernels/copy.wgsl. */
function copyGpu(op: string, ctx: GpuContext, x: Tensor, y: Tensor, shape: Shape, xs: readonly number[], inOff: number, ys: readonly number[], outOff: number): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const [dims, [a, b]] = mergeAxes(shape, [xs, ys]);
  if (dims.length > KERNEL_RANK) throw new ShapeError(op, `copy of rank ${dims.length} (after merging axes of ${fmt(shape)}) exceeds ${KERNEL_RANK}`);
  const meta = new Array<number>(20).fill(0);
  dims.forEach((d, i) => { meta[i] = d; meta[6 + i] = a[i]; meta[12 + i] = b[i]; });
  // Runs of the innermost axis per thread when they are short enough to stay parallel.
  const inner = dims[dims.length - 1] ?? 1;
  const rows = dims.length > 0 && inner >= 4 && inner <= 256 && n / inner >= 256;
  const count = rows ? n / inner : n;
  ctx.dispatch({ kernel: 'copy', constants: { WG, ROWS: rows ? 1 : 0 }, uniforms: [count, dims.length, inOff, outOff, ...meta], workgroups: elementGroups(count), bindings: [x, y] });
}

const zeroFill = (ctx: GpuContext, y: Tensor): void => ctx.dispatch({
  kernel: 'fill', constants: { MODE: 0, IS_INT: 0, WG }, uniforms: [y.size, 0, 0], workgroups: elementGroups(y.size), bindings: [y],
});

// ---- permute -----------------------------------------------------------------------------------

interface PermuteParams { axes: readonly number[] }

/** Axis plan of a permute: output shape and the input strides seen in output order. */
const permutePlan = (x: Tensor, axes: readonly number[]): [number[], number[]] => {
  const st = stridesOf(x.shape);
  return [axes.map((a) => x.shape[a]), axes.map((a) => st[a])];
};

export const permuteOp: OpDef<PermuteParams> = defineOp<PermuteParams>({
  name: 'permute',
  shape: ([x], p) => [{ shape: permutePlan(x, p.axes)[0], dtype: x.dtype }],
  cpu: ([x], [y], { inputs: [t], params: p }) => {
    const [shape, xs] = permutePlan(t, p.axes);
    copyCpu(x, y, shape, xs, 0, stridesOf(shape), 0);
  },
  gpu: (ctx, [x], [y], p) => {
    const [shape, xs] = permutePlan(x, p.axes);
    copyGpu('permute', ctx, x, y, shape, xs, 0, stridesOf(shape), 0);
  },
  vjp: ({ params: p }, [g]) => {
    const inv = new Array<number>(p.axes.length);
    p.axes.forEach((a, i) => { inv[a] = i; });
    return [permute(g!, inv)];
  },
});

/** Reorders axes: output axis i is input axis axes[i] (negative axes count from the end). */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.shape.length;
  const norm = axes.map((a) => normalizeAxis('permute', a, rank));
  if (norm.length !== rank || new Set(norm).size !== rank) {
    throw new ShapeError('permute', `axes [${axes.join(', ')}] are not a permutation of the ${rank} axes of ${fmt(x.shape)}`);
  }
  return norm.every((a, i) => a === i) ? alias(x) : apply1(permuteOp, [x], { axes: norm });
}

/** Swaps two axes; by default the last two. */
export function transpose(x: Tensor, axis1 = -2, axis2 = -1): Tensor {
  const rank = x.shape.length;
  const a = normalizeAxis('transpose', axis1, rank), b = normalizeAxis('transpose', axis2, rank);
  const axes = x.shape.map((_, i) => i);
  axes[a] = b; axes[b] = a;
  return permute(x, axes);
}

// ---- slice and pad -----------------------------------------------------------------------------

interface RangeParams { before: readonly number[]; after: readonly number[] }

/** Slice: before = starts, after = dims − ends. Pad: zeros added before and after on each axis. */
const shrink = (shape: Shape, p: RangeParams): number[] => shape.map((d, i) => d - p.before[i] - p.after[i]);
const grow = (shape: Shape, p: RangeParams): number[] => shape.map((d, i) => d + p.before[i] + p.after[i]);
const offsetOf = (strides: readonly number[], before: readonly number[]): number => strides.reduce((s, st, i) => s + st * before[i], 0);

export const sliceOp: OpDef<RangeParams> = defineOp<RangeParams>({
  name: 'slice',
  shape: ([x], p) => [{ shape: shrink(x.shape, p), dtype: x.dtype }],
  cpu: ([x], [y], { inputs: [t], outputs: [u], params: p }) => {
    const st = stridesOf(t.shape);
    copyCpu(x, y, u.shape, st, offsetOf(st, p.before), stridesOf(u.shape), 0);
  },
  gpu: (ctx, [x], [y], p) => {
    const st = stridesOf(x.shape);
    copyGpu('slice', ctx, x, y, y.shape, st, offsetOf(st, p.before), stridesOf(y.shape), 0);
  },
  vjp: ({ params: p }, [g]) => [pad(g!, p.before, p.after)],
});

export const padOp: OpDef<RangeParams> = defineOp<RangeParams>({
  name: 'pad',
  shape: ([x], p) => [{ shape: grow(x.shape, p), dtype: x.dtype }],
  cpu: ([x], [y], { inputs: [t], outputs: [u], params: p }) => {
    y.fill(0);
    const st = stridesOf(u.shape);
    copyCpu(x, y, t.shape, stridesOf(t.shape), 0, st, offsetOf(st, p.before));
  },
  gpu: (ctx, [x], [y], p) => {
    zeroFill(ctx, y);
    const st = stridesOf(y.shape);
    copyGpu('pad', ctx, x, y, x.shape, stridesOf(x.shape), 0, st, offsetOf(st, p.before));
  },
  vjp: ({ inputs: [x], params: p }, [g]) => [slice(g!, p.before, p.before.map((b, i) => b + x.shape[i]))],
});

const sliceIndex = (v: number, d: number): number => (v < 0 ? v + d : v);

/**
 * x[starts[0]:ends[0], starts[1]:ends[1], …] with step 1. Negative indices count from the end of
 * the axis; missing entries (shorter arrays, or `undefined`) mean "from 0" and "to the end".
 * Unlike NumPy, out-of-range bounds and end < start throw instead of clamping; start = end gives
 * an empty axis. See `sliceAxis` for one axis.
 */
export function slice(x: Tensor, starts: readonly (number | undefined)[], ends: readonly (number | undefined)[] = []): Tensor {
  const rank = x.shape.length;
  if (starts.length > rank || ends.length > rank) {
    throw new ShapeError('slice', `bounds [${starts.join(', ')}]..[${ends.join(', ')}] have more entries than the rank of ${fmt(x.shape)}`);
  }
  const before: number[] = [], after: number[] = [];
  x.shape.forEach((d, i) => {
    const s = sliceIndex(starts[i] ?? 0, d), e = sliceIndex(ends[i] ?? d, d);
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s > e) {
      throw new ShapeError('slice', `range ${starts[i] ?? 0}..${ends[i] ?? d} is invalid on axis ${i} (size ${d}) of ${fmt(x.shape)}`);
    }
    before.push(s); after.push(d - e);
  });
  return before.every((b, i) => b === 0 && after[i] === 0) ? alias(x) : apply1(sliceOp, [x], { before, after });
}

/** x[…, start:end, …] on one axis (`end` defaults to the axis size). */
export function sliceAxis(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normalizeAxis('slice', axis, x.shape.length);
  const starts: (number | undefined)[] = new Array<undefined>(a + 1).fill(undefined);
  const ends: (number | undefined)[] = new Array<undefined>(a + 1).fill(undefined);
  starts[a] = start; ends[a] = end;
  return slice(x, starts, ends);
}

/** Adds before[i] zeros in front of axis i and after[i] behind it (missing entries: 0). */
export function pad(x: Tensor, before: readonly number[], after: readonly number[] = []): Tensor {
  const rank = x.shape.length;
  if (before.length > rank || after.length > rank) throw new ShapeError('pad', `widths have more entries than the rank of ${fmt(x.shape)}`);
  const b = x.shape.map((_, i) => before[i] ?? 0), e = x.shape.map((_, i) => after[i] ?? 0);
  if ([...b, ...e].some((w) => !Number.isInteger(w) || w < 0)) {
    throw new ShapeError('pad', `widths [${before.join(', ')}] / [${after.join(', ')}] must be non-negative integers (x ${fmt(x.shape)})`);
  }
  return [...b, ...e].every((w) => w === 0) ? alias(x) : apply1(padOp, [x], { before: b, after: e });
}

// ---- concat and stack --------------------------------------------------------------------------

interface AxisParams { axis: number }

/** Each input is copied into its place: its offset along the axis times the output's stride there. */
function concatPlan(inputs: readonly Tensor[], out: Shape, axis: number, copy: (k: number, offset: number, ys: number[]) => void): void {
  const ys = stridesOf(out);
  let off = 0;
  inputs.forEach((t, k) => { copy(k, off * ys[axis], ys); off += t.shape[axis]; });
}

export const concatOp: OpDef<AxisParams> = defineOp<AxisParams>({
  name: 'concat',
  shape: (xs, { axis }) => {
    const first = xs[0];
    const bad = xs.find((t) => t.dtype !== first.dtype || t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== axis && d !== first.shape[i]));
    if (bad !== undefined) {
      throw new ShapeError('concat', `inputs ${xs.map((t) => `${t.dtype} ${fmt(t.shape)}`).join(', ')} differ off axis ${axis} (or in dtype)`);
    }
    return [{ shape: first.shape.map((d, i) => (i === axis ? xs.reduce((s, t) => s + t.shape[axis], 0) : d)), dtype: first.dtype }];
  },
  cpu: (xs, [y], { inputs, outputs: [u], params: { axis } }) => concatPlan(inputs, u.shape, axis, (k, off, ys) =>
    copyCpu(xs[k], y, inputs[k].shape, stridesOf(inputs[k].shape), 0, ys, off)),
  gpu: (ctx, inputs, [y], { axis }) => concatPlan(inputs, y.shape, axis, (k, off, ys) =>
    copyGpu('concat', ctx, inputs[k], y, inputs[k].shape, stridesOf(inputs[k].shape), 0, ys, off)),
  vjp: ({ inputs, params: { axis }, needs }, [g]) => {
    let off = 0;
    return inputs.map((t, k) => {
      const start = off;
      off += t.shape[axis];
      return needs[k] ? sliceAxis(g!, axis, start, off) : null;
    });
  },
});

/** Joins tensors along an existing axis; all other axes (and the dtype) must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat', 'needs at least one tensor');
  const rank = xs[0].shape.length;
  if (rank === 0) throw new ShapeError('concat', 'cannot join 0-d tensors along an axis (use stack)');
  const a = normalizeAxis('concat', axis, rank);
  if (xs.length === 1) return alias(xs[0]);
  return apply1(concatOp, xs, { axis: a });
}

/** Joins same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('stack', 'needs at least one tensor');
  const s = xs[0].shape;
  const a = normalizeAxis('stack', axis, s.length + 1);
  const bad = xs.find((t) => t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i]));
  if (bad !== undefined) throw new ShapeError('stack', `shapes differ: ${xs.map((t) => fmt(t.shape)).join(', ')}`);
  return tidy(() => concat(xs.map((t) => expandDims(t, a)), a));
}

/** Repeats each element of the last axis k times in place: [..., H] → [..., H·k] (x[..., h] at h·k + j). */
export function repeatEach(x: Tensor, k: number): Tensor {
  const rank = x.shape.length;
  if (rank === 0) throw new ShapeError('repeatEach', 'needs at least one axis');
  if (!Number.isInteger(k) || k < 0) throw new ShapeError('repeatEach', `repeat count ${k} must be a non-negative integer (x ${fmt(x.shape)})`);
  if (k === 1) return alias(x);
  const lead = x.shape.slice(0, -1);
  return tidy(() => reshape(broadcastTo(expandDims(x, -1), [...x.shape, k]), [...lead, x.shape[rank - 1] * k]));
}
