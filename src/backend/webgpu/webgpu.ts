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
import { type OpenedDevice, closeDevice, gpuGlobals, onDawnNode, openDevice, softwareAdapter } from './device.js';
import { envVar, noteGpuActivity, pumpEvents, sleepSync } from './dawn-node.js';
import { PipelineCache } from './pipelines.js';
import { BufferPool, type PoolStats } from './pool.js';
import { type KernelOptions, type KernelOptionsPatch, defaultKernelOptions, withKernelOptions } from '../kernel-options.js';
import { applyCachedMatmulTiles } from './autotune.js';

const ARENA_BYTES = 1 << 16;

interface Arena { buffer: GPUBuffer; data: ArrayBuffer; used: number }

/** A submitted command buffer: its dispatches, and a 16-byte buffer it copies into, mapped to learn it finished. */
interface InFlight { fence: GPUBuffer; dispatches: number }

/** Bind groups kept for reuse, least recently used dropped first. */
const BIND_GROUP_CACHE = 8192;

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
  /**
   * Dawn under Node: dispatches submitted but not yet known complete, past which recording first waits
   * for the oldest work (down to half of this). Until Dawn processes its events it keeps every submit's
   * memory (a 1,000-step stretch of bench's tiny model grew the process by ~65 MB, without end); 4,096 is
   * ~40 steps of that model, ~17 of the bench model: enough queued to keep lavapipe busy, and the waits
   * cost no measurable throughput. (In-flight work itself never crashed lavapipe: 200,000 ran.)
   */
  maxDispatchesInFlight = 4096;
  /**
   * Dawn under Node: bind groups created while the event loop does not run, past which recording throws.
   * Dawn frees a dropped bind group only after the event loop runs, and lavapipe maps memory for each,
   * up to the kernel's 65,530 mappings (vm.max_map_count) per process: a segfault at ~65,000, the crash
   * of a training loop that never awaited. A loop whose buffers repeat creates none after warm-up
   * (bind groups are cached; pool.ts hands out buffers so that they repeat).
   */
  maxBindGroupsPerTurn = 24576;
  counters = { dispatches: 0, submits: 0, reads: 0, bindGroups: 0, waits: 0 };

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
  /** Bounds work in flight and new bind groups per event-loop turn: Dawn under Node, which frees its resources only from the event loop. */
  private readonly bounded: boolean;
  private readonly bindGroups = new Map<string, { group: GPUBindGroup; buffers: number[] }>();
  private readonly groupsByBuffer = new Map<number, Set<string>>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly layoutIds = new WeakMap<GPUBindGroupLayout, number>();
  private nextLayoutId = 1;
  private inFlight: InFlight[] = [];
  private inFlightDispatches = 0;
  private readonly spareFences: GPUBuffer[] = [];
  private fenceSource: GPUBuffer | null = null;
  private groupsThisTurn = 0;
  private turnScheduled = false;

  constructor(readonly opened: OpenedDevice) {
    const { device } = opened;
    const U = gpuGlobals.GPUBufferUsage;
    // A buffer over the pool's cap may still be used by recorded commands: destroy it after submit.
    this.pool = new BufferPool((bytes) => device.createBuffer({ size: bytes, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST }), (b) => {
      this.forgetBindGroups(b);
      if (this.pendingRefs.has(b)) this.doomed.push(b); else b.destroy();
    });
    this.staging = new BufferPool((bytes) => device.createBuffer({ size: bytes, usage: U.MAP_READ | U.COPY_DST }), (b) => b.destroy(), 8);
    this.pipelines = new PipelineCache(device);
    this.maxWorkgroupsPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    const i = opened.info;
    this.software = softwareAdapter(i);
    this.align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.bounded = onDawnNode();
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
    const bytes = size * bytesPer(dtype), limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      // one tensor is one storage binding: refuse before anything is recorded (nothing half-done)
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      throw new Error(`out of GPU memory for one tensor: ${size.toLocaleString('en')} ${dtype} elements need ${mib(bytes)}, more than this adapter's ${mib(limit)} per buffer (maxStorageBufferBindingSize); lower the size that makes it (vocabulary, hidden size, batch × sequence length) or use an adapter with a larger limit`);
    }
    return this.pool.acquire(bytes);
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
    if (this.bounded) this.admit();
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
    // The uniforms' place in the arena is the uniform binding's dynamic offset (pipelines.ts), not part of the bind group.
    const offsets: number[] = [];
    if (call.uniforms.length > 0) {
      const [buffer, offset, size] = this.writeUniforms(call.uniforms);
      entries.push({ binding: call.bindings.length, resource: { buffer, offset: 0, size } });
      offsets.push(offset);
    }
    const bindGroup = this.bindGroup(this.pipelines.bindGroupLayout(call.kernel), entries);
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup, offsets);
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.counters.dispatches++;
    if (++this.pending >= this.maxDispatchesPerSubmit) this.flush();
  }

  /** Submits everything recorded so far. */
  flush(force = false): void {
    if (this.encoder === null || (this.pending === 0 && !force)) return;
    this.endPass();
    for (const a of this.arenas) this.device.queue.writeBuffer(a.buffer, 0, a.data, 0, a.used);
    const dispatches = this.pending;
    const fence = this.bounded && dispatches > 0 ? this.fence() : null;
    if (fence !== null) this.encoder.copyBufferToBuffer(this.fenceSource!, 0, fence, 0, 4);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    noteGpuActivity();
    if (fence !== null) {
      // Mapped (mapState 'mapped') once this submit has finished; 'unmapped' again if mapping failed.
      fence.mapAsync(gpuGlobals.GPUMapMode.READ).catch(() => undefined);
      this.inFlight.push({ fence, dispatches });
      this.inFlightDispatches += dispatches;
    }
    for (const a of this.arenas) this.spareArenas.push(a.buffer);
    this.arenas = [];
    this.encoder = null;
    this.pending = 0;
    this.pendingRefs.clear();
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
    if (this.bounded) this.makeRoom();
  }

  /** Waits until the GPU has finished everything submitted (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.retire();
    this.check();
  }

  stats(): PoolStats & { pipelines: number; bindGroups: number; dispatchesInFlight: number } {
    return { ...this.pool.stats(), pipelines: this.pipelines.created, bindGroups: this.bindGroups.size, dispatchesInFlight: this.inFlightDispatches };
  }

  // ---- Work in flight (Dawn under Node) ----
  //
  // Under Node, Dawn learns that submitted work has finished, and frees what it held, only when its
  // events are processed, which dawn.node does from the event loop; a dropped bind group is freed only
  // after that too. A loop that records steps without awaiting anything never lets that happen. It used
  // to die with a bare segfault after a few hundred steps: one new bind group per dispatch, each a memory
  // mapping in lavapipe, until vm.max_map_count (65,530) ran out. Now bind groups are reused (above), and
  // each submit carries a fence (a 4-byte copy into a small mapped-for-reading buffer): when more than
  // maxDispatchesInFlight dispatches are not known complete, flush() waits right there, synchronously:
  // it runs Dawn's event processing itself (dawn-node.ts's pump) and sleeps a millisecond at a time until
  // the oldest work has finished, so Dawn's memory stays flat too. Where it cannot wait, or too many new
  // bind groups pile up, the next op throws, saying what to do.

  private fence(): GPUBuffer {
    const U = gpuGlobals.GPUBufferUsage;
    this.fenceSource ??= this.device.createBuffer({ size: 16, usage: U.COPY_SRC });
    return this.spareFences.pop() ?? this.device.createBuffer({ size: 16, usage: U.MAP_READ | U.COPY_DST });
  }

  /** Drops the finished submits from the front of the in-flight list (in order: the queue runs in order). */
  private retire(): void {
    while (this.inFlight.length > 0) {
      const f = this.inFlight[0];
      const state = f.fence.mapState;
      if (state === 'pending') break;
      this.inFlight.shift();
      this.inFlightDispatches -= f.dispatches;
      if (state === 'mapped') { f.fence.unmap(); this.spareFences.push(f.fence); } else f.fence.destroy();
    }
  }

  /** After a submit: over the bound, wait (synchronously) until at most half of it is in flight. */
  private makeRoom(): void {
    this.retire();
    if (this.inFlightDispatches <= this.maxDispatchesInFlight) return;
    this.counters.waits++;
    const target = this.maxDispatchesInFlight >> 1;
    while (this.inFlightDispatches > target) {
      if (!pumpEvents()) return; // admit() throws before the next op if still over
      this.retire();
      if (this.inFlightDispatches <= target || !sleepSync(1)) return;
    }
  }

  /** Before an op records anything: room for its work, or a clear error where there can be none. */
  private admit(): void {
    if (this.inFlightDispatches > this.maxDispatchesInFlight) this.makeRoom();
    if (this.inFlightDispatches > this.maxDispatchesInFlight) {
      throw new Error(
        `das-webgpu: ${this.inFlightDispatches} GPU dispatches are submitted but not known to be complete (the limit is ` +
        `${this.maxDispatchesInFlight}; past it Dawn holds ever more memory for unfinished work), and this synchronous call ` +
        "cannot wait for them here (Dawn's event processing could not be run from it). Let the event loop run: await a read " +
        '(e.g. `await readScalar(loss)`) or `await backend.sync()` every few steps, at least once per ' +
        `${this.maxDispatchesInFlight} dispatches (${this.counters.dispatches} so far in this process).`);
    }
    if (this.groupsThisTurn > this.maxBindGroupsPerTurn) {
      throw new Error(
        `das-webgpu: ${this.groupsThisTurn} bind groups were created while the event loop did not run (the limit is ` +
        `${this.maxBindGroupsPerTurn}): Dawn frees unused ones only when it runs, and lavapipe runs out of memory mappings ` +
        'near 65,000. Await a read or `await backend.sync()` every few steps. (A loop over the same shapes needs no new ' +
        'bind groups after its first steps; this one keeps binding new buffers.)');
    }
  }

  private layoutId(layout: GPUBindGroupLayout): number {
    let id = this.layoutIds.get(layout);
    if (id === undefined) {
      id = this.nextLayoutId++;
      this.layoutIds.set(layout, id);
    }
    return id;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /**
   * The bind group for these entries, reused when the same buffer ranges were bound with the same layout
   * (one per kernel) before: a training loop rebinds the same pooled buffers every step (pool.ts), so it
   * creates none after its first steps. Bind groups are immutable views of buffer ranges: reuse changes
   * no result.
   */
  private bindGroup(layout: GPUBindGroupLayout, entries: readonly GPUBindGroupEntry[]): GPUBindGroup {
    const ids: number[] = [];
    let key = `${this.layoutId(layout)}`;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      const id = this.bufferId(r.buffer);
      ids.push(id);
      key += `|${id}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    const hit = this.bindGroups.get(key);
    if (hit !== undefined) {
      this.bindGroups.delete(key); // most recently used last
      this.bindGroups.set(key, hit);
      return hit.group;
    }
    const group = this.device.createBindGroup({ layout, entries });
    this.counters.bindGroups++;
    if (this.bounded) this.countBindGroup();
    this.bindGroups.set(key, { group, buffers: ids });
    for (const id of ids) {
      let keys = this.groupsByBuffer.get(id);
      if (keys === undefined) this.groupsByBuffer.set(id, (keys = new Set()));
      keys.add(key);
    }
    if (this.bindGroups.size > BIND_GROUP_CACHE) this.dropBindGroup(this.bindGroups.keys().next().value!);
    return group;
  }

  private dropBindGroup(key: string): void {
    const e = this.bindGroups.get(key);
    if (e === undefined) return;
    this.bindGroups.delete(key);
    for (const id of e.buffers) {
      const keys = this.groupsByBuffer.get(id);
      keys?.delete(key);
      if (keys?.size === 0) this.groupsByBuffer.delete(id);
    }
  }

  /** A buffer being destroyed: its bind groups can never be used again. */
  private forgetBindGroups(b: GPUBuffer): void {
    const id = this.bufferIds.get(b);
    const keys = id === undefined ? undefined : this.groupsByBuffer.get(id);
    if (keys !== undefined) for (const key of [...keys]) this.dropBindGroup(key);
  }

  /** Counts a new bind group against this event-loop turn (reset when the event loop next runs). */
  private countBindGroup(): void {
    this.groupsThisTurn++;
    if (this.turnScheduled) return;
    const later = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
    if (later === undefined) return;
    this.turnScheduled = true;
    later(() => { this.groupsThisTurn = 0; this.turnScheduled = false; });
  }

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
 * calls return it). `kernels` sets its kernel variants (see kernel-options.ts). A new backend takes the
 * matmul tiles autotune cached for this adapter (autotune.ts; bit-identical results), unless DAS_AUTOTUNE=off.
 */
export async function webgpu(o: { kernels?: KernelOptionsPatch } = {}): Promise<WebGpuBackend | null> {
  if (backend === undefined) {
    const opened = await openDevice();
    backend = opened ? new WebGpuBackend(opened) : null;
    if (backend !== null && envVar('DAS_AUTOTUNE') !== 'off') {
      try { applyCachedMatmulTiles(backend); } catch { /* the cache is only an optimisation: the default tiles then */ }
    }
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
