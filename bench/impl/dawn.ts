// The Dawn GPU object the anchors share (our library opens its own in src/backend/webgpu/device.ts), and the
// navigator.gpu shim jax-js looks for. The module variable is the strong reference that keeps Dawn alive:
// if the object create() returns is collected, Dawn aborts.
import { create, globals } from 'webgpu';
import { noteGpuActivity } from '../../src/backend/webgpu/dawn-node.js';

let gpu: GPU | undefined;

export function dawnGpu(): GPU {
  if (gpu === undefined) {
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as browser code expects
    gpu = create([]);
    // Our polite wait (dawn-node.ts) paces every Dawn tick of the process, the anchors' included: give their
    // submits the same spin window after each submit as ours get, so both wait alike.
    const proto = (globals as unknown as { GPUQueue: { prototype: { submit: (...a: unknown[]) => unknown } } }).GPUQueue.prototype;
    const submit = proto.submit;
    proto.submit = function (this: unknown, ...a: unknown[]) { const r = submit.apply(this, a); noteGpuActivity(); return r; };
    const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as { gpu?: GPU; userAgent?: string };
    if ((globalThis as { navigator?: object }).navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    nav.userAgent ??= `Node.js/${process.version}`;
  }
  return gpu;
}

/** Drops the reference so the process can exit (after every anchor has released its device). */
export function dropDawnGpu(): void { gpu = undefined; }
