// Reductions over axes: sum, max, mean, variance; broadcastTo (their VJP's partner). kernels/reduce.wgsl
import { type Shape, ShapeError, broadcastShapes, broadcastStrides, fmt, normalizeAxis, sameShape, sizeOf, stridesOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { type OpDef, apply1, defineOp, expectFloat } from './define.js';
import { WG, elementGroups } from './elementwise.js';
import { PER, div, equal, indexing, mul, scalarOp, sub } from './binary.js';
import { square } from './unary.js';
import { reshape } from './reshape.js';

interface AxisParams { op: 'sum' | 'max'; axis: number; scale: number }

const split = (shape: Shape, axis: number): [number, number, number] =>
  [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];

/** Reduces one axis (kept as size 1). */
export const reduceAxis: OpDef<AxisParams> = defineOp<AxisParams>({
  name: 'reduceAxis',
  shape: ([x], p) => {
    expectFloat(p.op, x);
    if (p.op === 'max' && x.shape[p.axis] === 0) throw new ShapeError('max', `cannot take the max of an empty axis in ${fmt(x.shape)}`);
    return [{ shape: x.shape.map((d, i) => (i === p.axis ? 1 : d)), dtype: x.dtype }];
  },
  cpu: ([x], [y], { inputs: [t], params: p }) => {
    const [outer, r, inner] = split(t.shape, p.axis);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = p.op === 'max' ? -Infinity : 0;
        for (let k = 0; k < r; k++) {
          const v = x[(o * r + k) * inner + i];
          acc = p.op === 'max' ? (v > acc || Number.isNaN(v) ? v : acc) : acc + v;
        }
        y[o * inner + i] = p.op === 'sum' ? acc * p.scale : acc;
      }
    }
  },
  gpu: (ctx, [x], [y], p) => {
    const [outer, r, inner] = split(x.shape, p.axis);
    const mode = inner === 1 && outer < 128 && r > 2048 ? 1 : 0;
    ctx.dispatch({
      kernel: 'reduce', constants: { OP: p.op === 'max' ? 1 : 0, MODE: mode, WG },
      uniforms: [outer, r, inner, { f32: p.scale }],
      workgroups: mode === 1 ? outer : elementGroups(outer * inner), bindings: [x, y],
    });
  },
  vjp: ({ inputs: [x], outputs: [y], params: p }, [g]) => {
    if (p.op === 'sum') return [broadcastTo(p.scale === 1 ? g! : scalarOp('mul', g!, p.scale), x.shape)];
    const hits = equal(x, broadcastTo(y, x.shape)); // ties share the gradient equally
    const count = apply1(reduceAxis, [hits], { op: 'sum', axis: p.axis, scale: 1 });
    return [mul(hits, broadcastTo(div(g!, count), x.shape))];
  },
});

/** Repeats x along its size-1 (or missing leading) axes to `shape`. */
export const broadcastOp = defineOp<{ shape: Shape }>({
  name: 'broadcastTo',
  shape: ([x], p) => {
    if (!sameShape(broadcastShapes('broadcastTo', x.shape, p.shape), p.shape)) {
      throw new ShapeError('broadcastTo', `cannot broadcast ${fmt(x.shape)} to ${fmt(p.shape)}`);
    }
    return [{ shape: p.shape, dtype: x.dtype }];
  },
  cpu: ([x], [y], { inputs: [t], params: p }) => {
    const st = broadcastStrides(t.shape, p.shape);
    for (let i = 0; i < y.length; i++) {
      let rest = i, ix = 0;
      for (let d = p.shape.length - 1; d >= 0; d--) { const c = rest % p.shape[d]; rest = (rest - c) / p.shape[d]; ix += c * st[d]; }
      y[i] = x[ix];
    }
  },
  gpu: (ctx, [x], [y], p) => {
    const st = broadcastStrides(x.shape, p.shape);
    const dims: number[] = [], strides: number[] = [];
    p.shape.forEach((d, i) => {
      if (d === 1) return;
      const k = dims.length - 1;
      if (k >= 0 && strides[k] === st[i] * d) { dims[k] *= d; strides[k] = st[i]; } else { dims.push(d); strides.push(st[i]); }
    });
    if (dims.length > 6) throw new ShapeError('broadcastTo', `rank ${dims.length} after merging axes exceeds 6`);
    // x is operand a (with the scalar 0 as b): a row broadcast takes the kernel's cheap mode 3.
    ctx.dispatch({
      kernel: 'binary', constants: { OP: 0, SCALAR: 1, WG, PER }, uniforms: [y.size, dims.length, { f32: 0 }, ...indexing(false, dims, strides, stridesOf(dims))],
      workgroups: elementGroups(y.size, PER), bindings: [x, x, y],
    });
  },
  vjp: ({ inputs: [x] }, [g]) => [sumTo(g!, x.shape)],
});

export const broadcastTo = (x: Tensor, shape: Shape): Tensor =>
  sameShape(x.shape, shape) ? x : apply1(broadcastOp, [x], { shape });

export interface ReduceOptions { keepDims?: boolean }
type Axes = number | readonly number[] | undefined;

function reduce(op: 'sum' | 'max', x: Tensor, axes: Axes, keepDims: boolean, mean: boolean): Tensor {
  const rank = x.shape.length;
  const list = axes === undefined ? x.shape.map((_, i) => i) : (typeof axes === 'number' ? [axes] : axes).map((a) => normalizeAxis(op, a, rank));
  const sorted = [...new Set(list)].sort((a, b) => b - a);
  let y = x;
  let count = 1;
  for (const a of sorted) count *= x.shape[a];
  for (const [k, a] of sorted.entries()) {
    const scale = mean && k === sorted.length - 1 ? (count === 0 ? NaN : 1 / count) : 1;
    y = apply1(reduceAxis, [y], { op, axis: a, scale });
  }
  if (sorted.length === 0 && mean) y = scalarOp('mul', y, 1);
  return keepDims ? y : reshape(y, x.shape.filter((_, i) => !sorted.includes(i)));
}

/** Σ over `axes` (all when omitted). */
export const sum = (x: Tensor, axes?: Axes, o: ReduceOptions = {}): Tensor => reduce('sum', x, axes, o.keepDims ?? false, false);
export const mean = (x: Tensor, axes?: Axes, o: ReduceOptions = {}): Tensor => reduce('sum', x, axes, o.keepDims ?? false, true);
export const max = (x: Tensor, axes?: Axes, o: ReduceOptions = {}): Tensor => reduce('max', x, axes, o.keepDims ?? false, false);

/** Variance over `axes`; `correction` 1 gives the unbiased estimate. */
export function variance(x: Tensor, axes?: Axes, o: ReduceOptions & { correction?: number } = {}): Tensor {
  const m = mean(x, axes, { keepDims: true });
  const sq = square(sub(x, m));
  const n = x.size / m.size;
  const c = o.correction ?? 0;
  const v = mean(sq, axes, o);
  return c === 0 ? v : scalarOp('mul', v, n / (n - c));
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => { if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i); });
  return reshape(sum(g, axes, { keepDims: true }), shape);
}
