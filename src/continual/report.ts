// Results of `das run` from the files on disk (das-spec §8): per method the progressive matrices of
// macro-F1 and accuracy averaged over seeds, the main-table numbers (final row; ONE: the diagonal),
// averages, forgetting rate (§8.3, on the seed-averaged matrices) and transfer relative to ONE and to
// the base model fine-tuned directly. Written as results.json and a markdown table like the paper's.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SequenceDomain } from '../data/validate.js';
import { type Matrix, averageMatrices, diagonal, forgettingRate, mean, transfer } from './metrics.js';
import { GENERAL, readHeldOut } from './mlm-eval.js';

/** Score file of the end task of domain k fine-tuned from the model after domain t. */
export const finetuneFile = (seedDir: string, domains: readonly SequenceDomain[], t: number, k: number): string =>
  join(seedDir, `${t}-${domains[t].name}`, 'finetune', `${k}-${domains[k].name}.json`);
export const baseDir = (out: string, seed: number): string => join(out, 'base', `seed-${seed}`);
export const baseFile = (out: string, seed: number, domains: readonly SequenceDomain[], k: number): string => join(baseDir(out, seed), `${k}-${domains[k].name}.json`);
export const seedDir = (out: string, method: string, seed: number): string => join(out, method, `seed-${seed}`);

/** Held-out MLM losses of a domain's model (written by mlm-eval.ts). */
export const HELD_OUT_FILE = 'mlm-eval.json';

interface Score { macroF1: number; accuracy: number }
const readScore = (file: string): Score | null => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Score) : null);

export interface Transfer { perTask: number[]; average: number }
export interface MethodSummary {
  method: string;
  seeds: number[];
  /** Seed-averaged progressive matrices A[t][k] (null where not evaluated). */
  mf1: Matrix;
  acc: Matrix;
  perSeed: { seed: number; mf1: Matrix; acc: Matrix }[];
  /** Main-table numbers: the final row, or the diagonal for ONE. */
  final: { mf1: number[]; acc: number[] };
  average: { mf1: number; acc: number };
  forgetting: { mf1: number | null; acc: number | null };
  vsOne: { mf1: Transfer; acc: Transfer } | null;
  vsBase: { mf1: Transfer; acc: Transfer } | null;
  /** Sample standard deviation over seeds (n − 1) of the same numbers; null with one seed. */
  spread: Spread | null;
  /** Held-out MLM losses (--held-out), seed-averaged; null when not computed. */
  heldOut: HeldOutSummary | null;
}
export interface HeldOutSummary {
  /** L[t][k]: loss on domain k's held-out text after post-training domain t. */
  loss: Matrix;
  /** Loss on the general validation text after each domain. */
  general: (number | null)[];
  /** The final row (ONE: the diagonal) and its mean. */
  final: number[];
  average: number;
  /** Mean over k < N−1 of L[N−1][k] − L[k][k] (positive = forgetting); null for ONE or one domain. */
  forgetting: number | null;
  /** Sample standard deviation over seeds of each seed's average and forgetting. */
  spread: { average: number; forgetting: number | null } | null;
}
export interface Spread {
  final: { mf1: number[]; acc: number[] };
  average: { mf1: number; acc: number };
  forgetting: { mf1: number | null; acc: number | null };
  vsOne: { mf1: number; acc: number } | null;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}
export interface RunResults {
  sequence: string;
  domains: string[];
  seeds: number[];
  base: { mf1: number[]; acc: number[]; average: { mf1: number; acc: number }; spread: Omit<Spread, 'forgetting' | 'vsOne'> | null } | null;
  /** Held-out MLM losses of the base model by set name ('general' and each domain); null when not computed. */
  baseHeldOut: Record<string, number> | null;
  methods: MethodSummary[];
}

/** One seed's matrices from its finetune files (null entries where a file is missing). */
export function readMatrices(dir: string, domains: readonly SequenceDomain[]): { mf1: Matrix; acc: Matrix } {
  const T = domains.length;
  const mf1: Matrix = [], acc: Matrix = [];
  for (let t = 0; t < T; t++) {
    mf1.push([]); acc.push([]);
    for (let k = 0; k < T; k++) {
      const s = k <= t ? readScore(finetuneFile(dir, domains, t, k)) : null;
      mf1[t].push(s?.macroF1 ?? null);
      acc[t].push(s?.accuracy ?? null);
    }
  }
  return { mf1, acc };
}

const complete = (xs: readonly (number | null)[]): xs is number[] => xs.every((x) => x !== null);

/** Base-model scores averaged over seeds; null unless every file exists. */
export function baseScores(out: string, domains: readonly SequenceDomain[], seeds: readonly number[]): RunResults['base'] {
  const per = seeds.map((s) => domains.map((_, k) => readScore(baseFile(out, s, domains, k))));
  if (!per.every((row) => row.every((x) => x !== null))) return null;
  const avg = (f: (s: Score) => number) => domains.map((_, k) => mean(per.map((row) => f(row[k]!))));
  const mf1 = avg((s) => s.macroF1), acc = avg((s) => s.accuracy);
  const sd = (f: (s: Score) => number) => domains.map((_, k) => std(per.map((row) => f(row[k]!))));
  const avgSd = (f: (s: Score) => number) => std(per.map((row) => mean(row.map((x) => f(x!)))));
  const spread = seeds.length < 2 ? null : { final: { mf1: sd((s) => s.macroF1), acc: sd((s) => s.accuracy) }, average: { mf1: avgSd((s) => s.macroF1), acc: avgSd((s) => s.accuracy) } };
  return { mf1, acc, average: { mf1: mean(mf1), acc: mean(acc) }, spread };
}

/** The summary of one method over the seeds, or null when some of its scores are missing. */
export function summarize(out: string, method: string, domains: readonly SequenceDomain[], seeds: readonly number[], diagonalOnly: boolean): Omit<MethodSummary, 'vsOne' | 'vsBase' | 'spread' | 'heldOut'> | null {
  const perSeed = seeds.map((seed) => ({ seed, ...readMatrices(seedDir(out, method, seed), domains) }));
  const mf1 = averageMatrices(perSeed.map((p) => p.mf1)), acc = averageMatrices(perSeed.map((p) => p.acc));
  const pick = (m: Matrix) => (diagonalOnly ? m.map((row, k) => row[k]) : m[m.length - 1]);
  const fm = pick(mf1), fa = pick(acc);
  if (!complete(fm) || !complete(fa)) return null;
  const fr = (m: Matrix) => {
    try { return diagonalOnly ? null : forgettingRate(m); } catch { return null; }
  };
  return {
    method, seeds: [...seeds], mf1, acc, perSeed, final: { mf1: fm, acc: fa }, average: { mf1: mean(fm), acc: mean(fa) },
    forgetting: { mf1: fr(mf1), acc: fr(acc) },
  };
}

/** Spread over seeds of a summary's numbers (each seed's own final row, averages, FR and transfer vs ONE). */
type Core = Omit<MethodSummary, 'vsOne' | 'vsBase' | 'spread' | 'heldOut'>;
function spreadOf(s: Core, diagonalOnly: boolean, one: Core | null): Spread | null {
  if (s.perSeed.length < 2) return null;
  const pick = (m: Matrix) => (diagonalOnly ? m.map((row, k) => row[k]) : m[m.length - 1]);
  const rows = s.perSeed.map((p) => ({ seed: p.seed, mf1: pick(p.mf1), acc: pick(p.acc), p }));
  if (!rows.every((r) => complete(r.mf1) && complete(r.acc))) return null;
  const col = (f: 'mf1' | 'acc') => s.final[f].map((_, k) => std(rows.map((r) => r[f][k]!)));
  const frs = (f: 'mf1' | 'acc') => {
    if (diagonalOnly) return null;
    try {
      const xs = rows.map((r) => forgettingRate(r.p[f]));
      return xs.every((x) => x !== null) ? std(xs as number[]) : null;
    } catch { return null; }
  };
  const oneBySeed = new Map(one?.perSeed.map((p) => [p.seed, p]) ?? []);
  const vsOne = (f: 'mf1' | 'acc') => rows.map((r) => {
    const o = oneBySeed.get(r.seed);
    return o === undefined ? null : mean((r[f] as number[]).map((x, k) => x - (o[f][k][k] ?? NaN)));
  });
  const vo = { mf1: vsOne('mf1'), acc: vsOne('acc') };
  const voOk = one !== null && !diagonalOnly && vo.mf1.every((x) => x !== null && Number.isFinite(x)) && vo.acc.every((x) => x !== null && Number.isFinite(x));
  return {
    final: { mf1: col('mf1'), acc: col('acc') },
    average: { mf1: std(rows.map((r) => mean(r.mf1 as number[]))), acc: std(rows.map((r) => mean(r.acc as number[]))) },
    forgetting: { mf1: frs('mf1'), acc: frs('acc') },
    vsOne: voOk ? { mf1: std(vo.mf1 as number[]), acc: std(vo.acc as number[]) } : null,
  };
}

/** Seed-averaged held-out losses of one method; null unless every seed has them where the table needs them. */
export function heldOutSummary(out: string, method: string, domains: readonly SequenceDomain[], seeds: readonly number[], diagonalOnly: boolean): HeldOutSummary | null {
  const T = domains.length;
  const per = seeds.map((seed) => domains.map((_, t) => readHeldOut(join(seedDir(out, method, seed), `${t}-${domains[t].name}`, HELD_OUT_FILE))));
  const matrix = (p: (Record<string, number> | null)[]): Matrix => domains.map((_, t) => domains.map((d, k) => (k <= t ? p[t]?.[d.name] ?? null : null)));
  const mats = per.map(matrix);
  const pick = (m: Matrix) => (diagonalOnly ? m.map((row, k) => row[k]) : m[T - 1]);
  if (!mats.every((m) => complete(pick(m)))) return null;
  const fr = (m: Matrix) => {
    if (diagonalOnly || T < 2) return null;
    try { return -(forgettingRate(m) ?? NaN); } catch { return null; }
  };
  const loss = averageMatrices(mats), final = pick(loss) as number[];
  const seedAvg = mats.map((m) => mean(pick(m) as number[])), seedFr = mats.map(fr);
  return {
    loss, general: domains.map((_, t) => { const g = per.map((p) => p[t]?.[GENERAL]); return g.every((x): x is number => typeof x === 'number') ? mean(g) : null; }),
    final, average: mean(final), forgetting: fr(loss),
    spread: seeds.length < 2 ? null : { average: std(seedAvg), forgetting: seedFr.every((x): x is number => x !== null) ? std(seedFr) : null },
  };
}

/** Results of every method with complete scores, in the order given; transfer where ONE / base scores exist. */
export function collectResults(out: string, sequence: string, domains: readonly SequenceDomain[], seeds: readonly number[], methods: readonly string[]): RunResults {
  const base = baseScores(out, domains, seeds);
  const oneSummary = summarize(out, 'one', domains, seeds, true);
  const oneDiag = oneSummary ? { mf1: diagonal(oneSummary.mf1), acc: diagonal(oneSummary.acc) } : null;
  const summaries: MethodSummary[] = [];
  for (const m of methods) {
    const s = m === 'one' ? oneSummary : summarize(out, m, domains, seeds, false);
    if (s === null) continue;
    summaries.push({
      ...s,
      vsOne: oneDiag && m !== 'one' ? { mf1: transfer(s.final.mf1, oneDiag.mf1), acc: transfer(s.final.acc, oneDiag.acc) } : null,
      vsBase: base ? { mf1: transfer(s.final.mf1, base.mf1), acc: transfer(s.final.acc, base.acc) } : null,
      spread: spreadOf(s, m === 'one', oneSummary),
      heldOut: heldOutSummary(out, m, domains, seeds, m === 'one'),
    });
  }
  return { sequence, domains: domains.map((d) => d.name), seeds: [...seeds], base, baseHeldOut: readHeldOut(join(out, 'base', HELD_OUT_FILE)), methods: summaries };
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : (100 * x).toFixed(2));
const signed = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`);
const DISPLAY: Record<string, string> = { das: 'DAS', ncl: 'NCL', one: 'ONE' };

/** The paper-shaped table (MF1 / Acc per end task, averages, FR, transfer) and each method's matrices; scores in %. */
export function markdownReport(r: RunResults): string {
  const head = ['Method', ...r.domains.flatMap((d) => [`${d} MF1`, `${d} Acc`]), 'Avg MF1', 'Avg Acc', 'FR MF1', 'FR Acc', 'vs ONE MF1', 'vs ONE Acc', 'vs base MF1', 'vs base Acc'];
  const rows: string[][] = [];
  const pm = (x: number | null | undefined, sd: number | null | undefined) => (sd === null || sd === undefined || x === null || x === undefined ? pct(x) : `${pct(x)} ± ${(100 * sd).toFixed(2)}`);
  if (r.base) {
    const b = r.base, bs = b.spread;
    rows.push(['Base (no post-training)', ...b.mf1.flatMap((m, k) => [pm(m, bs?.final.mf1[k]), pm(b.acc[k], bs?.final.acc[k])]), pm(b.average.mf1, bs?.average.mf1), pm(b.average.acc, bs?.average.acc), '–', '–', '–', '–', '–', '–']);
  }
  for (const m of r.methods) {
    const sp = m.spread;
    const spm = (x: number | null | undefined, sd: number | null | undefined) => (sd === null || sd === undefined || x === null || x === undefined ? signed(x) : `${signed(x)} ± ${(100 * sd).toFixed(2)}`);
    rows.push([
      DISPLAY[m.method] ?? m.method, ...m.final.mf1.flatMap((x, k) => [pm(x, sp?.final.mf1[k]), pm(m.final.acc[k], sp?.final.acc[k])]), pm(m.average.mf1, sp?.average.mf1), pm(m.average.acc, sp?.average.acc),
      spm(m.forgetting.mf1, sp?.forgetting.mf1), spm(m.forgetting.acc, sp?.forgetting.acc), spm(m.vsOne?.mf1.average, sp?.vsOne?.mf1), spm(m.vsOne?.acc.average, sp?.vsOne?.acc), signed(m.vsBase?.mf1.average), signed(m.vsBase?.acc.average),
    ]);
  }
  const table = (h: string[], body: string[][]) => [`| ${h.join(' | ')} |`, `| ${h.map(() => '---').join(' | ')} |`, ...body.map((x) => `| ${x.join(' | ')} |`)].join('\n');
  const parts = [
    `# das run: ${r.sequence}`,
    `Domains in order: ${r.domains.join(' → ')}. Seeds: ${r.seeds.join(', ')} (matrices averaged over seeds before FR${r.seeds.length > 1 ? '; "± x" is the standard deviation over seeds of each seed\'s own number' : ''}). Scores in %: macro-F1 (MF1) and accuracy (Acc) of each end task fine-tuned from the final model (ONE: from its own domain's model). FR = forgetting rate (das-spec §8.3; negative = backward transfer). "vs ONE" / "vs base": mean over tasks of the score minus ONE's diagonal / minus the base model fine-tuned directly.`,
    table(head, rows),
  ];
  const held = r.methods.filter((m) => m.heldOut !== null);
  if (held.length > 0) {
    const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
    const sd3 = (x: number | null | undefined, sd: number | null | undefined) => (sd === null || sd === undefined || x === null || x === undefined ? f3(x) : `${f3(x)} ± ${sd.toFixed(3)}`);
    const b = r.baseHeldOut;
    const hrows: string[][] = [];
    if (b) hrows.push(['Base (no post-training)', ...r.domains.map((d) => f3(b[d])), f3(mean(r.domains.map((d) => b[d] ?? NaN))), f3(b[GENERAL]), '–']);
    for (const m of held) {
      const h = m.heldOut!;
      hrows.push([DISPLAY[m.method] ?? m.method, ...h.final.map(f3), sd3(h.average, h.spread?.average), f3(h.general[h.general.length - 1]), sd3(h.forgetting === null ? null : h.forgetting, h.spread?.forgetting)]);
    }
    parts.push(
      '## Held-out MLM loss (lower is better)',
      `Masked-LM loss on each domain's held-out text (the 5 % of its lines post-training leaves out) with the final model (ONE: its own domain's model), on the general corpus's validation text (after the last domain; ONE: after its last domain), and the MLM forgetting: mean over earlier domains of the loss after the last domain minus the loss right after that domain (positive = forgetting). Fixed masking, no fine-tuning: these numbers carry no end-task noise.`,
      table(['Method', ...r.domains, 'Avg', GENERAL, 'MLM forgetting'], hrows),
    );
  }
  for (const m of r.methods) {
    const matrix = (a: Matrix) => table(['after \\ task', ...r.domains], a.map((row, t) => [r.domains[t], ...row.map((x) => pct(x))]));
    parts.push(`## ${DISPLAY[m.method] ?? m.method}: progressive matrix A[t][k] (rows: after post-training domain t)`, `MF1\n\n${matrix(m.mf1)}`, `Acc\n\n${matrix(m.acc)}`);
  }
  return `${parts.join('\n\n')}\n`;
}
