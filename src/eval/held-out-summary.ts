// Held-out MLM losses of `das run` (--held-out) summarised per method: the loss matrix L[t][k] averaged
// over seeds, the final row (or the diagonal), MLM forgetting, and their standard errors over the
// held-out batches (src/eval/stderr.ts); every continual method's forgetting is compared with NCL's,
// paired per batch. Also the few primitives report.ts shares with it.
import { join } from 'node:path';
import type { SequenceDomain } from '../data/validate.js';
import { type Matrix, averageMatrices, forgettingRate, mean } from './metrics.js';
import { GENERAL, type HeldOutBatches, readHeldOut, readHeldOutBatches } from './mlm-eval.js';
import { type BatchLoss, clusterStderr, independentMeanStderr, meanBatches, pairedBatches, weightedLoss } from './stderr.js';
import type { HeldOutStderr, HeldOutSummary } from './report.js';

/** How a method's end-task scores are read: a progressive matrix (continual: final row and forgetting), a model per domain (the diagonal), or one model for every task (MTL: the final row, no forgetting). */
export type ScoreKind = 'matrix' | 'diagonal' | 'final';
export const pickBy = (kind: ScoreKind) => (m: Matrix) => (kind === 'diagonal' ? m.map((row, k) => row[k]) : m[m.length - 1]);

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export const seedDir = (out: string, method: string, seed: number): string => join(out, method, `seed-${seed}`);

export const complete = (xs: readonly (number | null)[]): xs is number[] => xs.every((x) => x !== null);

/** Held-out MLM losses of a domain's model (written by mlm-eval.ts). */
export const HELD_OUT_FILE = 'mlm-eval.json';

/** mlm-eval.json of `method`'s model after domain t, seed `seed`. */
const heldOutFile = (out: string, method: string, seed: number, domains: readonly SequenceDomain[], t: number): string =>
  join(seedDir(out, method, seed), `${t}-${domains[t].name}`, HELD_OUT_FILE);

/** Per-batch held-out losses of one method's models, read once per (seed, domain): (seed, t) → by set name, or null. */
type BatchReader = (seed: number, t: number) => HeldOutBatches | null;
function batchReader(out: string, method: string, domains: readonly SequenceDomain[]): BatchReader {
  const cache = new Map<string, HeldOutBatches | null>();
  return (seed, t) => {
    const id = `${seed}/${t}`;
    if (!cache.has(id)) cache.set(id, readHeldOutBatches(heldOutFile(out, method, seed, domains, t)));
    return cache.get(id)!;
  };
}

/**
 * The seed mean's per-batch losses of the models after domain t on held-out set `name` (meanBatches);
 * null unless every seed has them on the same batches. Every seed and method is evaluated on the same
 * masked batches (the masking is fixed per text, mlm-eval.ts), so the seeds' errors are not independent:
 * averaging per batch first and taking the cluster standard error of that mean accounts for it, where
 * sqrt(Σ_s se_s²)/S would understate it (by up to √S when the seeds find the same batches hard).
 */
function seedMeanBatches(read: BatchReader, seeds: readonly number[], t: number, name: string): BatchLoss[] | null {
  const xs = seeds.map((seed) => read(seed, t)?.[name]);
  if (xs.length === 0 || !xs.every((x): x is BatchLoss[] => Array.isArray(x))) return null;
  try { return meanBatches(xs); } catch { return null; }
}

/**
 * MLM forgetting per batch: for each earlier domain k < T−1, the seed mean's paired per-batch differences
 * l_b(after the last domain) − l_b(after domain k) on domain k's held-out batches, whose token-weighted
 * mean is exactly L[T−1][k] − L[k][k]. Null unless every one is available (or with one domain).
 */
function forgettingBatches(read: BatchReader, domains: readonly SequenceDomain[], seeds: readonly number[]): BatchLoss[][] | null {
  const T = domains.length;
  if (T < 2) return null;
  const ds: BatchLoss[][] = [];
  for (let k = 0; k < T - 1; k++) {
    const last = seedMeanBatches(read, seeds, T - 1, domains[k].name), own = seedMeanBatches(read, seeds, k, domains[k].name);
    if (last === null || own === null) return null;
    try { ds.push(pairedBatches(last, own)); } catch { return null; }
  }
  return ds;
}

/**
 * Mean over the earlier domains k of per-domain differences (forgettingBatches), and its standard error.
 * Forgetting = (1/K) Σ_k F_k with F_k = weightedLoss(d^k), each F_k from domain k's own held-out text and
 * masks: the K estimates are independent (given the models), so Var = (1/K²) Σ_k Var(F_k) and
 * SE = sqrt(Σ_k se_k²)/K, se_k the cluster standard error of d^k around F_k. (Pooling the K batch lists
 * into one would be wrong: each F_k is normalised by its own domain's token count, not the pooled one.)
 */
function averageOverDomains(ds: readonly BatchLoss[][]): { mean: number; stderr: number } {
  return { mean: mean(ds.map(weightedLoss)), stderr: independentMeanStderr(ds.map(clusterStderr)) };
}

/** Seed-averaged held-out losses of one method; null unless every seed has them where the table needs them. */
export function heldOutSummary(out: string, method: string, domains: readonly SequenceDomain[], seeds: readonly number[], kind: ScoreKind): HeldOutSummary | null {
  const T = domains.length;
  const per = seeds.map((seed) => domains.map((_, t) => readHeldOut(heldOutFile(out, method, seed, domains, t))));
  const matrix = (p: (Record<string, number> | null)[]): Matrix => domains.map((_, t) => domains.map((d, k) => (k <= t ? p[t]?.[d.name] ?? null : null)));
  const mats = per.map(matrix);
  const pick = pickBy(kind);
  if (!mats.every((m) => complete(pick(m)))) return null;
  const fr = (m: Matrix) => {
    if (kind !== 'matrix' || T < 2) return null;
    try { return -(forgettingRate(m) ?? NaN); } catch { return null; }
  };
  const loss = averageMatrices(mats), final = pick(loss) as number[];
  const seedAvg = mats.map((m) => mean(pick(m) as number[])), seedFr = mats.map(fr);
  const forgetting = fr(loss);
  return {
    loss, general: domains.map((_, t) => { const g = per.map((p) => p[t]?.[GENERAL]); return g.every((x): x is number => typeof x === 'number') ? mean(g) : null; }),
    final, average: mean(final), forgetting,
    spread: seeds.length < 2 ? null : { average: std(seedAvg), forgetting: seedFr.every((x): x is number => x !== null) ? std(seedFr) : null },
    stderr: heldOutStderr(out, method, domains, seeds, kind, forgetting !== null),
  };
}

/** HeldOutSummary's `stderr` (see there); `withForgetting`: whether the summary has an MLM forgetting. */
function heldOutStderr(out: string, method: string, domains: readonly SequenceDomain[], seeds: readonly number[], kind: ScoreKind, withForgetting: boolean): HeldOutStderr | null {
  const T = domains.length, read = batchReader(out, method, domains);
  const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);
  // the cells of the final row (ONE: the diagonal), as pickBy reads them
  const final = domains.map((d, k) => {
    const b = seedMeanBatches(read, seeds, kind === 'diagonal' ? k : T - 1, d.name);
    return b === null ? NaN : clusterStderr(b);
  });
  if (!final.every(finite)) return null;
  const g = seedMeanBatches(read, seeds, T - 1, GENERAL), general = g === null ? NaN : clusterStderr(g);
  const fb = withForgetting ? forgettingBatches(read, domains, seeds) : null;
  const forgetting = fb === null ? NaN : averageOverDomains(fb).stderr;
  return { final, average: independentMeanStderr(final), general: finite(general) ? general : null, forgetting: finite(forgetting) ? forgetting : null };
}

/**
 * Seed mean of method A's MLM forgetting minus method B's (mean over k < T−1 of L[T−1][k] − L[k][k]),
 * and its standard error, paired per held-out batch: both methods' models are evaluated on the same
 * masked batches of domain k, so d_b = (l_b^A,last − l_b^A,k) − (l_b^B,last − l_b^B,k) (each seed-averaged
 * per batch, as in HeldOutSummary's `stderr`); the K domains are combined as independent estimates
 * (sqrt(Σ_k se_k²)/K). Null unless both methods have per-batch losses for every cell it needs, on the
 * same batches, with at least two batches per domain (and T ≥ 2). Meaningful for methods with a
 * progressive matrix (continual methods), whose models after domain k and after the last domain differ.
 */
export function forgettingDifference(out: string, methodA: string, methodB: string, domains: readonly SequenceDomain[], seeds: readonly number[]): { mean: number; stderr: number } | null {
  const a = forgettingBatches(batchReader(out, methodA, domains), domains, seeds), b = forgettingBatches(batchReader(out, methodB, domains), domains, seeds);
  if (a === null || b === null) return null;
  try {
    const r = averageOverDomains(a.map((x, k) => pairedBatches(x, b[k])));
    return Number.isFinite(r.mean) && Number.isFinite(r.stderr) ? r : null;
  } catch { return null; }
}

/** Standard errors of the base model's held-out losses by set name (those with at least two batches); null without per-batch losses. */
export function baseHeldOutStderr(out: string): Record<string, number> | null {
  const b = readHeldOutBatches(join(out, 'base', HELD_OUT_FILE));
  if (b === null) return null;
  const se = Object.entries(b).map(([name, xs]) => [name, clusterStderr(xs)] as const).filter(([, x]) => Number.isFinite(x));
  return se.length > 0 ? Object.fromEntries(se) : null;
}

/** The method every paired forgetting difference is taken against. */
export const DIFFERENCE_BASELINE = 'ncl';
