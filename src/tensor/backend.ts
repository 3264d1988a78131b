// The contract between tensors and the places their data lives (implemented in src/backend/). It sits
// on the tensor floor because a tensor's storage names its backend; it knows ops only as a name: each
// backend reads the rule it runs from the op record (the CPU backend its `cpu` rule, WebGPU its `gpu`).
import type { DType, HostArray } from './dtype.js';
import type { Tensor } from './tensor.js';

export type BackendName = 'cpu' | 'webgpu';

/** What a backend is handed to run: an op record (see ops/define.ts), known here by its name only. */
export interface KernelOp { readonly name: string }

export interface Backend {
  readonly name: BackendName;
  /** Fresh storage for `size` elements; contents unspecified. */
  alloc(dtype: DType, size: number): unknown;
  free(handle: unknown, dtype: DType, size: number): void;
  upload(dtype: DType, data: HostArray): unknown;
  read(t: Tensor): Promise<HostArray>;
  run(op: KernelOp, inputs: readonly Tensor[], outputs: readonly Tensor[], params: unknown): void;
}
