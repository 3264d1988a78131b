// The WebGPU backend: pooled storage buffers, kernels recorded into one compute pass per command
// buffer, uniforms packed into an arena written just before submit, reads only on request.
import type { Backend } from '../backend.js';
import type { GpuContext, KernelCall, Uniform } from '../gpu-context.js';
import type { KernelOp } from '../backend.js';
import type { GpuRule } from '../gpu-context.js';
import { type DType, type HostArray, bytesPer, hostArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import { sizeOf } from '../../tensor/shape.js';
import { Tensor, newStorage } from '../../tensor/tensor.js';
import { type OpenedDevice, closeDevice, gpuGlobals, openDevice } from './device.js';
import { PipelineCache } from './pipelines.js';
import { BufferPool, type PoolStats } from './pool.js';
import { type KernelOptions, type KernelOptionsPatch, defaultKernelOptions, withKernelOptions } from '../kernel-options.js';

const ARENA_BYTES = 1 << 16;

interface Arena { buffer: GPUBuffer; data: ArrayBuffer; used: number }

export class WebGpuBackend implements Backend, GpuContext {
  readonly name = 'webgpu' as const;
  readonly pool: BufferPool<GPUBuffer>;
  readonly pipelines: PipelineCache;
  readonly maxWorkgroupsPerDim: number;
  readonly software: boolean;
  /** Kernel variants (see kernel-options.ts); replaced, never mutated, by setKernelOptions. */
  kernels: KernelOptions = defaultKernelOptions;
  /** Dispatches recorded before a submit; larger batches mean fewer submits. */
  maxDispatchesPerSubmit = 96;
  counters = { dispatches: 0, submits: 0, reads: 0 };

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly pendingRefs = new Set<GPUBuffer>();
  private arenas: Arena[] = [];
  private readonly spareArenas: GPUBuffer[] = [];
  private readonly staging: BufferPool<GPUBuffer>;
  private readonly align: number;
  private lost: string | null = null;
  private firstError: string | null = null;
  private scratchList: Tensor[] = [];
  private doomed: GPUBuffer[] = [];

  constructor(readonly opened: OpenedDevice) {
    const { device } = opened;
    const U = gpuGlobals.GPUBufferUsage;
    // A buffer over the pool's cap may still be used by recorded commands: destroy it after submit.
    this.pool = new BufferPool((bytes) => device.createBuffer({ size: bytes, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST }), (b) => {
      if (this.pendingRefs.has(b)) this.doomed.push(b); else b.destroy();
    });
    this.staging = new BufferPool((bytes) => device.createBuffer({ size: bytes, usage: U.MAP_READ | U.COPY_DST }), (b) => b.destroy(), 8);
    this.pipelines = new PipelineCache(device);
    this.maxWorkgroupsPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    const i = opened.info;
    this.software = /llvmpipe|lavapipe|swiftshader|software/i.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);
    this.align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    void device.lost.then((info) => { this.lost = `${info.reason}: ${info.message}`; });
    device.addEventListener('uncapturederror', (ev) => {
      this.firstError ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
  }

  get device(): GPUDevice { return this.opened.device; }

  /** Applies a patch to the kernel options of this backend; returns the previous options (to restore them). */
  setKernelOptions(patch: KernelOptionsPatch | KernelOptions): KernelOptions {
    const prev = this.kernels;
    this.kernels = withKernelOptions(prev, patch);
    return prev;
  }

  private check(): void {
    if (this.lost !== null) throw new Error(`WebGPU device lost (${this.lost}); results are unavailable — restart the process or use the cpu backend`);
    if (this.firstError !== null) {
      const e = this.firstError;
      this.firstError = null;
      throw new Error(`WebGPU error: ${e}`);
    }
  }

  alloc(dtype: DType, size: number): GPUBuffer {
    if (dtype === 'f64') throw new Error('f64 tensors exist only on the cpu backend');
    return this.pool.acquire(size * bytesPer(dtype));
  }

  free(handle: unknown): void { this.pool.release(handle as GPUBuffer); }

  upload(dtype: DType, data: HostArray): GPUBuffer {
    const buf = this.alloc(dtype, data.length);
    // queue.writeBuffer runs before the commands still being recorded: never write a buffer they use.
    if (this.pendingRefs.has(buf)) this.flush();
    if (data.byteLength > 0) this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return buf;
  }

  async read(t: Tensor): Promise<HostArray> {
    this.check();
    this.counters.reads++;
    const bytes = t.size * bytesPer(t.dtype);
    const out = hostArray(t.dtype, t.size);
    if (bytes === 0) return out;
    const stage = this.staging.acquire(bytes);
    this.ensureEncoder();
    this.endPass();
    this.encoder!.copyBufferToBuffer(t.storage.handle as GPUBuffer, 0, stage, 0, bytes);
    this.flush(true);
    try {
      await stage.mapAsync(gpuGlobals.GPUMapMode.READ, 0, bytes);
      new Uint8Array(out.buffer).set(new Uint8Array(stage.getMappedRange(0, bytes)));
      stage.unmap();
    } catch (e) {
      this.check();
      throw e;
    } finally {
      this.staging.release(stage);
    }
    this.check();
    return out;
  }

  run(kernelOp: KernelOp, inputs: readonly Tensor[], outputs: readonly Tensor[], params: unknown): void {
    this.check();
    const op = kernelOp as KernelOp & { gpu?: GpuRule };
    if (op.gpu === undefined) throw new Error(`${op.name}: no WebGPU kernel; run it on the cpu backend`);
    try {
      op.gpu(this, inputs, outputs, params);
    } finally {
      for (const s of this.scratchList) s.dispose();
      this.scratchList = [];
    }
  }

  scratch(shape: Shape, dtype: DType): Tensor {
    const s = newStorage(this, dtype, sizeOf(shape));
    s.refs++;
    const t = new Tensor(shape, dtype, s, -1, false);
    this.scratchList.push(t);
    return t;
  }

  dispatch(call: KernelCall): void {
    const grid = this.grid(call.workgroups);
    if (grid[0] * grid[1] * grid[2] === 0) return;
    const pipeline = this.pipelines.get(call.kernel, call.constants);
    this.ensureEncoder();
    this.pass ??= this.encoder!.beginComputePass();
    const entries: GPUBindGroupEntry[] = call.bindings.map((t, i) => {
      const buffer = t.storage.handle as GPUBuffer;
      this.pendingRefs.add(buffer);
      return { binding: i, resource: { buffer, offset: 0, size: Math.max(4, t.size * bytesPer(t.dtype)) } };
    });
    if (call.uniforms.length > 0) {
      const [buffer, offset, size] = this.writeUniforms(call.uniforms);
      entries.push({ binding: call.bindings.length, resource: { buffer, offset, size } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.counters.dispatches++;
    if (++this.pending >= this.maxDispatchesPerSubmit) this.flush();
  }

  /** Submits everything recorded so far. */
  flush(force = false): void {
    if (this.encoder === null || (this.pending === 0 && !force)) return;
    this.endPass();
    for (const a of this.arenas) this.device.queue.writeBuffer(a.buffer, 0, a.data, 0, a.used);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    for (const a of this.arenas) this.spareArenas.push(a.buffer);
    this.arenas = [];
    this.encoder = null;
    this.pending = 0;
    this.pendingRefs.clear();
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  /** Waits until the GPU has finished everything submitted (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  stats(): PoolStats & { pipelines: number } { return { ...this.pool.stats(), pipelines: this.pipelines.created }; }

  private ensureEncoder(): void { this.encoder ??= this.device.createCommandEncoder(); }
  private endPass(): void { this.pass?.end(); this.pass = null; }

  private grid(w: number | readonly [number, number, number]): [number, number, number] {
    const max = this.maxWorkgroupsPerDim;
    if (typeof w !== 'number') {
      if (w.some((d) => d > max)) throw new Error(`dispatch grid [${w.join(', ')}] exceeds ${max} workgroups per dimension`);
      return [w[0], w[1], w[2]];
    }
    if (w <= max) return [w, 1, 1];
    const y = Math.ceil(w / max);
    if (y > max) throw new Error(`dispatch of ${w} workgroups exceeds ${max}² workgroups`);
    return [max, y, 1];
  }

  private writeUniforms(values: readonly Uniform[]): [GPUBuffer, number, number] {
    const size = Math.ceil((values.length * 4) / 16) * 16;
    let a = this.arenas[this.arenas.length - 1];
    if (a === undefined || a.used + size > ARENA_BYTES) {
      const U = gpuGlobals.GPUBufferUsage;
      const buffer = this.spareArenas.pop() ?? this.device.createBuffer({ size: ARENA_BYTES, usage: U.UNIFORM | U.COPY_DST });
      a = { buffer, data: new ArrayBuffer(ARENA_BYTES), used: 0 };
      this.arenas.push(a);
    }
    const offset = a.used;
    const u32 = new Uint32Array(a.data, offset, values.length);
    const f32 = new Float32Array(a.data, offset, values.length);
    const i32 = new Int32Array(a.data, offset, values.length);
    values.forEach((v, i) => {
      if (typeof v === 'number') u32[i] = v >>> 0;
      else if ('f32' in v) f32[i] = v.f32;
      else i32[i] = v.i32;
    });
    a.used = Math.ceil((offset + size) / this.align) * this.align;
    return [a.buffer, offset, size];
  }
}

let backend: WebGpuBackend | null | undefined;

/**
 * The WebGPU backend on the default adapter, or null when there is none (one per process: later
 * calls return it). `kernels` sets its kernel variants (see kernel-options.ts).
 */
export async function webgpu(o: { kernels?: KernelOptionsPatch } = {}): Promise<WebGpuBackend | null> {
  if (backend === undefined) {
    const opened = await openDevice();
    backend = opened ? new WebGpuBackend(opened) : null;
  }
  if (backend !== null && o.kernels !== undefined) backend.setKernelOptions(o.kernels);
  return backend;
}

/** Releases the device so Node can exit. Tensors on it become unusable. */
export function closeWebgpu(): void {
  backend?.flush();
  backend = undefined;
  closeDevice();
}
