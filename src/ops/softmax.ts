// softmax and logSoftmax along one axis (max-subtracted), their fused VJP, and the row-kernel
// geometry shared with layer norm and cross-entropy. kernels/softmax.wgsl, softmax-backward.wgsl.
import { type Shape, ShapeError, normalizeAxis, sizeOf } from '../tensor/shape.js';
import type { HostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { GpuContext } from '../backend/gpu-context.js';
import { type OpDef, apply1, defineOp, expectFloat, sameDtype } from './define.js';
import { mul, sub } from './binary.js';
import { exp } from './unary.js';
import { sum } from './reduce.js';

// ---- row-kernel geometry ----------------------------------------------------------------------

export type { RowGeometry } from '../backend/kernel-options.js';

/** MODE 0 (thread per row) or 1 (workgroup per row), with workgroup size and count, from the context's
 * kernel options. 'auto': thread per row on software adapters (measured), workgroup per row on
 * hardware GPUs (coalesced row reads). */
export function rowLaunch(rows: number, ctx: Pick<GpuContext, 'software' | 'kernels'>): { MODE: number; WG: number; groups: number } {
  const { geometry, threadWg, rowWg } = ctx.kernels.rows;
  const perRow = geometry === 'workgroup' || (geometry === 'auto' && !ctx.software);
  return perRow ? { MODE: 1, WG: rowWg, groups: rows } : { MODE: 0, WG: threadWg, groups: Math.ceil(rows / threadWg) };
}

function onlyF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(op, `the WebGPU kernel takes f32, got ${t.dtype}`);
}

/** [outer, r, inner]: the axis of length r, with `inner` elements between its neighbours. */
const split = (shape: Shape, axis: number): [number, number, number] =>
  [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];

// ---- forward ----------------------------------------------------------------------------------

interface SoftmaxParams { axis: number }

function softmaxCpu(x: HostArray, y: HostArray, shape: Shape, axis: number, log: boolean): void {
  const [outer, r, inner] = split(shape, axis);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * r + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < r; k++) { const v = x[at(k)]; if (v > m || Number.isNaN(v)) m = v; }
      let s = 0;
      for (let k = 0; k < r; k++) s += Math.exp(x[at(k)] - m);
      const logS = Math.log(s);
      for (let k = 0; k < r; k++) y[at(k)] = log ? x[at(k)] - m - logS : Math.exp(x[at(k)] - m) / s;
    }
  }
}

function makeSoftmax(name: 'softmax' | 'logSoftmax', log: boolean): OpDef<SoftmaxParams> {
  return defineOp<SoftmaxParams>({
    name,
    shape: ([x]) => { expectFloat(name, x); return [{ shape: x.shape, dtype: x.dtype }]; },
    cpu: ([x], [y], { inputs: [t], params: p }) => softmaxCpu(x, y, t.shape, p.axis, log),
    gpu: (ctx, [x], [y], p) => {
      onlyF32(name, x);
      const [outer, r, inner] = split(x.shape, p.axis);
      const { MODE, WG, groups } = rowLaunch(outer * inner, ctx);
      ctx.dispatch({ kernel: 'softmax', constants: { LOG: log ? 1 : 0, MODE, WG }, uniforms: [outer, r, inner], workgroups: groups, bindings: [x, y] });
    },
    vjp: ({ outputs: [y], params: p }, [g]) => [softmaxBackward(y, g!, { axis: p.axis, log })],
  });
}

export const softmaxOp = makeSoftmax('softmax', false);
export const logSoftmaxOp = makeSoftmax('logSoftmax', true);

/** Softmax along `axis`: y = exp(x − max) / Σ exp(x − max). VJP: dx = y ⊙ (g − Σ g⊙y). */
export const softmax = (x: Tensor, axis = -1): Tensor =>
  apply1(softmaxOp, [x], { axis: normalizeAxis('softmax', axis, x.shape.length) });

/** Log-softmax along `axis`: y = x − max − log Σ exp(x − max). VJP: dx = g − softmax(x) · Σ g. */
export const logSoftmax = (x: Tensor, axis = -1): Tensor =>
  apply1(logSoftmaxOp, [x], { axis: normalizeAxis('logSoftmax', axis, x.shape.length) });

// ---- backward ---------------------------------------------------------------------------------

interface BackwardParams { axis: number; log: boolean }

/** The VJP written with ops: the test oracle of the fused kernel (and twice differentiable). */
export function softmaxBackwardComposed(y: Tensor, g: Tensor, { axis, log }: BackwardParams): Tensor {
  return log
    ? sub(g, mul(exp(y), sum(g, axis, { keepDims: true })))
    : mul(y, sub(g, sum(mul(g, y), axis, { keepDims: true })));
}

/** Fused VJP of softmax (log = false) or logSoftmax (log = true), given the forward output y. */
export const softmaxBackwardOp: OpDef<BackwardParams> = defineOp<BackwardParams>({
  name: 'softmaxBackward',
  shape: ([y, g]) => {
    expectFloat('softmaxBackward', y, g);
    sameDtype('softmaxBackward', y, g);
    if (y.size !== g.size) throw new ShapeError('softmaxBackward', `cotangent size ${g.size} differs from output size ${y.size}`);
    return [{ shape: y.shape, dtype: y.dtype }];
  },
  cpu: ([y, g], [dx], { inputs: [t], params: { axis, log } }) => {
    const [outer, r, inner] = split(t.shape, axis);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (k: number) => (o * r + k) * inner + i;
        let s = 0;
        for (let k = 0; k < r; k++) s += log ? g[at(k)] : g[at(k)] * y[at(k)];
        for (let k = 0; k < r; k++) dx[at(k)] = log ? g[at(k)] - Math.exp(y[at(k)]) * s : y[at(k)] * (g[at(k)] - s);
      }
    }
  },
  gpu: (ctx, [y, g], [dx], { axis, log }) => {
    onlyF32('softmaxBackward', y, g);
    const [outer, r, inner] = split(y.shape, axis);
    const { MODE, WG, groups } = rowLaunch(outer * inner, ctx);
    ctx.dispatch({ kernel: 'softmax-backward', constants: { LOG: log ? 1 : 0, MODE, WG }, uniforms: [outer, r, inner], workgroups: groups, bindings: [y, g, dx] });
  },
  // Second order: the map is linear in g (and self-adjoint in g for softmax); y enters as below.
  vjp: ({ inputs: [y, g], params: p, needs }, [h]) => {
    const keep = { keepDims: true };
    if (p.log) {
      const pr = exp(y);
      return [
        needs[0] ? mul(mul(mul(h!, pr), sum(g, p.axis, keep)), -1) : null,
        needs[1] ? sub(h!, sum(mul(h!, pr), p.axis, keep)) : null,
      ];
    }
    return [
      needs[0] ? sub(mul(h!, sub(g, sum(mul(g, y), p.axis, keep))), mul(g, sum(mul(h!, y), p.axis, keep))) : null,
      needs[1] ? softmaxBackward(y, h!, p) : null,
    ];
  },
});

export const softmaxBackward = (y: Tensor, g: Tensor, { axis, log }: BackwardParams): Tensor =>
  apply1(softmaxBackwardOp, [y, g], { axis: normalizeAxis('softmaxBackward', axis, y.shape.length), log });

export const softmaxOps = { softmax: softmaxOp, logSoftmax: logSoftmaxOp, softmaxBackward: softmaxBackwardOp };
