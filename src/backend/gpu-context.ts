// What an op's GPU rule may do: dispatch a kernel from kernels/ and borrow scratch tensors.
import type { DType } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { KernelOptions } from './kernel-options.js';

/** A uniform scalar: plain numbers are u32; tag floats and signed ints. */
export type Uniform = number | { f32: number } | { i32: number };

export interface KernelCall {
  /** File stem in kernels/ (e.g. 'unary' for kernels/unary.wgsl). */
  kernel: string;
  /** Override constants (operation id, transpose flags, workgroup size). */
  constants?: Record<string, number>;
  /** The kernel's `Params` struct, field by field (all 4-byte scalars). Empty means no uniform binding. */
  uniforms: readonly Uniform[];
  /** Workgroup count: a number is folded into x/y past the per-dimension limit; a triple is used as is. */
  workgroups: number | readonly [number, number, number];
  /** Storage bindings in order: inputs first, then outputs. */
  bindings: readonly Tensor[];
}

/** An op's WebGPU rule: records dispatches (what the WebGPU backend runs). */
export type GpuRule<P = unknown> = (ctx: GpuContext, inputs: readonly Tensor[], outputs: readonly Tensor[], params: P) => void;

export interface GpuContext {
  dispatch(call: KernelCall): void;
  /** A temporary tensor released after the op's rule has run. */
  scratch(shape: Shape, dtype: DType): Tensor;
  /** The device's per-dimension workgroup limit (65,535 on most devices). */
  readonly maxWorkgroupsPerDim: number;
  /** A CPU implementation (lavapipe, SwiftShader): kernels pick CPU-friendly geometry there. */
  readonly software: boolean;
  /** The kernel variants this backend runs (matmul family and tiles, row-kernel geometry). */
  readonly kernels: KernelOptions;
}
