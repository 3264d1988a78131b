// Tensor: an immutable handle on reference-counted storage. Handles are released explicitly or by
// the scope (tidy) that created them; using a released handle throws.
import type { Backend } from './backend.js';
import { type DType, type HostArray, bytesPer, toHostArray } from './dtype.js';
import { type Shape, checkShape, fmt, sizeOf } from './shape.js';
import { onAllocate } from './scope.js';

export class ReleasedTensorError extends Error {
  override name = 'ReleasedTensorError';
}

/** Shared storage; reshapes and scope-escaping handles point at the same one. */
export interface Storage {
  refs: number;
  readonly handle: unknown;
  readonly backend: Backend;
  readonly dtype: DType;
  readonly size: number;
}

export const counters = { liveTensors: 0, liveStorages: 0, liveBytes: 0, peakBytes: 0 };
let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  #storage: Storage | null;
  /** Host copy of small integer inputs (token ids), so the GPU embedding backward can sort on the host. */
  hostMirror: Int32Array | undefined;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    storage: Storage,
    /** Value identity: aliases of one value share it (autodiff keys gradients by it). */
    readonly vid: number = -1,
    scoped = true,
  ) {
    this.size = sizeOf(shape);
    this.#storage = storage;
    if (this.vid === -1) this.vid = this.id;
    counters.liveTensors++;
    if (scoped) onAllocate(this);
  }

  get backend(): Backend { return this.storage.backend; }
  get released(): boolean { return this.#storage === null; }

  get storage(): Storage {
    if (this.#storage === null) {
      throw new ReleasedTensorError(`tensor #${this.id} ${fmt(this.shape)} ${this.dtype} was released and cannot be used`);
    }
    return this.#storage;
  }

  /** Drops this handle; frees the storage when no handle is left. Idempotent. */
  dispose(): void {
    const s = this.#storage;
    if (s === null) return;
    this.#storage = null;
    counters.liveTensors--;
    if (--s.refs === 0) freeStorage(s);
  }

  /** A fresh handle on the same value (owned by the current scope); see alias(). */
  newHandle(): Tensor { return alias(this); }

  toString(): string { return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.released ? ', released' : ''})`; }
}

export function newStorage(backend: Backend, dtype: DType, size: number, handle?: unknown): Storage {
  const bytes = size * bytesPer(dtype);
  counters.liveStorages++;
  counters.liveBytes += bytes;
  counters.peakBytes = Math.max(counters.peakBytes, counters.liveBytes);
  return { refs: 0, handle: handle ?? backend.alloc(dtype, size), backend, dtype, size };
}

function freeStorage(s: Storage): void {
  counters.liveStorages--;
  counters.liveBytes -= s.size * bytesPer(s.dtype);
  s.backend.free(s.handle, s.dtype, s.size);
}

/** A new, uninitialised tensor (backends and ops fill it). */
export function emptyTensor(backend: Backend, shape: Shape, dtype: DType): Tensor {
  const s = newStorage(backend, dtype, sizeOf(shape));
  s.refs++;
  return new Tensor(shape, dtype, s);
}

/** Another handle on the same storage and value, with its own lifetime (scope escapes, the tape). */
export function alias(t: Tensor, shape: Shape = t.shape, sameValue = true, scoped = true): Tensor {
  const s = t.storage;
  if (sizeOf(shape) !== t.size) throw new Error(`alias: size of ${fmt(shape)} differs from ${fmt(t.shape)}`);
  s.refs++;
  const a = new Tensor(shape, t.dtype, s, sameValue ? t.vid : -1, scoped);
  a.hostMirror = t.hostMirror;
  return a;
}

let defaultBackend: Backend | undefined;

/**
 * The backend used by creation functions when none is named: the one given to setDefaultBackend.
 * There is no implicit default (the choice of backend is explicit); none set is an error that says so.
 */
export function getDefaultBackend(): Backend {
  if (defaultBackend === undefined) throw new Error('no backend given and no default set: pass { backend } or call setDefaultBackend(cpu()) (or the result of await webgpu())');
  return defaultBackend;
}
export function setDefaultBackend(b: Backend): void { defaultBackend = b; }

export interface CreateOptions { dtype?: DType; backend?: Backend }

/** A tensor from host values (row-major). `shape` defaults to [values.length]. */
export function fromArray(values: ArrayLike<number> | number, shape?: Shape, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  const backend = opts.backend ?? getDefaultBackend();
  const vals = typeof values === 'number' ? [values] : values;
  const sh = shape ?? (typeof values === 'number' ? [] : [vals.length]);
  checkShape('fromArray', sh);
  if (sizeOf(sh) !== vals.length) throw new Error(`fromArray: ${vals.length} values do not fill shape ${fmt(sh)}`);
  const data = toHostArray(dtype, vals);
  const s = newStorage(backend, dtype, data.length, backend.upload(dtype, data));
  s.refs++;
  const t = new Tensor(sh, dtype, s);
  if (dtype === 'i32' && backend.name !== 'cpu') t.hostMirror = data as Int32Array;
  return t;
}

/** Reads a tensor back to the host. Forces pending GPU work. */
export function read(t: Tensor): Promise<HostArray> {
  return t.backend.read(t);
}

/** Reads as a plain number array (convenient in tests and logs). */
export async function toArray(t: Tensor): Promise<number[]> {
  return Array.from(await read(t));
}

export async function readScalar(t: Tensor): Promise<number> {
  if (t.size !== 1) throw new Error(`readScalar: tensor has shape ${fmt(t.shape)}, expected one element`);
  return (await read(t))[0];
}

export type { HostArray };
