// Matmul tile autotune: every candidate is bit-identical to its family's default tiles (the determinism
// promise: a cached choice must never change a result), the per-adapter cache file round-trips and ignores
// what is not its own, and tuneMatmul measures without leaving a trace on the backend. No speed is asserted.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Tensor, fromArray, linear, matmul, matmulVariantFor, read, tidy } from '../../src/index.js';
import { type KernelOptions, type KernelOptionsPatch, defaultKernelOptions, withKernelOptions } from '../../src/backend/kernel-options.js';
import {
  type TunableBackend, type TunedKernel, applyCachedMatmulTiles, cachedMatmulTiles, matmulCacheKey, matmulCachePath, matmulCandidates, saveMatmulTiles,
} from '../../src/backend/webgpu/autotune.js';
import type { KernelCall } from '../../src/backend/gpu-context.js';
import { tuneMatmul } from '../../src/ops/autotune.js';
import { gpu } from '../support/devices.js';
import { seededValues } from '../support/oracle.js';

const families: TunedKernel[] = ['registers', 'subgroups', 'shared'];

/** Whether this device runs `family` when asked to (subgroups needs 8-wide subgroups). */
const runs = (family: TunedKernel): boolean => {
  if (gpu === null) return false;
  const prev = gpu.setKernelOptions({ matmul: { variant: family } });
  try { return matmulVariantFor(gpu) === family; } finally { gpu.setKernelOptions(prev); }
};

describe('matmul tile candidates', () => {
  it('are valid kernel options, distinct, 4–8 per family, the default first', () => {
    for (const k of families) {
      const c = matmulCandidates(k);
      expect(c[0]).toEqual(defaultKernelOptions.matmul.tiles[k]);
      expect(c.length).toBeGreaterThanOrEqual(4);
      expect(c.length).toBeLessThanOrEqual(8);
      expect(new Set(c.map((t) => JSON.stringify(t))).size).toBe(c.length);
      for (const t of c) expect(() => withKernelOptions(defaultKernelOptions, { matmul: { tiles: { [k]: t } } })).not.toThrow();
    }
  });
});

// op(a)·op(b) cases: M, N ragged against every tile (each rounded up to a multiple of 4 only where the
// vec4 kernels need it: M under Aᵀ, N under B), K = 4, 12, 100, 516, K odd under Aᵀ·B, batched, broadcast.
interface Case { name: string; run: () => Tensor[] }
const up4 = (n: number) => Math.ceil(n / 4) * 4;
/** The cases; `t` makes an input of a shape (seeded in call order, so the same order gives the same inputs). */
function cases(t: (shape: number[]) => Tensor = () => { throw new Error('names only'); }): Case[] {
  const out: Case[] = [];
  const add = (M0: number, N0: number, K: number, transA: boolean, transB: boolean, ba: number[] = [], bb: number[] = []) => {
    const M = transA ? up4(M0) : M0, N = transB ? N0 : up4(N0);
    const sa = [...ba, ...(transA ? [K, M] : [M, K])], sb = [...bb, ...(transB ? [N, K] : [K, N])];
    out.push({ name: `${JSON.stringify(sa)}${transA ? 'ᵀ' : ''}·${JSON.stringify(sb)}${transB ? 'ᵀ' : ''}`, run: () => [matmul(t(sa), t(sb), { transA, transB })] });
  };
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      add(37, 45, 4, transA, transB);
      add(70, 131, 12, transA, transB);
      add(133, 66, 100, transA, transB);
      add(33, 21, 516, transA, transB);
      add(21, 29, 36, transA, transB, [3], [3]);
      add(19, 13, 20, transA, transB, [2, 3], [3]);
    }
  }
  add(68, 36, 13, true, false); // K not a multiple of 4: the last chunk is padded with zeros
  add(41, 36, 7, true, false);
  out.push({ name: 'linear + bias + GELU', run: () => [linear(t([2, 37, 68]), t([45, 68]), t([45]), { act: 'gelu' })] });
  return out;
}

/** The bits of every case's outputs under the given tiles (same seeds each call: same inputs). */
async function outputs(family: TunedKernel, tiles: KernelOptions['matmul']['tiles'][TunedKernel]): Promise<{ bits: Uint32Array[]; kernels: Set<string> }> {
  const prev = gpu!.setKernelOptions({ matmul: { variant: family, tiles: { [family]: tiles } } });
  const kernels = new Set<string>();
  const real = gpu!.dispatch.bind(gpu!);
  const spy = vi.spyOn(gpu!, 'dispatch').mockImplementation((call: KernelCall) => { kernels.add(call.kernel); real(call); });
  let seed = 1;
  const t = (shape: number[]): Tensor => fromArray(seededValues(shape.reduce((x, y) => x * y, 1), seed++), shape, { backend: gpu! });
  const bits: Uint32Array[] = [];
  try {
    for (const c of cases(t)) {
      for (const y of tidy(c.run)) { bits.push(new Uint32Array((await read(y) as Float32Array).slice().buffer)); y.dispose(); }
    }
  } finally {
    spy.mockRestore();
    gpu!.setKernelOptions(prev);
  }
  return { bits, kernels };
}

// The family this adapter's matmul uses (the one tuneMatmul tunes here); DAS_AUTOTUNE_ALL=1 checks every family
// the adapter can run (each costs minutes with a cold shader cache on a loaded lavapipe).
const checked = gpu === null ? [] : process.env.DAS_AUTOTUNE_ALL === '1' ? families.filter(runs) : [matmulVariantFor(gpu)];

describe('autotune candidates are bit-identical to the default tiles', () => {
  it.skipIf(gpu === null)(`${checked.join(', ')}: every candidate, every case, every bit`, async () => {
    for (const family of checked) {
      const names = cases().map((c) => c.name);
      const want = await outputs(family, matmulCandidates(family)[0]);
      expect([...want.kernels].filter((k) => k.startsWith('matmul'))).toEqual([family === 'subgroups' ? 'matmul-subgroup' : 'matmul']);
      const differ: string[] = [];
      for (const tiles of matmulCandidates(family).slice(1)) {
        const got = await outputs(family, tiles);
        got.bits.forEach((b, i) => {
          const n = b.reduce((s, v, j) => s + +(v !== want.bits[i][j]), 0);
          if (n > 0 || b.length !== want.bits[i].length) differ.push(`${JSON.stringify(tiles)} ${names[i]}: ${n} of ${b.length} elements differ`);
        });
      }
      expect(differ).toEqual([]);
    }
    expect(checked.length).toBeGreaterThan(0);
  }, 600_000); // a cold shader cache compiles ~35 pipelines per family: minutes on a loaded lavapipe

  it.skipIf(!runs('registers') || !runs('shared'))('the check can fail: another summation order (shared: k one at a time) changes bits', async () => {
    const [r, s] = [await outputs('registers', matmulCandidates('registers')[0]), await outputs('shared', matmulCandidates('shared')[0])];
    const differing = r.bits.reduce((n, b, i) => n + b.reduce((m, v, j) => m + +(v !== s.bits[i][j]), 0), 0);
    expect(differing).toBeGreaterThan(1000);
  }, 600_000);
});

/** A stand-in backend for the cache: an adapter description and kernel options. */
function fakeBackend(description = 'llvmpipe (LLVM 15.0.7, 256 bits)'): TunableBackend & { kernels: KernelOptions } {
  return {
    opened: { info: { vendor: 'mesa', architecture: '', device: '', description, backend: 'vulkan' } },
    kernels: defaultKernelOptions,
    setKernelOptions(p: KernelOptionsPatch) { this.kernels = withKernelOptions(this.kernels, p); },
  };
}

describe('the matmul tile cache', () => {
  const saved = process.env.XDG_CACHE_HOME;
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'das-autotune-')); process.env.XDG_CACHE_HOME = dir; });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME; else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a choice per adapter and family, written atomically, and applies it', () => {
    const be = fakeBackend(), file = join(dir, 'das-webgpu', 'matmul-tiles.json');
    expect(matmulCachePath()).toBe(file);
    expect(cachedMatmulTiles(be)).toBeNull();                  // no file yet
    expect(applyCachedMatmulTiles(be)).toBeNull();
    expect(be.kernels).toBe(defaultKernelOptions);
    const reg = matmulCandidates('registers')[2], sg = matmulCandidates('subgroups')[1];
    expect(saveMatmulTiles(be, { kernel: 'registers', chosen: reg, defaultMs: 10, chosenMs: 8 })).toBe(file);
    expect(saveMatmulTiles(be, { kernel: 'subgroups', chosen: sg, defaultMs: 9, chosenMs: 7 })).toBe(file);
    expect(readdirSync(join(dir, 'das-webgpu'))).toEqual(['matmul-tiles.json']);   // no temporary file left
    expect(cachedMatmulTiles(be)).toEqual({ registers: reg, subgroups: sg });
    expect(cachedMatmulTiles(fakeBackend('another adapter'))).toBeNull();
    expect(applyCachedMatmulTiles(be)).toEqual({ registers: reg, subgroups: sg });
    expect(be.kernels.matmul.tiles).toEqual({ ...defaultKernelOptions.matmul.tiles, registers: reg, subgroups: sg });
    expect(be.kernels.matmul.variant).toBe('auto');
    expect(() => saveMatmulTiles(be, { kernel: 'registers', chosen: { ...reg, tm4: 3 }, defaultMs: 1, chosenMs: 1 })).toThrow(/not a registers candidate/);
  });

  it('ignores a corrupt file, another kernel hash, and tiles that are not candidates', () => {
    const be = fakeBackend(), file = join(dir, 'das-webgpu', 'matmul-tiles.json');
    const reg = matmulCandidates('registers')[1];
    saveMatmulTiles(be, { kernel: 'registers', chosen: reg, defaultMs: 2, chosenMs: 1 });
    writeFileSync(file, '{"not json');
    expect(cachedMatmulTiles(be)).toBeNull();
    expect(applyCachedMatmulTiles(be)).toBeNull();
    expect(be.kernels).toBe(defaultKernelOptions);
    // Saving over a corrupt file starts afresh.
    expect(saveMatmulTiles(be, { kernel: 'registers', chosen: reg, defaultMs: 2, chosenMs: 1 })).toBe(file);
    expect(cachedMatmulTiles(be)).toEqual({ registers: reg });
    const key = matmulCacheKey(be);
    expect(key).toMatch(/ \| kernels [0-9a-f]{8}$/);
    writeFileSync(file, JSON.stringify({ [key.replace(/[0-9a-f]{8}$/, 'deadbeef')]: { tiles: { registers: reg } } }));
    expect(cachedMatmulTiles(be)).toBeNull();              // the kernels changed since it was measured
    writeFileSync(file, JSON.stringify({ [key]: { tiles: { registers: { ...reg, tm4: 3 }, subgroups: 'x' } } }));
    expect(cachedMatmulTiles(be)).toBeNull();
    writeFileSync(file, JSON.stringify([1, 2]));
    expect(cachedMatmulTiles(be)).toBeNull();
    expect(existsSync(file)).toBe(true);
  });
});

describe('tuneMatmul', () => {
  it.skipIf(!gpu)('returns one of its candidates and leaves the kernel options as they were', async () => {
    const kernel = matmulVariantFor(gpu!);
    const prev = gpu!.setKernelOptions({ matmul: { tiles: { [kernel]: matmulCandidates(kernel)[1] } } });
    const before = gpu!.kernels;
    try {
      const r = await tuneMatmul(gpu!, { shapes: [[40, 16, 24], [9, 8, 68]], reps: 1, margin: 0 });
      expect(gpu!.kernels).toEqual(before);
      expect(r.kernel).toBe(kernel);
      expect(r.adapterKey).toBe(matmulCacheKey(gpu!));
      expect(r.table.map((x) => x.tiles)).toEqual(matmulCandidates(kernel));
      expect(matmulCandidates(kernel)).toContainEqual(r.chosen);
      for (const row of r.table) {
        expect(row.ms).toHaveLength(2);
        for (const ms of row.ms) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }
      expect(r.defaultMs).toBe(r.table[0].score);
      expect(r.chosenMs).toBe(Math.min(...r.table.map((x) => x.score)));
      expect(() => withKernelOptions(defaultKernelOptions, { matmul: { tiles: { [kernel]: r.chosen } } })).not.toThrow();
      // A margin no candidate can beat keeps the default.
      const d = await tuneMatmul(gpu!, { shapes: [[9, 8, 68]], reps: 1, margin: 1 });
      expect(d.chosen).toEqual(matmulCandidates(kernel)[0]);
      expect(d.chosenMs).toBe(d.defaultMs);
      expect(gpu!.kernels).toEqual(before);
    } finally {
      gpu!.setKernelOptions(prev);
    }
  }, 300_000);
});
