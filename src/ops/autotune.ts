// Matmul tile autotune, the measuring half (the candidates and the per-adapter cache are in
// backend/webgpu/autotune.ts). tuneMatmul times every candidate tile configuration of the kernel family
// this backend runs on a few matmul shapes and picks the fastest; it only measures and reports (saving
// the choice is saveMatmulTiles, run by bench/autotune.ts). Every candidate gives bit-identical results,
// so the choice can only change speed.
import type { MatmulTiles } from '../backend/kernel-options.js';
import { type TunedKernel, matmulCacheKey, matmulCandidates } from '../backend/webgpu/autotune.js';
import type { WebGpuBackend } from '../backend/webgpu/webgpu.js';
import { fromArray, read } from '../tensor/tensor.js';
import { matmul, matmulVariantFor } from './matmul.js';

/** A product [M×K]·[K×N]. */
export type MatmulShape = readonly [M: number, K: number, N: number];

/** The transformer products of bench/matmul.ts: x·W for 1024 tokens (d 128, 4·d 512, vocabulary 2000), and 1024³. */
export const tuneShapes: readonly MatmulShape[] = [[1024, 128, 512], [1024, 512, 128], [1024, 128, 2000], [1024, 1024, 1024]];

export interface TuneOptions {
  /** Products to time (default tuneShapes). */
  shapes?: readonly MatmulShape[];
  /** Timed repeats per candidate and shape, after one warm-up (default 5); the median counts. */
  reps?: number;
  /** Another candidate replaces the default only if its score is lower by more than this fraction (default 0.02: noise must not pick). */
  margin?: number;
  /** Progress lines (one per shape). */
  log?: (line: string) => void;
}

export interface TuneResult {
  kernel: TunedKernel;
  adapterKey: string;
  shapes: MatmulShape[];
  /** The fastest candidate, or the default unless that is faster by more than the margin. */
  chosen: MatmulTiles;
  /** Score (sum over shapes of the median ms) of the default tiles and of the chosen ones. */
  defaultMs: number;
  chosenMs: number;
  /** Every candidate, the default first: median ms per shape (in `shapes` order) and their sum. */
  /** Per candidate: median ms per shape and their sum; `differs` (never chosen) where its bits differed from the default's here. */
  table: { tiles: MatmulTiles; ms: number[]; score: number; differs?: boolean }[];
}

/** Deterministic inputs in [-1, 1) (the values do not matter for timing, only that they are not all zero). */
const inputs = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 2003) / 1001.5 - 1);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Times every candidate of the family matmulVariantFor(gpu) picks; leaves the backend's kernel options as
 * they were. Each repeat times every candidate in turn (interleaved, so other load on the machine hits
 * them alike), each run forced to completion with gpu.sync(). Measures only: nothing is saved or applied.
 */
export async function tuneMatmul(gpu: WebGpuBackend, o: TuneOptions = {}): Promise<TuneResult> {
  const kernel = matmulVariantFor(gpu);
  const shapes = [...(o.shapes ?? tuneShapes)];
  const reps = Math.max(1, Math.floor(o.reps ?? 5));
  const candidates = matmulCandidates(kernel);
  const times = candidates.map(() => shapes.map(() => [] as number[]));
  const differs = new Set<number>(); // candidates whose output bits differ from the default's here: never chosen
  let want: Uint32Array | undefined;
  const before = gpu.kernels;
  try {
    for (const [s, [M, K, N]] of shapes.entries()) {
      const a = fromArray(inputs(M * K), [M, K], { backend: gpu }), b = fromArray(inputs(K * N), [K, N], { backend: gpu });
      try {
        for (let r = -1; r < reps; r++) { // r = -1: the warm-up (compiles each candidate's pipeline)
          for (const [c, tiles] of candidates.entries()) {
            if (differs.has(c)) continue;
            gpu.setKernelOptions({ matmul: { tiles: { [kernel]: tiles } } });
            await gpu.sync();
            const t0 = performance.now();
            const y = matmul(a, b);
            await gpu.sync();
            if (r >= 0) times[c][s].push(performance.now() - t0);
            else {
              // On this adapter, a candidate must give the default's bits (its compiler could fuse differently).
              const bits = new Uint32Array((await read(y) as Float32Array).slice().buffer);
              if (c === 0) want = bits;
              else if (bits.length !== want!.length || bits.some((v, i) => v !== want![i])) differs.add(c);
            }
            y.dispose();
          }
        }
      } finally {
        a.dispose();
        b.dispose();
      }
      o.log?.(`[${M}×${K}]·[${K}×${N}]: ${candidates.length} candidates × ${reps} repeats`);
    }
  } finally {
    gpu.setKernelOptions(before);
  }
  const table = candidates.map((tiles, c) => {
    const ms = differs.has(c) ? shapes.map(() => NaN) : times[c].map(median);
    return { tiles, ms, score: differs.has(c) ? Infinity : ms.reduce((x, y) => x + y, 0), ...(differs.has(c) ? { differs: true } : {}) };
  });
  const fastest = table.reduce((x, y) => (y.score < x.score ? y : x));
  const best = fastest.score < table[0].score * (1 - (o.margin ?? 0.02)) ? fastest : table[0];
  return { kernel, adapterKey: matmulCacheKey(gpu), shapes, chosen: best.tiles, defaultMs: table[0].score, chosenMs: best.score, table };
}
