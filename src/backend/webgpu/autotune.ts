// Matmul tile autotune, the backend half: the candidate tiles of each kernel family, and the per-adapter
// cache of the measured choice (tuneMatmul in ops/autotune.ts measures; it needs the matmul op, a floor
// above this one). webgpu() applies the cached choice when it opens the device, unless DAS_AUTOTUNE=off;
// nothing is ever measured unless asked (`npx vite-node bench/autotune.ts`).
//
// Determinism: every candidate gives results bit-identical to the family's default tiles. In
// kernels/matmul.wgsl and matmul-subgroup.wgsl each output element is accumulated by one thread, in k
// order, in the same expression whatever the tiles (registers, subgroups: acc += a0·b0 + a1·b1 + a2·b2 +
// a3·b3 per 4-wide k chunk; shared: acc += a·b one k at a time, the k-slice BK only adding +0 terms past
// K). Tiles change which thread computes an element, never how. test/backend/autotune.test.ts checks
// the bits of every candidate against the default (the compiler could still contract mul+add differently).
//
// The cache is a JSON file, Node only: $XDG_CACHE_HOME/das-webgpu/matmul-tiles.json (~/.cache without
// XDG_CACHE_HOME), keyed by the adapter and a hash of the matmul kernels, so a kernel change or another
// GPU finds nothing. No Node built-in is imported (the core runs in a browser, where there is no cache):
// fs, os and path come from process.getBuiltinModule at run time, as in dawn-node.ts.
import { type MatmulKernel, type MatmulTiles, type KernelOptionsPatch, defaultKernelOptions, withKernelOptions } from '../kernel-options.js';
import type { AdapterDescription } from './device.js';
import { builtin, envVar, nodeProcess } from './dawn-node.js';
import { kernelSources } from './kernel-sources.js';

/** The kernel families whose tiles are tuned ('scalar', the any-layout fallback, is not). */
export type TunedKernel = Exclude<MatmulKernel, 'scalar'>;
/** The cached choice: tiles per family (a family never tuned on this adapter is absent). */
export type MatmulTilesChoice = Partial<Record<TunedKernel, MatmulTiles>>;
/** What the cache needs of a backend (WebGpuBackend has it). */
export interface TunableBackend {
  readonly opened: { readonly info: AdapterDescription };
  setKernelOptions(patch: KernelOptionsPatch): unknown;
}

// Changes from each family's default tiles: block per thread (tm4×tn4 vec4s), threads per workgroup
// (wgx×wgy), k-slice (bk, shared only). subgroups fixes tm4 = 2 and wgx = 8 (one 8-wide subgroup per row).
const VARIATIONS: Record<TunedKernel, Partial<MatmulTiles>[]> = {
  registers: [{ tm4: 1, tn4: 1 }, { tm4: 1, tn4: 2 }, { tm4: 2, tn4: 2 }, { tm4: 4, tn4: 1 }, { wgx: 16, wgy: 8 }, { wgx: 8, wgy: 4 }],
  subgroups: [{ tn4: 1 }, { tn4: 4 }, { wgy: 4 }, { wgy: 16 }, { tn4: 1, wgy: 16 }],
  shared: [{ bk: 8 }, { bk: 32 }, { tm4: 2, tn4: 2, wgx: 8, wgy: 8 }, { tm4: 2, tn4: 2, bk: 8 }, { tm4: 2, tn4: 2 }],
};

/** Whether the kernel options accept these tiles for the family (kernel-options.ts checkTiles). */
function valid(kernel: TunedKernel, tiles: MatmulTiles): boolean {
  try { withKernelOptions(defaultKernelOptions, { matmul: { tiles: { [kernel]: tiles } } }); return true; } catch { return false; }
}

/** The tile configurations autotune tries for a family, the default first; all valid and bit-identical to it. */
export function matmulCandidates(kernel: TunedKernel): MatmulTiles[] {
  const base = defaultKernelOptions.matmul.tiles[kernel];
  return [base, ...VARIATIONS[kernel].map((v) => ({ ...base, ...v }))].filter((t) => valid(kernel, t));
}

const sameTiles = (a: MatmulTiles, b: MatmulTiles): boolean => a.tm4 === b.tm4 && a.tn4 === b.tn4 && a.wgx === b.wgx && a.wgy === b.wgy && a.bk === b.bk;

/** FNV-1a (32 bits) as hex: enough to notice that a kernel changed. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The cache key: the adapter's description and a hash of the matmul kernels' sources. */
export function matmulCacheKey(gpu: TunableBackend): string {
  const i = gpu.opened.info;
  const kernels = ['matmul', 'matmul-subgroup'].map((k) => kernelSources[k] ?? '').join('\n');
  return `${i.vendor} | ${i.architecture} | ${i.device} | ${i.description} | ${i.backend} | kernels ${hash(kernels)}`;
}

// ---- The cache file (Node only) ----

interface Fs {
  readFileSync(p: string, enc: 'utf8'): string;
  writeFileSync(p: string, s: string): void;
  renameSync(a: string, b: string): void;
  mkdirSync(p: string, o: { recursive: boolean }): unknown;
  unlinkSync(p: string): void;
}

/** The cache file's path, or null where there is no file system (a browser). */
export function matmulCachePath(): string | null {
  const os = builtin<{ homedir(): string }>('os'), path = builtin<{ join(...p: string[]): string }>('path');
  if (os === undefined || path === undefined) return null;
  return path.join(envVar('XDG_CACHE_HOME') || path.join(os.homedir(), '.cache'), 'das-webgpu', 'matmul-tiles.json');
}

interface CacheEntry { tiles: MatmulTilesChoice; measured?: Partial<Record<TunedKernel, { defaultMs: number; chosenMs: number; at: string }>> }
type CacheFile = Record<string, CacheEntry>;

/** The whole cache file; empty when absent, unreadable or not a JSON object. */
function readCache(file: string): CacheFile {
  try {
    const v: unknown = JSON.parse(builtin<Fs>('fs')!.readFileSync(file, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as CacheFile : {};
  } catch {
    return {};
  }
}

/**
 * The cached choice for this adapter and these kernels, or null (no file, a corrupt one, another key).
 * A family's tiles count only if they are one of its current candidates (so bit-identical to the default).
 */
export function cachedMatmulTiles(gpu: TunableBackend): MatmulTilesChoice | null {
  const file = matmulCachePath();
  if (file === null) return null;
  const tiles = readCache(file)[matmulCacheKey(gpu)]?.tiles;
  if (typeof tiles !== 'object' || tiles === null) return null;
  const out: MatmulTilesChoice = {};
  for (const k of ['registers', 'subgroups', 'shared'] as const) {
    const t = tiles[k];
    const c = typeof t === 'object' && t !== null ? matmulCandidates(k).find((x) => sameTiles(x, t)) : undefined;
    if (c !== undefined) out[k] = { ...c }; // the candidate itself: nothing else from the file
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** Applies the cached choice to the backend's kernel options; returns what it applied (null: nothing). */
export function applyCachedMatmulTiles(gpu: TunableBackend): MatmulTilesChoice | null {
  const choice = cachedMatmulTiles(gpu);
  if (choice !== null) gpu.setKernelOptions({ matmul: { tiles: choice } });
  return choice;
}

/**
 * Records a family's chosen tiles for this adapter (other keys and families are kept); returns the file
 * written, or null where there is no file system. Atomic: a temporary file renamed over the old one.
 */
export function saveMatmulTiles(gpu: TunableBackend, r: { kernel: TunedKernel; chosen: MatmulTiles; defaultMs: number; chosenMs: number }): string | null {
  const file = matmulCachePath(), fs = builtin<Fs>('fs'), path = builtin<{ dirname(p: string): string }>('path');
  if (file === null || fs === undefined || path === undefined) return null;
  if (!matmulCandidates(r.kernel).some((c) => sameTiles(c, r.chosen))) throw new Error(`autotune: ${JSON.stringify(r.chosen)} is not a ${r.kernel} candidate`);
  const cache = readCache(file), key = matmulCacheKey(gpu);
  const old: CacheEntry = typeof cache[key]?.tiles === 'object' && cache[key].tiles !== null ? cache[key] : { tiles: {} };
  cache[key] = {
    tiles: { ...old.tiles, [r.kernel]: r.chosen },
    measured: { ...old.measured, [r.kernel]: { defaultMs: r.defaultMs, chosenMs: r.chosenMs, at: new Date().toISOString() } },
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${nodeProcess()?.pid ?? 0}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(cache, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* never written */ }
    throw e;
  }
  return file;
}
