// One op, one record: shape rule, CPU rule, GPU rule and VJP. `apply` allocates the outputs, runs the
// rule of the inputs' backend and records the application on any tape that tracks an input.
import type { Backend } from '../backend/backend.js';
import type { CpuRule } from '../backend/cpu.js';
import type { GpuRule } from '../backend/gpu-context.js';
import type { DType } from '../tensor/dtype.js';
import { type Shape, ShapeError, fmt } from '../tensor/shape.js';
import { type Tensor, emptyTensor, getDefaultBackend } from '../tensor/tensor.js';
import { type VjpCall, record } from './tape.js';

export interface OutSpec { shape: Shape; dtype: DType }

export type { VjpCall };

export interface OpDef<P = unknown> {
  name: string;
  /** Output shapes and dtypes (visible outputs first, then residuals); throws ShapeError. */
  shape: (inputs: readonly Tensor[], params: P) => OutSpec[];
  /** Reference rule on typed arrays (f32, f64 and i32 alike). */
  cpu: CpuRule<P>;
  /** WebGPU rule: records dispatches; absent means the op is CPU-only. */
  gpu?: GpuRule<P>;
  /** Gradients of the inputs, given the cotangent of each output (null where none flows). */
  vjp?: (call: VjpCall<P>, cotangents: readonly (Tensor | null)[]) => readonly (Tensor | null)[];
  /** How many outputs the caller sees; the rest are residuals for the VJP. Default: all. */
  visible?: number;
}

export function defineOp<P>(op: OpDef<P>): OpDef<P> { return op; }

/** Runs an op; returns its visible outputs. Residual outputs live only on the tape. */
export function apply<P>(op: OpDef<P>, inputs: readonly Tensor[], params: P, backend?: Backend): Tensor[] {
  const be = inputs.length > 0 ? inputs[0].backend : backend ?? getDefaultBackend();
  for (const t of inputs) {
    if (t.backend !== be) {
      throw new ShapeError(op.name, `inputs live on different backends (${be.name} and ${t.backend.name}); move them explicitly`);
    }
  }
  const specs = op.shape(inputs, params);
  const outs = specs.map((s) => emptyTensor(be, s.shape, s.dtype));
  try {
    be.run(op, inputs, outs, params);
  } catch (e) {
    for (const o of outs) o.dispose();
    throw e;
  }
  record(op as OpDef, inputs, outs, params);
  const visible = op.visible ?? outs.length;
  for (let i = visible; i < outs.length; i++) outs[i].dispose();
  return outs.slice(0, visible);
}

/** Single-output convenience. */
export const apply1 = <P>(op: OpDef<P>, inputs: readonly Tensor[], params: P, backend?: Backend): Tensor =>
  apply(op, inputs, params, backend)[0];

export function expectDtype(op: string, t: Tensor, ...allowed: DType[]): void {
  if (!allowed.includes(t.dtype)) throw new ShapeError(op, `dtype ${t.dtype} of ${fmt(t.shape)} not supported (expected ${allowed.join(' or ')})`);
}

export function expectFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) expectDtype(op, t, 'f32', 'f64');
}

export function sameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new ShapeError(op, `dtype mismatch: ${a.dtype} ${fmt(a.shape)} vs ${b.dtype} ${fmt(b.shape)}`);
}
