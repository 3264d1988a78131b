// The contract between tensors and the places their data lives. Ops never see backend internals:
// the CPU backend runs an op's `cpu` rule on typed arrays, the WebGPU backend runs its `gpu` rule.
import type { DType, HostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { OpDef } from '../ops/define.js';

export type BackendName = 'cpu' | 'webgpu';

export interface Backend {
  readonly name: BackendName;
  /** Fresh storage for `size` elements; contents unspecified. */
  alloc(dtype: DType, size: number): unknown;
  free(handle: unknown, dtype: DType, size: number): void;
  upload(dtype: DType, data: HostArray): unknown;
  read(t: Tensor): Promise<HostArray>;
  run(op: OpDef, inputs: readonly Tensor[], outputs: readonly Tensor[], params: unknown): void;
}
