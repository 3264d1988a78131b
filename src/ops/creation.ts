// Tensors made on the backend itself (no upload): full/zeros/ones, arange, and dtype casts.
import type { Backend } from '../backend/backend.js';
import type { DType } from '../tensor/dtype.js';
import { type Shape, ShapeError, checkShape } from '../tensor/shape.js';
import { type Tensor, alias, getDefaultBackend } from '../tensor/tensor.js';
import { apply1, defineOp } from './define.js';
import { WG, elementGroups } from './elementwise.js';

interface FillParams { shape: Shape; dtype: DType; value: number; step: number; arange: boolean }

const bits = (dtype: DType, v: number): number => {
  const b = new ArrayBuffer(4);
  if (dtype === 'i32') new Int32Array(b)[0] = v; else new Float32Array(b)[0] = v;
  return new Uint32Array(b)[0];
};

export const fillOp = defineOp<FillParams>({
  name: 'fill',
  shape: (_, p) => {
    checkShape('fill', p.shape);
    if (p.dtype === 'i32' && (!Number.isInteger(p.value) || !Number.isInteger(p.step))) throw new ShapeError('fill', `i32 fill needs integers, got ${p.value}, ${p.step}`);
    return [{ shape: p.shape, dtype: p.dtype }];
  },
  cpu: (_, [y], { params: p }) => { for (let i = 0; i < y.length; i++) y[i] = p.arange ? p.value + i * p.step : p.value; },
  gpu: (ctx, _, [y], p) => ctx.dispatch({
    kernel: 'fill', constants: { MODE: p.arange ? 1 : 0, IS_INT: p.dtype === 'i32' ? 1 : 0, WG },
    uniforms: [y.size, bits(p.dtype, p.value), bits(p.dtype, p.step)], workgroups: elementGroups(y.size), bindings: [y],
  }),
});

export interface MakeOptions { dtype?: DType; backend?: Backend }
const be = (o: MakeOptions): Backend => o.backend ?? getDefaultBackend();

export const full = (shape: Shape, value: number, o: MakeOptions = {}): Tensor =>
  apply1(fillOp, [], { shape, dtype: o.dtype ?? 'f32', value, step: 0, arange: false }, be(o));
export const zeros = (shape: Shape, o: MakeOptions = {}): Tensor => full(shape, 0, o);
export const ones = (shape: Shape, o: MakeOptions = {}): Tensor => full(shape, 1, o);
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, { dtype: t.dtype, backend: t.backend });
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, { dtype: t.dtype, backend: t.backend });
export const fullLike = (t: Tensor, value: number): Tensor => full(t.shape, value, { dtype: t.dtype, backend: t.backend });

/** [start, start + step, …) with n = ceil((stop − start) / step) elements. */
export function arange(start: number, stop?: number, step = 1, o: MakeOptions = {}): Tensor {
  const [a, b] = stop === undefined ? [0, start] : [start, stop];
  const n = Math.max(0, Math.ceil((b - a) / step));
  return apply1(fillOp, [], { shape: [n], dtype: o.dtype ?? 'f32', value: a, step, arange: true }, be(o));
}

export const castOp = defineOp<{ dtype: DType }>({
  name: 'cast',
  shape: ([x], p) => [{ shape: x.shape, dtype: p.dtype }],
  cpu: ([x], [y], { params }) => {
    if (params.dtype === 'i32') for (let i = 0; i < x.length; i++) y[i] = Math.trunc(x[i]);
    else y.set(x);
  },
  gpu: (ctx, [x], [y], p) => {
    ctx.dispatch({ kernel: 'cast', constants: { TO_INT: p.dtype === 'i32' ? 1 : 0, WG }, uniforms: [y.size], workgroups: elementGroups(y.size), bindings: [x, y] });
  },
  vjp: ({ inputs: [x] }, [g]) => [x.dtype === 'i32' ? null : cast(g!, x.dtype)],
});

/** Converts between f32, i32 (truncating) and, on the CPU, f64. */
export const cast = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype ? alias(x) : apply1(castOp, [x], { dtype }));
