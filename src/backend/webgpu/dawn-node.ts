// What Dawn's Node bindings (the `webgpu` package) need beyond WebGPU, used only under Node (device.ts
// calls these only where it loaded Dawn; in a browser they are never reached). No Node built-in is
// imported: the few that are needed come from process.getBuiltinModule at run time, when it exists.
//
// 1. A synchronous event pump. dawn.node learns that GPU work has finished (and recycles the resources
//    of finished command buffers) only in instance.ProcessEvents(), which it calls from a setImmediate
//    chain while some promise of it (mapAsync, onSubmittedWorkDone, …) is pending. A loop that records
//    kernels without ever awaiting never lets that chain run, so nothing is ever known complete. The
//    pump interposes on globalThis.setImmediate before Dawn is created, remembers the callbacks Dawn
//    schedules, and pumpEvents() runs the pending ones at once, as the event loop would have, cancelling
//    the scheduled run (so no tick runs twice and no extra chain starts). If a later `webgpu` stops
//    scheduling through the global setImmediate, pumpEvents() simply returns false.
// 2. Quiet adapter discovery. Dawn's Vulkan backend prints "Warning: maxDynamic{Uniform,Storage}Buffers-
//    PerPipelineLayout artificially reduced from 1000000 to 16 …" with fprintf(stderr) from inside
//    requestAdapter (it clamps the physical device's own limits, whatever the device later asks for), so
//    no requested limit avoids it. withStderrFiltered() points fd 2 at a temporary file for the
//    synchronous part of that call and writes back every line except those two.

type Tick = () => void;
interface Pending { tick: Tick; handle: unknown }

let installed = false;
/**
 * 3. A polite wait. While anything of Dawn's is pending, its tick re-schedules itself with setImmediate, so
 *    a process awaiting the GPU spins one core at 100 % — on a software adapter (lavapipe), the very cores
 *    that run the kernels. There (device.ts turns it on for CPU adapters only), once `spinMs` have passed
 *    since the last submit (noteGpuActivity), each tick first sleeps `pauseMs`: a wait then costs about
 *    that much latency more (plus the wake-up) and leaves the cores to the GPU's threads. Every Dawn tick
 *    of the process is affected, other libraries' devices included. pauseMs 0 is the plain spin, the
 *    default on hardware GPUs; DAS_DAWN_WAIT=spin or =polite forces either.
 */
export const idle = { spinMs: 0.5, pauseMs: 0 };
/** The pause of the polite wait (ms). */
export const politePauseMs = 0.2;
let spinUntil = 0;
/** Called at each submit: Dawn's ticks may spin (no sleep) for the next idle.spinMs. */
export function noteGpuActivity(): void { spinUntil = performance.now() + idle.spinMs; }

let pumping = false;
let pending: Pending[] = [];
let realClearImmediate: ((h: unknown) => void) | undefined;

const nativeSource = /^function \(\) \{ \[native code\] \}$/;

/** Dawn's tick: an unnamed native function of no parameters, scheduled with no arguments. */
function isDawnTick(fn: unknown, extraArgs: number): fn is Tick {
  return extraArgs === 0 && typeof fn === 'function' && fn.name === '' && fn.length === 0 &&
    Object.hasOwn(fn, 'prototype') && nativeSource.test(Function.prototype.toString.call(fn));
}

/** Interposes on globalThis.setImmediate (once per process). Call before the Dawn GPU object is created. */
export function installEventPump(): void {
  if (installed) return;
  const g = globalThis as unknown as Record<string, unknown>;
  const real = g.setImmediate as ((fn: (...a: unknown[]) => void, ...args: unknown[]) => unknown) | undefined;
  const clear = g.clearImmediate as ((h: unknown) => void) | undefined;
  if (typeof real !== 'function' || typeof clear !== 'function') return;
  installed = true;
  realClearImmediate = clear;
  const setImmediate = function (this: unknown, fn: (...a: unknown[]) => void, ...args: unknown[]): unknown {
    if (!isDawnTick(fn, args.length)) return real.call(this, fn, ...args);
    const entry: Pending = { tick: fn, handle: undefined };
    entry.handle = real.call(this, () => {
      const i = pending.indexOf(entry);
      if (i < 0) return; // already run by pumpEvents()
      pending.splice(i, 1);
      if (idle.pauseMs > 0 && performance.now() > spinUntil) sleepSync(idle.pauseMs); // waiting: give the core to the GPU's threads
      runTicks([entry]);
    });
    pending.push(entry);
    return entry.handle;
  };
  // Keep what hangs off the real one (util.promisify.custom, for timers/promises and promisify).
  for (const k of Reflect.ownKeys(real)) {
    if (k === 'length' || k === 'name' || k === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(real, k);
    if (d !== undefined) Object.defineProperty(setImmediate, k, d);
  }
  Object.defineProperty(setImmediate, 'name', { value: 'setImmediate' });
  g.setImmediate = setImmediate;
}

/** Turns the polite wait on (a CPU adapter) or off, unless DAS_DAWN_WAIT=spin|polite says which. */
export function setPoliteWait(on: boolean): void {
  const env = envVar('DAS_DAWN_WAIT');
  idle.pauseMs = (env === 'polite' || (env !== 'spin' && on)) ? politePauseMs : 0;
}

/** Runs every tick (each one's run is no longer scheduled: none may be skipped), then rethrows the first error. */
function runTicks(entries: readonly Pending[]): void {
  pumping = true;
  let failed = false, error: unknown;
  try {
    for (const e of entries) {
      try { e.tick(); } catch (err) { if (!failed) { failed = true; error = err; } }
    }
  } finally {
    pumping = false;
  }
  if (failed) throw error;
}

/**
 * Runs Dawn's pending event processing now (completes finished maps and onSubmittedWorkDone promises,
 * recycles finished command buffers). False when it cannot: no Dawn tick is pending (nothing of Dawn's is
 * awaited), the pump is not installed, or this is called from inside Dawn's own event processing.
 */
export function pumpEvents(): boolean {
  if (pumping || pending.length === 0 || realClearImmediate === undefined) return false;
  const entries = pending;
  pending = [];
  for (const e of entries) realClearImmediate(e.handle);
  runTicks(entries);
  return true;
}

const sleeper = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

/** Blocks the thread for about `ms` milliseconds (Node's main thread may; a browser's may not: false there). */
export function sleepSync(ms: number): boolean {
  if (sleeper === undefined) return false;
  try {
    Atomics.wait(sleeper, 0, 0, ms);
    return true;
  } catch {
    return false;
  }
}

/** The two lines Dawn prints while clamping lavapipe's (and RADV's, …) dynamic-buffer limits. */
export const clampWarning = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

interface NodeFs {
  constants: Record<string, number>;
  fstatSync(fd: number): { isFIFO(): boolean; isCharacterDevice(): boolean };
  openSync(path: string, flags: string | number): number;
  closeSync(fd: number): void;
  readFileSync(path: string, enc: 'utf8'): string;
  writeSync(fd: number, s: string): number;
  unlinkSync(path: string): void;
}

interface NodeProcess { env?: Record<string, string | undefined>; pid?: number; getBuiltinModule?: (n: string) => unknown }
/** Node's `process`, or undefined in a browser. */
export const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

/** A Node built-in module (process.getBuiltinModule), or undefined in a browser or on a Node without it. */
export function builtin<T>(name: string): T | undefined {
  try {
    return nodeProcess()?.getBuiltinModule?.(name) as T | undefined;
  } catch {
    return undefined;
  }
}

/** The environment variable `name` under Node (undefined in a browser). */
export const envVar = (name: string): string | undefined => nodeProcess()?.env?.[name];

/**
 * Runs `f` (synchronous: what Dawn prints is printed before it returns) with fd 2 pointed at a temporary
 * file, then restores fd 2 and writes back every captured line that `drop` does not match. Node has no
 * dup2, so fd 2 is closed and reopened (the lowest free descriptor, checked); this is done only where the
 * reopened descriptor is the same stream (a pipe, a terminal, /dev/null). Where stderr is a regular file
 * or a socket, or anything fails, `f` runs unfiltered.
 */
export function withStderrFiltered<T>(f: () => T, drop: RegExp = clampWarning): T {
  const fs = builtin<NodeFs>('node:fs');
  const os = builtin<{ tmpdir(): string }>('node:os');
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
  if (fs === undefined || os === undefined) return f();
  const c = fs.constants;
  // Write-only, never becoming a controlling terminal; the probe does not wait for a pipe's reader.
  const reopen = (c.O_WRONLY ?? 1) | (c.O_NOCTTY ?? 0);
  let saved: number;
  try {
    const st = fs.fstatSync(2);
    if (!st.isFIFO() && !st.isCharacterDevice()) return f();
    fs.closeSync(fs.openSync('/proc/self/fd/2', reopen | (c.O_NONBLOCK ?? 0)));
    saved = fs.openSync('/proc/self/fd/2', reopen);
  } catch {
    return f();
  }
  const tmp = `${os.tmpdir()}/das-webgpu-stderr-${pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  let swapped = false;
  try {
    fs.closeSync(2);
    const t = fs.openSync(tmp, 'w+');
    if (t !== 2) fs.closeSync(t); // another thread took fd 2 first: leave it, restore below
    else swapped = true;
  } catch {
    // fall through to the restore
  }
  try {
    return f();
  } finally {
    try {
      if (swapped) fs.closeSync(2);
      const r = fs.openSync(`/proc/self/fd/${saved}`, reopen);
      if (r !== 2) fs.closeSync(r);
    } catch {
      // stderr could not be restored; nothing sensible is left to report it to
    }
    try { fs.closeSync(saved); } catch { /* already closed */ }
    if (swapped) {
      try {
        const kept = fs.readFileSync(tmp, 'utf8').split('\n').filter((line, i, all) => !drop.test(line) && !(i === all.length - 1 && line === ''));
        if (kept.length > 0) fs.writeSync(2, `${kept.join('\n')}\n`);
      } catch {
        // the capture is lost; it held only what Dawn printed while finding adapters
      }
    }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
  }
}
