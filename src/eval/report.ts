// Results of `das run` from the files on disk (docs/method.md §8): per method the progressive matrices of
// macro-F1 and accuracy averaged over seeds, the main-table numbers (final row; ONE: the diagonal),
// averages, forgetting rate (§8.3, on the seed-averaged matrices) and transfer relative to ONE and to
// the base model fine-tuned directly. Written as results.json, with the run's settings, backend,
// package version and per-phase timings (RunMeta), and as markdown tables like the paper's, each at
// most about 120 characters wide, without columns that are empty in every row. Held-out MLM losses
// (--held-out) carry their standard errors over the held-out batches (src/eval/stderr.ts), and each
// continual method's MLM forgetting is compared with NCL's, paired per batch.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { SequenceDomain } from '../data/validate.js';
import type { FinetuneHyper } from './finetune.js';
import { type Matrix, averageMatrices, diagonal, forgettingRate, mean, transfer } from './metrics.js';
import { GENERAL, readHeldOut } from './mlm-eval.js';
import { DIFFERENCE_BASELINE, HELD_OUT_FILE, type ScoreKind, baseHeldOutStderr, complete, forgettingDifference, heldOutSummary, pickBy, seedDir, std } from './held-out-summary.js';
import { independentMeanStderr } from './stderr.js';

export { DIFFERENCE_BASELINE, HELD_OUT_FILE, type ScoreKind, forgettingDifference, heldOutSummary, seedDir, std } from './held-out-summary.js';


/** Score file of the end task of domain k fine-tuned from the model after domain t. */
export const finetuneFile = (seedDir: string, domains: readonly SequenceDomain[], t: number, k: number): string =>
  join(seedDir, `${t}-${domains[t].name}`, 'finetune', `${k}-${domains[k].name}.json`);
export const baseDir = (out: string, seed: number): string => join(out, 'base', `seed-${seed}`);
export const baseFile = (out: string, seed: number, domains: readonly SequenceDomain[], k: number): string => join(baseDir(out, seed), `${k}-${domains[k].name}.json`);


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
  /**
   * Standard errors (held-out batches as clusters, src/eval/stderr.ts) of the seed means above: of each
   * final-row loss, their average, the general text's loss after the last domain (null without its
   * batches) and the MLM forgetting (paired per batch; null where `forgetting` is). They measure how
   * much the numbers depend on which held-out text and masks were drawn, for these trained models (the
   * seed-to-seed spread of training is `spread`). Null when the mlm-eval.json files predate per-batch
   * losses or a text has fewer than two batches with labelled tokens.
   */
  stderr: HeldOutStderr | null;
}
export interface HeldOutStderr { final: number[]; average: number; general: number | null; forgetting: number | null }
/** Paired difference of two methods' MLM forgetting (forgettingDifference). */
export interface HeldOutDifference { a: string; b: string; mean: number; stderr: number }
export interface Spread {
  final: { mf1: number[]; acc: number[] };
  average: { mf1: number; acc: number };
  forgetting: { mf1: number | null; acc: number | null };
  vsOne: { mf1: number; acc: number } | null;
}

/** What a reader of results.json needs besides the scores (written by `das run`; absent in older files). */
export interface RunMeta {
  /** The experiment's name: the run directory's name (plot titles use it). */
  experiment: string;
  /** das-webgpu's version (package.json). */
  version: string;
  /** The backend the run used; for WebGPU the adapter. */
  backend: { name: string; adapter: Record<string, string> | null };
  /** When the run directory was created (run.json), ISO 8601. */
  created: string | null;
  settings: RunSettings;
  timings: RunTimings;
}
/** Every setting of the run (run.json's fingerprint and what may change when a run is continued). */
export interface RunSettings {
  sequence: string;
  model: string;
  domains: string[];
  methods: string[];
  seeds: number[];
  matrix: 'full' | 'diagonal-final';
  heldOut: { maxChunks: number } | null;
  baseFinetune: boolean;
  /** Post-training hyper-parameters (continual/method.ts PosttrainHyper), as the run recorded them. */
  posttrain: Readonly<Record<string, unknown>>;
  finetune: Omit<FinetuneHyper, 'seed'>;
}
/** Seconds spent in each phase of one domain of one seed, summed over the invocations that ran it (state.json). */
export interface DomainSeconds { posttrain: number; afterDomain: number; heldOut: number; finetune: number }
export interface SeedSeconds { prepare: number; domains: DomainSeconds[] }
/** One finished `das run` invocation on the directory (timings.json). */
export interface Invocation { started: string; seconds: number; setup: number; baseFinetune: number; baseHeldOut: number; /** `K/N` for a shard of the run (`das run --shard`). */ shard?: string }
export const TIMINGS_FILE = 'timings.json';
export const STATE_FILE = 'state.json';
export const PHASES = ['setup', 'baseFinetune', 'baseHeldOut', 'prepare', 'posttrain', 'afterDomain', 'heldOut', 'finetune'] as const;
export type Phase = (typeof PHASES)[number];
export interface RunTimings {
  /** Wall seconds of the finished invocations on this directory (a run may be continued), oldest first, and their sum. */
  invocations: Invocation[];
  seconds: number;
  /**
   * Seconds per phase summed over invocations, methods, seeds and domains: setup (reading and checking
   * the inputs), base fine-tunes, base held-out MLM loss, prepare (DAS: KL-proxy importance),
   * post-training (with its importance), afterDomain, held-out MLM loss, fine-tunes. Null where some
   * part has no record (work done before timings were recorded).
   */
  phases: Record<Phase, number | null>;
  /** Per method and seed: the seconds of each phase of each domain and the post-training seconds per step. */
  seeds: { method: string; seed: number; prepare: number | null; domains: ({ domain: string; secondsPerStep: number | null } & { [K in keyof DomainSeconds]: number | null })[] }[];
}

export interface RunResults extends Partial<RunMeta> {
  sequence: string;
  domains: string[];
  seeds: number[];
  base: { mf1: number[]; acc: number[]; average: { mf1: number; acc: number }; spread: Omit<Spread, 'forgetting' | 'vsOne'> | null } | null;
  /** Held-out MLM losses of the base model by set name ('general' and each domain); null when not computed. */
  baseHeldOut: Record<string, number> | null;
  /** Their standard errors (src/eval/stderr.ts) by set name; null without per-batch losses (absent in older results.json). */
  baseHeldOutStderr?: Record<string, number> | null;
  /**
   * MLM forgetting of every method with a progressive matrix minus NCL's, paired over the held-out
   * batches, with its standard error (forgettingDifference); [] without per-batch losses (absent in
   * older results.json).
   */
  heldOutDifferences: HeldOutDifference[];
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
export function summarize(out: string, method: string, domains: readonly SequenceDomain[], seeds: readonly number[], kind: ScoreKind): Omit<MethodSummary, 'vsOne' | 'vsBase' | 'spread' | 'heldOut'> | null {
  const perSeed = seeds.map((seed) => ({ seed, ...readMatrices(seedDir(out, method, seed), domains) }));
  const mf1 = averageMatrices(perSeed.map((p) => p.mf1)), acc = averageMatrices(perSeed.map((p) => p.acc));
  const pick = pickBy(kind);
  const fm = pick(mf1), fa = pick(acc);
  if (!complete(fm) || !complete(fa)) return null;
  const fr = (m: Matrix) => {
    try { return kind !== 'matrix' ? null : forgettingRate(m); } catch { return null; }
  };
  return {
    method, seeds: [...seeds], mf1, acc, perSeed, final: { mf1: fm, acc: fa }, average: { mf1: mean(fm), acc: mean(fa) },
    forgetting: { mf1: fr(mf1), acc: fr(acc) },
  };
}

/** Spread over seeds of a summary's numbers (each seed's own final row, averages, FR and transfer vs ONE). */
type Core = Omit<MethodSummary, 'vsOne' | 'vsBase' | 'spread' | 'heldOut'>;
function spreadOf(s: Core, kind: ScoreKind, one: Core | null, isOne: boolean): Spread | null {
  if (s.perSeed.length < 2) return null;
  const pick = pickBy(kind);
  const rows = s.perSeed.map((p) => ({ seed: p.seed, mf1: pick(p.mf1), acc: pick(p.acc), p }));
  if (!rows.every((r) => complete(r.mf1) && complete(r.acc))) return null;
  const col = (f: 'mf1' | 'acc') => s.final[f].map((_, k) => std(rows.map((r) => r[f][k]!)));
  const frs = (f: 'mf1' | 'acc') => {
    if (kind !== 'matrix') return null;
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
  const voOk = one !== null && !isOne && vo.mf1.every((x) => x !== null && Number.isFinite(x)) && vo.acc.every((x) => x !== null && Number.isFinite(x));
  return {
    final: { mf1: col('mf1'), acc: col('acc') },
    average: { mf1: std(rows.map((r) => mean(r.mf1 as number[]))), acc: std(rows.map((r) => mean(r.acc as number[]))) },
    forgetting: { mf1: frs('mf1'), acc: frs('acc') },
    vsOne: voOk ? { mf1: std(vo.mf1 as number[]), acc: std(vo.acc as number[]) } : null,
  };
}


/** Results of every method with complete scores, in the order given; transfer where ONE / base scores exist; `meta` after the seeds. */
export function collectResults(out: string, sequence: string, domains: readonly SequenceDomain[], seeds: readonly number[], methods: readonly string[], meta?: RunMeta, kinds: Readonly<Record<string, ScoreKind>> = {}): RunResults {
  const base = baseScores(out, domains, seeds);
  const kindOf = (m: string): ScoreKind => kinds[m] ?? (m === 'one' ? 'diagonal' : 'matrix');
  const oneSummary = summarize(out, 'one', domains, seeds, 'diagonal');
  const oneDiag = oneSummary ? { mf1: diagonal(oneSummary.mf1), acc: diagonal(oneSummary.acc) } : null;
  const summaries: MethodSummary[] = [];
  for (const m of methods) {
    const s = m === 'one' ? oneSummary : summarize(out, m, domains, seeds, kindOf(m));
    if (s === null) continue;
    summaries.push({
      ...s,
      vsOne: oneDiag && m !== 'one' ? { mf1: transfer(s.final.mf1, oneDiag.mf1), acc: transfer(s.final.acc, oneDiag.acc) } : null,
      vsBase: base ? { mf1: transfer(s.final.mf1, base.mf1), acc: transfer(s.final.acc, base.acc) } : null,
      spread: spreadOf(s, kindOf(m), oneSummary, m === 'one'),
      heldOut: heldOutSummary(out, m, domains, seeds, kindOf(m)),
    });
  }
  // MLM forgetting of each method with a progressive matrix minus NCL's (both in the table, both with forgetting)
  const has = (m: string) => summaries.some((s) => s.method === m && s.heldOut?.forgetting !== null && s.heldOut?.forgetting !== undefined);
  const heldOutDifferences: HeldOutDifference[] = [];
  if (kindOf(DIFFERENCE_BASELINE) === 'matrix' && has(DIFFERENCE_BASELINE)) {
    for (const s of summaries) {
      if (s.method === DIFFERENCE_BASELINE || kindOf(s.method) !== 'matrix' || !has(s.method)) continue;
      const d = forgettingDifference(out, s.method, DIFFERENCE_BASELINE, domains, seeds);
      if (d !== null) heldOutDifferences.push({ a: s.method, b: DIFFERENCE_BASELINE, ...d });
    }
  }
  return {
    sequence, domains: domains.map((d) => d.name), seeds: [...seeds], ...meta, base,
    baseHeldOut: readHeldOut(join(out, 'base', HELD_OUT_FILE)), baseHeldOutStderr: baseHeldOutStderr(out), heldOutDifferences, methods: summaries,
  };
}

/** das-webgpu's version from its package.json (two levels above this file in src/ and in dist/). */
export function packageVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

const readJson = <T>(file: string): T | null => {
  try { return JSON.parse(readFileSync(file, 'utf8')) as T; } catch { return null; }
};
/** The finished invocations recorded in <out>/timings.json (none when it is missing). */
export const readInvocations = (out: string): Invocation[] => readJson<{ invocations?: Invocation[] }>(join(out, TIMINGS_FILE))?.invocations ?? [];

/** What runMeta reads of a run's options (run.ts's RunOptions has these fields). */
export interface RunMetaInput {
  out: string; sequence: string; model: string; methods: readonly string[]; seeds: readonly number[]; matrix?: 'full' | 'diagonal-final'; heldOut?: { maxChunks: number };
  baseFinetune?: boolean; posttrain: object; finetune: Omit<FinetuneHyper, 'seed'>; backend: { name: string };
}

/** Settings, backend, version and timings of a run for results.json, so that its reader needs no run.json. */
export function runMeta(o: RunMetaInput, domains: readonly SequenceDomain[]): RunMeta {
  const info = (o.backend as { opened?: { info?: Record<string, string> } }).opened?.info;   // WebGPU: the adapter
  return {
    experiment: basename(resolve(o.out)), version: packageVersion(),
    backend: { name: o.backend.name, adapter: info ? { ...info } : null },
    created: readJson<{ created?: string }>(join(o.out, 'run.json'))?.created ?? null,
    settings: {
      sequence: o.sequence, model: o.model, domains: domains.map((d) => d.name), methods: [...o.methods], seeds: [...o.seeds], matrix: o.matrix ?? 'full',
      heldOut: o.heldOut ?? null, baseFinetune: o.baseFinetune !== false, posttrain: { ...o.posttrain }, finetune: o.finetune,
    },
    timings: collectTimings(o.out, domains, o.seeds, o.methods),
  };
}

/** Seconds of every phase from timings.json and each seed's state.json; null where nothing was recorded. */
export function collectTimings(out: string, domains: readonly SequenceDomain[], seeds: readonly number[], methods: readonly string[]): RunTimings {
  const invocations = readInvocations(out);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const perSeed = methods.flatMap((method) => seeds.map((seed) => {
    const st = readJson<{ domains?: { secondsPerStep?: number | null }[]; seconds?: SeedSeconds }>(join(seedDir(out, method, seed), STATE_FILE));
    const sec = st?.seconds;
    return {
      method, seed, prepare: sec?.prepare ?? null,
      domains: domains.map((d, t) => {
        const x = sec?.domains[t];
        return { domain: d.name, secondsPerStep: st?.domains?.[t]?.secondsPerStep ?? null, posttrain: x?.posttrain ?? null, afterDomain: x?.afterDomain ?? null, heldOut: x?.heldOut ?? null, finetune: x?.finetune ?? null };
      }),
    };
  }));
  const sum = (xs: (number | null)[]): number | null => (xs.every((x): x is number => x !== null) ? round(xs.reduce((a, x) => a + x, 0)) : null);
  const fromInvocations = (k: 'setup' | 'baseFinetune' | 'baseHeldOut') => (invocations.length === 0 ? null : sum(invocations.map((i) => i[k] ?? null)));
  const fromSeeds = (k: keyof DomainSeconds) => sum(perSeed.flatMap((p) => p.domains.map((d) => d[k])));
  return {
    invocations, seconds: round(invocations.reduce((a, i) => a + i.seconds, 0)),
    phases: {
      setup: fromInvocations('setup'), baseFinetune: fromInvocations('baseFinetune'), baseHeldOut: fromInvocations('baseHeldOut'),
      prepare: sum(perSeed.map((p) => p.prepare)), posttrain: fromSeeds('posttrain'), afterDomain: fromSeeds('afterDomain'), heldOut: fromSeeds('heldOut'), finetune: fromSeeds('finetune'),
    },
    seeds: perSeed,
  };
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : (100 * x).toFixed(2));
const signed = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`);
const DISPLAY: Record<string, string> = {
  das: 'DAS', 'das-update': 'DAS (update)', ncl: 'NCL', one: 'ONE', mtl: 'MTL', kd: 'KD', ewc: 'EWC', derpp: 'DER++', hat: 'HAT', 'adapter-one': 'Adapter-ONE',
  'prompt-one': 'Prompt-ONE', dga: 'DGA', demix: 'DEMIX',
};

/** Decimals that show a standard error of held-out loss: 3, or enough for its first significant digit when it is below 0.001. */
const seDigits = (se: number): number => (Number.isFinite(se) && se > 0 && se < 0.001 ? Math.min(8, -Math.floor(Math.log10(se))) : 3);
const seText = (se: number): string => se.toFixed(seDigits(se));

/** What an empty cell shows. */
export const EMPTY = '–';
/** The widest a results table should be, in characters. */
export const MAX_TABLE_WIDTH = 120;

export interface Column { head: string; cells: string[] }
/** Characters as a terminal shows them (code points). */
const chars = (s: string): number => [...s].length;
const columnWidth = (c: Column): number => Math.max(3, chars(c.head), ...c.cells.map(chars));

/** A markdown table with padded columns: the first (the row labels) left-aligned, the others right-aligned. */
export function markdownTable(label: Column, cols: readonly Column[]): string {
  const all = [label, ...cols], w = all.map(columnWidth);
  const pad = (s: string, i: number) => (i === 0 ? s + ' '.repeat(w[i] - chars(s)) : ' '.repeat(w[i] - chars(s)) + s);
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  return [
    line(all.map((c) => c.head)),
    `| ${w.map((n, i) => (i === 0 ? '-'.repeat(n) : `${'-'.repeat(n - 1)}:`)).join(' | ')} |`,
    ...label.cells.map((_, r) => line(all.map((c) => c.cells[r]))),
  ].join('\n');
}

/**
 * `cols` as markdown tables, each led by the label column: columns that are empty (EMPTY) in every
 * row are left out, and the rest split, in order, into as many tables as keep each at most
 * `maxWidth` characters wide (a single column wider than that gets a table of its own). [] when no
 * column is left.
 */
export function splitTables(label: Column, cols: readonly Column[], maxWidth = MAX_TABLE_WIDTH): string[] {
  const kept = cols.filter((c) => c.cells.some((x) => x !== EMPTY));
  const start = 1 + columnWidth(label) + 3;
  const groups: Column[][] = [];
  let used = Infinity;
  for (const c of kept) {
    const w = columnWidth(c) + 3;
    if (used + w > maxWidth) { groups.push([]); used = start; }
    groups[groups.length - 1].push(c);
    used += w;
  }
  return groups.map((g) => markdownTable(label, g));
}

const seconds = (x: number): string => (x >= 600 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
const PHASE_NAMES: Record<Phase, string> = {
  setup: 'set-up', baseFinetune: 'base fine-tunes', baseHeldOut: 'base held-out loss', prepare: 'KL-proxy importance',
  posttrain: 'post-training and importance', afterDomain: 'after-domain work', heldOut: 'held-out loss', finetune: 'fine-tunes',
};
const settingList = (o: object): string => Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ');

/** The "Run" section: version, backend, settings and timings (from RunMeta), or null without them. */
function runSection(r: RunResults): string | null {
  if (!r.settings && !r.backend && !r.version && !r.timings) return null;
  const lines: string[] = [];
  if (r.version || r.backend) {
    const a = r.backend?.adapter;
    const adapter = a ? ` (${[a.vendor, a.architecture, a.device, a.description].filter((x) => x).join(', ')})` : '';
    lines.push(`- das-webgpu ${r.version ?? '?'}, backend ${r.backend?.name ?? '?'}${adapter}${r.created ? `; run directory created ${r.created}` : ''}`);
  }
  const s = r.settings;
  if (s) {
    lines.push(`- model ${s.model}, sequence ${s.sequence}; methods ${s.methods.join(', ')}; matrix ${s.matrix}; base fine-tunes ${s.baseFinetune ? 'yes' : 'no'}; held-out MLM loss ${s.heldOut ? `${s.heldOut.maxChunks} chunks per text` : 'off'}`,
      `- post-training: ${settingList(s.posttrain)}`, `- fine-tuning: ${settingList(s.finetune)}`);
  }
  const t = r.timings;
  if (t) {
    const n = t.invocations.length;
    const phases = PHASES.filter((p) => t.phases[p] !== null && t.phases[p]! >= 0.05).map((p) => `${PHASE_NAMES[p]} ${seconds(t.phases[p]!)}`);
    lines.push(`- wall time ${n === 0 ? 'not recorded' : `${seconds(t.seconds)} (${n} invocation${n === 1 ? '' : 's'})`}${phases.length > 0 ? `; per phase, summed over methods and seeds: ${phases.join(', ')}` : ''}`);
  }
  return ['## Run', 'Every setting and timing is in results.json.', lines.join('\n')].join('\n\n');
}

/**
 * The paper's numbers as tables of at most about MAX_TABLE_WIDTH characters: end-task macro-F1 and
 * accuracy per task with their average, forgetting rate and transfer, held-out MLM loss; then each
 * method's matrices and the run's settings and timings. Scores in %; columns empty for every row are
 * left out.
 */
export function markdownReport(r: RunResults): string {
  const b = r.base, bs = b?.spread;
  const pm = (x: number | null | undefined, sd: number | null | undefined) => (sd === null || sd === undefined || x === null || x === undefined ? pct(x) : `${pct(x)} ± ${(100 * sd).toFixed(2)}`);
  const spm = (x: number | null | undefined, sd: number | null | undefined) => (sd === null || sd === undefined || x === null || x === undefined ? signed(x) : `${signed(x)} ± ${(100 * sd).toFixed(2)}`);
  const label: Column = { head: 'Method', cells: [...(b ? ['Base (no post-training)'] : []), ...r.methods.map((m) => DISPLAY[m.method] ?? m.method)] };
  const col = (head: string, base: () => string, f: (m: MethodSummary) => string): Column => ({ head, cells: [...(b ? [base()] : []), ...r.methods.map(f)] });
  const scores = (f: 'mf1' | 'acc') => [
    ...r.domains.map((d, k) => col(d, () => pm(b![f][k], bs?.final[f][k]), (m) => pm(m.final[f][k], m.spread?.final[f][k]))),
    col('Avg', () => pm(b!.average[f], bs?.average[f]), (m) => pm(m.average[f], m.spread?.average[f])),
  ];
  const none = () => EMPTY;
  const transfer = [
    col('FR MF1', none, (m) => spm(m.forgetting.mf1, m.spread?.forgetting.mf1)), col('FR Acc', none, (m) => spm(m.forgetting.acc, m.spread?.forgetting.acc)),
    col('vs ONE MF1', none, (m) => spm(m.vsOne?.mf1.average, m.spread?.vsOne?.mf1)), col('vs ONE Acc', none, (m) => spm(m.vsOne?.acc.average, m.spread?.vsOne?.acc)),
    col('vs base MF1', none, (m) => signed(m.vsBase?.mf1.average)), col('vs base Acc', none, (m) => signed(m.vsBase?.acc.average)),
  ];
  const shown = (head: string) => transfer.some((c) => c.head.startsWith(head) && c.cells.some((x) => x !== EMPTY));
  const parts = [
    `# das run: ${r.experiment ?? r.sequence}`,
    `Domains in order: ${r.domains.join(' → ')}${r.experiment ? ` (${r.sequence})` : ''}. Seeds: ${r.seeds.join(', ')} (matrices averaged over seeds before FR${r.seeds.length > 1 ? '; "± x" is the standard deviation over seeds of each seed\'s own number' : ''}). Scores in %: macro-F1 (MF1) and accuracy (Acc) of each end task fine-tuned from the final model (ONE: from its own domain's model); Avg: their mean over the tasks.`,
    '## End tasks: macro-F1 (%)', ...splitTables(label, scores('mf1')),
    '## End tasks: accuracy (%)', ...splitTables(label, scores('acc')),
  ];
  const tt = splitTables(label, transfer);
  if (tt.length > 0) {
    const notes = [
      ...(shown('FR') ? ['FR = forgetting rate (docs/method.md §8.3; negative = backward transfer).'] : []),
      ...(shown('vs ONE') ? ['"vs ONE": mean over tasks of the score minus ONE\'s diagonal.'] : []),
      ...(shown('vs base') ? ['"vs base": mean over tasks of the score minus the base model fine-tuned directly.'] : ['No "vs base" columns: the base model was not fine-tuned directly (--no-base).']),
    ];
    parts.push('## Forgetting and transfer (percentage points)', notes.join(' '), ...tt);
  }
  const held = r.methods.filter((m) => m.heldOut !== null);
  if (held.length > 0) {
    const f3 = (x: number | null | undefined) => (x === null || x === undefined ? EMPTY : x.toFixed(3));
    const se3 = (x: number | null | undefined, se: number | null | undefined) => (se === null || se === undefined || x === null || x === undefined ? f3(x) : `${f3(x)} ± ${seText(se)}`);
    const hb = r.baseHeldOut, hbse = r.baseHeldOutStderr ?? null;
    const baseAvgSe = hbse && r.domains.every((d) => hbse[d] !== undefined) ? independentMeanStderr(r.domains.map((d) => hbse[d])) : null;
    const hlabel: Column = { head: 'Method', cells: [...(hb ? ['Base (no post-training)'] : []), ...held.map((m) => DISPLAY[m.method] ?? m.method)] };
    const hcol = (head: string, base: (x: Record<string, number>) => string, f: (h: HeldOutSummary) => string): Column => ({ head, cells: [...(hb ? [base(hb)] : []), ...held.map((m) => f(m.heldOut!))] });
    const withSe = held.some((m) => m.heldOut!.stderr) || hbse !== null;
    const diffs = r.heldOutDifferences ?? [];
    parts.push(
      '## Held-out MLM loss (lower is better)',
      [
        `Masked-LM loss on each domain's held-out text (the 5 % of its lines post-training leaves out) with the final model (ONE: its own domain's model), on the general corpus's validation text (after the last domain; ONE: after its last domain), and the MLM forgetting: mean over earlier domains of the loss after the last domain minus the loss right after that domain (positive = forgetting). Fixed masking, no fine-tuning: these numbers carry no end-task noise.`,
        ...(withSe ? ['"± x" is the standard error of the seed mean over the held-out batches (batches as clusters; forgetting paired per batch): how much the number depends on the held-out text and masks drawn, for these trained models.'] : []),
        ...(r.seeds.length > 1 ? ['"seed sd": the standard deviation over seeds of each seed\'s own number (training noise).'] : []),
      ].join(' '),
      ...splitTables(hlabel, [
        ...r.domains.map((d, k) => hcol(d, (x) => se3(x[d], hbse?.[d]), (h) => se3(h.final[k], h.stderr?.final[k]))),
        hcol('Avg', (x) => se3(mean(r.domains.map((d) => x[d] ?? NaN)), baseAvgSe), (h) => se3(h.average, h.stderr?.average)),
        hcol(GENERAL, (x) => se3(x[GENERAL], hbse?.[GENERAL]), (h) => se3(h.general[h.general.length - 1], h.stderr?.general)),
        hcol('MLM forgetting', none, (h) => se3(h.forgetting, h.stderr?.forgetting)),
        hcol('Avg seed sd', none, (h) => f3(h.spread?.average)),
        hcol('Forgetting seed sd', none, (h) => f3(h.spread?.forgetting)),
      ]),
    );
    if (diffs.length > 0) {
      parts.push([
        `MLM forgetting vs ${DISPLAY[DIFFERENCE_BASELINE] ?? DIFFERENCE_BASELINE} (paired over the held-out batches, which every model is evaluated on; ± its standard error; in parentheses, the difference in units of that error):`,
        ...diffs.map((d) => {
          const digits = seDigits(d.stderr);
          return `- ${d.a} − ${d.b} = ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(digits)} ± ${d.stderr.toFixed(digits)} nats (${d.stderr > 0 ? `${(d.mean / d.stderr).toFixed(1)} SE` : '– SE'})`;
        }),
      ].join('\n'));
    }
  }
  for (const m of r.methods) {
    const matrix = (a: Matrix) => markdownTable({ head: 'after \\ task', cells: r.domains }, r.domains.map((d, k) => ({ head: d, cells: a.map((row) => pct(row[k])) })));
    parts.push(`## ${DISPLAY[m.method] ?? m.method}: progressive matrix A[t][k] (rows: after post-training domain t)`, `MF1\n\n${matrix(m.mf1)}`, `Acc\n\n${matrix(m.acc)}`);
  }
  const run = runSection(r);
  if (run !== null) parts.push(run);
  return `${parts.join('\n\n')}\n`;
}
