// The reference backend: storage is a typed array; each op runs its `cpu` rule. It is the test
// oracle and a fallback that needs no GPU at all.
import type { Backend, KernelOp } from './backend.js';
import { type DType, type HostArray, hostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

export const cpuData = (t: Tensor): HostArray => t.storage.handle as HostArray;

/** An op's reference rule on typed arrays (f32, f64 and i32 alike): what the CPU backend runs. */
export type CpuRule<P = unknown> = (ins: HostArray[], outs: HostArray[], call: { inputs: readonly Tensor[]; outputs: readonly Tensor[]; params: P }) => void;

class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  alloc(dtype: DType, size: number): HostArray { return hostArray(dtype, size); }
  free(): void {}
  upload(dtype: DType, data: HostArray): HostArray {
    const out = hostArray(dtype, data.length);
    out.set(data);
    return out;
  }
  async read(t: Tensor): Promise<HostArray> { return cpuData(t).slice(); }
  run(op: KernelOp, inputs: readonly Tensor[], outputs: readonly Tensor[], params: unknown): void {
    (op as KernelOp & { cpu: CpuRule }).cpu(inputs.map(cpuData), outputs.map(cpuData), { inputs, outputs, params });
  }
}

let instance: CpuBackend | undefined;
/** The CPU backend (a singleton: it has no state of its own). */
export function cpu(): Backend {
  instance ??= new CpuBackend();
  return instance;
}

/** Synchronous read for CPU tensors (tests, host-side logic). */
export function cpuRead(t: Tensor): HostArray {
  if (t.backend.name !== 'cpu') throw new Error(`cpuRead: tensor lives on ${t.backend.name}`);
  return cpuData(t).slice();
}
