// `das run`: a whole domain sequence for one or more methods and seeds (docs/method.md §1, §8). Per method
// and seed: prepare (DAS: KL-proxy importance of the base model), then per domain t: post-train,
// afterDomain, and fine-tune the model after domain t on the end tasks the method evaluates (the
// progressive matrix). The base model is also fine-tuned directly on every end task (transfer).
// Layout under --out:
//   run.json                                   settings; a resumed run must match them
//   base/seed-<s>/<k>-<domain>.json            base model fine-tuned on task k
//   <method>/seed-<s>/kl-importance/           DAS: I_KL (raw, ContinualLM layout)
//   <method>/seed-<s>/<t>-<domain>/            posttrain output: model/, importance/, log.jsonl, result.json
//   <method>/seed-<s>/<t>-<domain>/finetune/<k>-<domain>.json
//   <method>/seed-<s>/<t>-<domain>/mlm-eval.json, base/mlm-eval.json   held-out MLM losses (--held-out)
//   <method>/seed-<s>/state.json               progress, timings and counters of work done
//   timings.json                               wall time and base-model phases of each finished invocation
//   results.json, results.md, log.txt, plots/*.svg (loss curves, DAS importance, progressive matrices, held-out MLM loss)
//   results.json also holds the settings, backend, version and per-phase timings (report.ts RunMeta)
//   locks/<part>.lock                          held while a process works on a part (shards.ts, io/lock.ts)
//   shards/<K>-of-<N>.json                     written when `--shard K/N` has finished its parts
// Every step is recognised as finished by its output files (written atomically), so an interrupted
// run continues where it stopped and never redoes a finished domain. The work falls into independent
// parts (base fine-tunes per seed, base held-out loss, method × seed chains; shards.ts), each run under
// a lock, so several processes (`--shard K/N`) can share one run directory.
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { chunkCorpus, splitValid } from '../data/mlm-data.js';
import { type Example, type SequenceDomain, type TaskReport, orThrow, readCorpus, readLabels, readSequence, readTask, taskReport } from '../data/validate.js';
import { E } from '../fp.js';
import { writeFileAtomic } from '../io/atomic.js';
import { createExclusive } from '../io/lock.js';
import { SettingsMismatch, settingsDiff } from '../io/out-dir.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { release } from '../tensor/scope.js';
import { type FinetuneHyper, finetune } from '../eval/finetune.js';
import type { ProgressFactory } from '../train/progress.js';
import type { Counters, Method, PosttrainHyper, SeedContext } from './method.js';
import { METHODS, domainDir, methodNames, scoreKinds } from './methods.js';
import { type PosttrainResult, posttrain } from './posttrain.js';
import { type Part, type Shard, forEachClaimed, runParts, shardOf, withLock } from './shards.js';
import { GENERAL, type HeldOut, heldOutLosses, heldOutSets } from '../eval/mlm-eval.js';
import { writePlots } from '../eval/plots.js';
import { HELD_OUT_FILE, type Invocation, type RunResults, type SeedSeconds, TIMINGS_FILE, baseFile, collectResults, finetuneFile, markdownReport, readInvocations, runMeta, seedDir } from '../eval/report.js';

/** The fine-tuning seeds of the reference (§7.2); `--seeds N` takes the first N. */
export const REFERENCE_SEEDS = [2021, 111, 222, 333, 444, 555, 666, 777, 888, 999] as const;

export interface RunOptions {
  sequence: string;
  /** Base model: Hugging Face directory with an MLM head and tokenizer files. */
  model: string;
  out: string;
  methods: readonly string[];
  seeds: readonly number[];
  /** Use only the first N domains of the sequence. */
  domains?: number;
  /**
   * Which cells of the progressive matrix to fine-tune: 'full' (every seen task after every domain,
   * docs/method.md §8.1) or 'diagonal-final' (A[k][k] and the final row only: all that the final table, the
   * forgetting rate and transfer need, at about 30 % fewer fine-tunes for 4 domains).
   */
  matrix?: 'full' | 'diagonal-final';
  /**
   * Held-out MLM loss after every domain (general validation text and each seen domain's held-out
   * lines, at most maxChunks chunks each; see mlm-eval.ts). Off when absent.
   */
  heldOut?: { maxChunks: number };
  /** Fine-tune the base model directly on every end task (the "vs base" transfer); default true. */
  baseFinetune?: boolean;
  posttrain: PosttrainHyper;
  finetune: Omit<FinetuneHyper, 'seed'>;
  backend: Backend;
  quiet?: boolean;
  /** Progress bars of post-training and fine-tuning (default: none; the command line draws them). */
  progress?: ProgressFactory;
  /** Aborting stops the run like a crash; running it again continues. */
  signal?: AbortSignal;
  /**
   * Run only shard `index` (1-based) of `count` of the parts (shards.ts): several processes, e.g. a
   * Slurm job array, share one run directory; a shard writes no results.json (the run without a shard,
   * afterwards, finds everything done and writes it).
   */
  shard?: Shard;
  /** Progress of post-training: method, seed, domain index, step, loss. */
  onStep?: (e: { method: string; seed: number; domain: number; step: number; loss: number }) => void;
}

interface Task { train: Example[]; test: Example[]; labels: string[] }

export interface SeedState {
  method: string;
  seed: number;
  domains: { name: string; posttrained: boolean; secondsPerStep: number | null; evaluated: number[] }[];
  counters: Counters;
  done: boolean;
  /** Seconds spent per phase, summed over invocations; absent in runs begun before it was recorded. */
  seconds?: SeedSeconds;
}

/** Reads and checks everything before any training: sequence, corpora, tasks, labels, base model. */
export async function validateRun(o: RunOptions): Promise<{ domains: SequenceDomain[]; tasks: Task[]; heldOut: HeldOut[]; reports: TaskReport[] }> {
  const unknown = o.methods.filter((m) => !(m in METHODS));
  if (o.methods.length === 0 || unknown.length > 0) throw new Error(`unknown method '${unknown[0] ?? ''}' (choose from ${methodNames.join(', ')})`);
  if (new Set(o.methods).size !== o.methods.length) throw new Error(`method list repeats a method: ${o.methods.join(',')}`);
  if (o.seeds.length === 0 || new Set(o.seeds).size !== o.seeds.length || !o.seeds.every(Number.isSafeInteger)) throw new Error(`seeds must be distinct integers, got ${o.seeds.join(',')}`);
  const seq = orThrow(readSequence(o.sequence));
  if (o.domains !== undefined && !(Number.isSafeInteger(o.domains) && o.domains >= 1)) throw new Error(`--domains must be a positive integer, got ${o.domains}`);
  if (o.domains !== undefined && o.domains > seq.domains.length) throw new Error(`--domains ${o.domains}: ${o.sequence} has only ${seq.domains.length} domain${seq.domains.length === 1 ? '' : 's'}`);
  const domains = seq.domains.slice(0, o.domains ?? seq.domains.length);
  const ck = await loadCheckpoint(o.model, o.backend);
  if (E.isLeft(ck)) throw new Error(`base model: ${ck.left.message}`);
  const { cfg, params } = ck.right;
  const hasHead = params.lmHead !== undefined;
  release(params);
  if (!hasHead) throw new Error(`${o.model} has no MLM head (lm_head.*); post-training needs one`);
  const tok = await loadTokenizer(o.model);
  if (E.isLeft(tok)) throw new Error(`base model: ${tok.left.message}`);
  if (tok.right.vocabSize > cfg.vocabSize) throw new Error(`${o.model}: the tokenizer has ${tok.right.vocabSize} tokens, the model ${cfg.vocabSize}`);   // a larger model vocabulary: unused rows (das init)
  if (o.posttrain.seqLen + cfg.padId + 1 > cfg.maxPositions) throw new Error(`--seq-len ${o.posttrain.seqLen} needs ${o.posttrain.seqLen + cfg.padId + 1} positions; the model has ${cfg.maxPositions}`);
  const reports: TaskReport[] = [];
  const tasks = domains.map((d) => {
    const lines = orThrow(readCorpus(d.train));
    const chunks = chunkCorpus(splitValid(lines, 5).train, tok.right, { seqLen: o.posttrain.seqLen }).length;
    const accum = o.posttrain.gradAccum ?? 1, stepChunks = o.posttrain.batchSize * accum;
    if (chunks < stepChunks) throw new Error(`domain ${d.name}: ${d.train} gives ${chunks} chunks of ${o.posttrain.seqLen} tokens, fewer than one batch of ${accum > 1 ? `${stepChunks} (${o.posttrain.batchSize} × --grad-accum ${accum})` : stepChunks}`);
    const labels = orThrow(readLabels(d.labels));
    const task = { labels, train: orThrow(readTask(d.taskTrain, labels)), test: orThrow(readTask(d.taskTest, labels)) };
    const used = { train: task.train.slice(0, o.finetune.maxTrain ?? task.train.length), test: task.test.slice(0, o.finetune.maxTest ?? task.test.length) };
    reports.push(taskReport(d.name, labels, used.train, used.test, lines));
    return task;
  });
  if (o.heldOut && seq.general?.valid === undefined) throw new Error(`--held-out needs held-out general text: ${o.sequence} has no "general": { "valid": … } (or use --held-out 0)`);
  if (o.heldOut && domains.some((d) => d.name === GENERAL)) throw new Error(`a domain is named "${GENERAL}", the held-out general text's name; rename it`);
  const heldOut = o.heldOut ? heldOutSets(seq.general?.valid, domains, tok.right, cfg.vocabSize, { seqLen: o.posttrain.seqLen, batchSize: 16, maxChunks: o.heldOut.maxChunks }) : [];
  return { domains, tasks, heldOut, reports };
}

/** Settings that must match when an existing --out is continued (methods and seeds may be added). */
const fingerprint = (o: RunOptions, domains: readonly SequenceDomain[]) => ({
  sequence: o.sequence, model: o.model, domains: domains.map((d) => d.name), posttrain: o.posttrain,
  finetune: o.finetune.pool === 'cls' ? (({ pool: _default, ...rest }) => rest)(o.finetune) : o.finetune,   // runs from before --ft-pool continue
  ...(o.matrix === 'diagonal-final' ? { matrix: o.matrix } : {}),
});

/** Checks (or records) run.json; returns whether the run directory existed (a resumed run). */
async function checkFingerprint(o: RunOptions, domains: readonly SequenceDomain[]): Promise<boolean> {
  const file = join(o.out, 'run.json');
  const want = fingerprint(o, domains);
  if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new Error(`--out ${o.out} is a file, not a directory`);
  if (existsSync(o.out) && !existsSync(file) && readdirSync(o.out).length > 0) {
    throw new Error(`${o.out} already holds files but no run.json, so it is not a run directory whose settings can be checked; use another --out`);
  }
  const check = () => {
    const have = (JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: unknown }).fingerprint;
    if (JSON.stringify(have) !== JSON.stringify(want)) throw new SettingsMismatch(o.out, settingsDiff(have, want), 'a run');
    return true;
  };
  if (existsSync(file)) return check();
  await mkdir(o.out, { recursive: true });
  // created exclusively: of several shards starting at once, one writes it and the others check it
  return createExclusive(file, `${JSON.stringify({ fingerprint: want, created: new Date().toISOString() }, null, 2)}\n`) ? false : check();
}

async function writeJson(file: string, v: unknown): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(v, null, 2)}\n`);
}

function loadState(file: string, method: string, seed: number, domains: readonly SequenceDomain[]): SeedState {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SeedState;
  return {
    method, seed, domains: domains.map((d) => ({ name: d.name, posttrained: false, secondsPerStep: null, evaluated: [] })), counters: { posttrain: 0, importance: 0, finetune: 0 }, done: false,
    seconds: { prepare: 0, domains: domains.map(() => ({ posttrain: 0, afterDomain: 0, heldOut: 0, finetune: 0 })) },
  };
}

/** Runs f, adding the seconds it takes to rec[key] (no record: nothing). */
async function timed<K extends string, T>(rec: Record<K, number> | undefined, key: K, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try { return await f(); } finally { if (rec) rec[key] = (Math.round((rec[key] ?? 0) * 1000) + Date.now() - t0) / 1000; }
}

/** Fine-tunes `model` on task k unless its score file exists; returns whether it ran. */
async function scoreTask(o: RunOptions, model: string, task: Task, seed: number, file: string, label: string): Promise<boolean> {
  if (existsSync(file)) return false;
  const r = await finetune({ ...o.finetune, seed, model, train: task.train, test: task.test, labels: task.labels, backend: o.backend, quiet: o.quiet, progress: o.progress, label });
  const { predictions, ...rest } = r;
  await writeJson(file, { ...rest, model, predictions });
  return true;
}

/**
 * Copies domain t of the method that trains it identically (Method.sameDomainAs), when that one has
 * finished it in this run and this method has not started it: the model, importance, log and the
 * score of the domain's own end task (the same model fine-tuned with the same seed). Returns whether it copied.
 */
function copySharedDomain(o: RunOptions, m: Method, seed: number, t: number, out: string, domains: readonly SequenceDomain[]): boolean {
  const other = m.sameDomainAs?.(t);
  if (other === undefined || !o.methods.includes(other) || existsSync(out)) return false;
  const src = join(seedDir(o.out, other, seed), `${t}-${domains[t].name}`);
  if (!existsSync(join(src, 'result.json')) || !existsSync(join(src, 'model', 'model.safetensors'))) return false;
  const tmp = `${out}.copy`;   // a leftover from a crash is replaced
  rmSync(tmp, { recursive: true, force: true });
  const checkpoint = join(src, 'checkpoint'), scores = join(src, 'finetune'), own = join(scores, `${t}-${domains[t].name}.json`);
  const inside = (f: string, dir: string) => f === dir || f.startsWith(`${dir}/`);
  try {
    // another process (a shard) may still be writing into src: its temporary files are skipped, and a file that vanishes mid-copy means train instead
    cpSync(src, tmp, { recursive: true, filter: (f) => !/\.tmp-\d+-[0-9a-f]+$/.test(f) && !inside(f, checkpoint) && (!inside(f, scores) || f === scores || f === own) });
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return false;
  }
  renameSync(tmp, out);
  return true;
}

/**
 * Run-wide progress: every post-trained domain and every fine-tune is a stage. After each stage that
 * did work it logs `stage i/N … about M min left`, the estimate from this invocation's measured
 * seconds per post-training and per fine-tune (stages found finished count at once).
 */
class RunProgress {
  private done = 0;
  private readonly left: Record<StageKind, number>;
  private readonly spent: Record<StageKind, { n: number; seconds: number }> = { posttrain: { n: 0, seconds: 0 }, finetune: { n: 0, seconds: 0 } };
  constructor(private readonly total: Record<StageKind, number>, private readonly log: (s: string) => void) { this.left = { ...total }; }

  get all(): number { return this.total.posttrain + this.total.finetune; }

  /** Runs a stage: `fn` says whether it did work (false: found finished). */
  async stage(kind: StageKind, label: string, fn: () => Promise<boolean>): Promise<boolean> {
    const t0 = Date.now();
    const ran = await fn();
    this.done++;
    this.left[kind]--;
    if (!ran) return false;
    this.spent[kind].n++;
    this.spent[kind].seconds += (Date.now() - t0) / 1000;
    this.log(`stage ${this.done}/${this.all} (${label}) done; ${this.eta()}`);
    return true;
  }

  private eta(): string {
    const avg = (k: StageKind) => (this.spent[k].n > 0 ? this.spent[k].seconds / this.spent[k].n : undefined);
    const known = (['posttrain', 'finetune'] as const).filter((k) => this.left[k] > 0);
    if (known.length === 0) return 'all stages done';
    if (known.some((k) => avg(k) === undefined)) return `${this.all - this.done} stages left`;
    const s = known.reduce((a, k) => a + this.left[k] * avg(k)!, 0);
    return `about ${s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`} left`;
  }
}

type StageKind = 'posttrain' | 'finetune';

/** Fine-tunes taken after domain t under --matrix. */
const cellsAfter = (o: RunOptions, m: Method, t: number, domains: number): number[] =>
  m.evaluates(t, domains).filter((k) => o.matrix !== 'diagonal-final' || k === t || t === domains - 1);

/** Whether method m post-trains domain t (MLT: only the last). */
const trains = (m: Method, t: number, domains: number): boolean => m.trainsDomain?.(t, domains) ?? true;

/** Post-trains domain t for method m with the run's hyper-parameters (the method's afterDomain step included). */
async function posttrainDomain(ctx: SeedContext, m: Method, t: number, out: string): Promise<PosttrainResult> {
  const { options, ...h } = ctx.hyper;
  // the run's method settings that are this method's own (das run --method all --kd-weight 2: only kd gets it)
  const own = Object.fromEntries(Object.entries(options ?? {}).filter(([k]) => m.options?.[k] !== undefined));
  return posttrain({
    ...h, ...(Object.keys(own).length > 0 ? { options: own } : {}), ...(m.corpusIsTraining ? { wholeCorpus: true } : {}), model: await m.startsFrom(ctx, t), corpus: m.corpus ? await m.corpus(ctx, t) : ctx.domains[t].train, steps: m.steps?.(ctx, t) ?? h.steps,
    out, method: m, importance: m.priors?.(ctx, t), seed: ctx.seed,
    backend: ctx.backend, quiet: ctx.quiet, progress: ctx.progress, adoptExisting: true, signal: ctx.signal,
    onStep: ctx.onStep && ((step, loss) => ctx.onStep!(t, step, loss)),
  });
}

async function runSeed(o: RunOptions, m: Method, seed: number, domains: readonly SequenceDomain[], tasks: readonly Task[], heldOut: readonly HeldOut[], log: (s: string) => void, progress: RunProgress): Promise<SeedState> {
  const dir = seedDir(o.out, m.name, seed);
  await mkdir(dir, { recursive: true });
  const stateFile = join(dir, 'state.json');
  const state = loadState(stateFile, m.name, seed, domains);
  const ctx: SeedContext = {
    base: o.model, domains, seed, dir, hyper: o.posttrain, backend: o.backend, counters: state.counters, quiet: o.quiet, progress: o.progress, log, signal: o.signal,
    onStep: o.onStep && ((domain, step, loss) => o.onStep!({ method: m.name, seed, domain, step, loss })),
  };
  const save = () => writeJson(stateFile, state);
  const where = (t: number) => `${m.name} seed ${seed} ${domains[t].name}`;
  await timed(state.seconds, 'prepare', () => m.prepare(ctx));
  await save();
  for (let t = 0; t < domains.length; t++) {
    if (!trains(m, t, domains.length)) continue;
    const out = domainDir(ctx, t), sec = state.seconds?.domains[t];
    let r!: PosttrainResult;
    await progress.stage('posttrain', `${where(t)}: post-training`, async () => {
      const copied = copySharedDomain(o, m, seed, t, out, domains);
      if (copied) log(`${m.name} seed ${seed}: domain ${t + 1} (${domains[t].name}) is ${m.sameDomainAs!(t)}'s, copied`);
      r = await timed(sec, 'posttrain', () => posttrainDomain(ctx, m, t, out));
      return copied || r.trained || r.importanceComputed;
    });
    if (r.stoppedOnNaN) throw new Error(`${m.name} seed ${seed}, domain ${domains[t].name}: the loss became non-finite; the last good checkpoint is kept under ${out} (lower --lr, use a new --out)`);
    if (r.trained) state.counters.posttrain++;
    if (r.importanceComputed) state.counters.importance++;
    state.domains[t].posttrained = true;
    state.domains[t].secondsPerStep = r.secondsPerStep ?? state.domains[t].secondsPerStep;
    await save();
    if (heldOut.length > 0) {
      const seen = new Set([GENERAL, ...m.evaluates(t, domains.length).map((k) => domains[k].name)]);
      // a method with per-task models (HAT: task k's mask) reads domain k's text with task k's model, general text with domain t's
      const modelFor = m.endTaskModel ? (set: string) => { const k = domains.findIndex((d) => d.name === set); return m.endTaskModel!(ctx, t, k < 0 ? t : k); } : join(out, 'model');
      await timed(sec, 'heldOut', () => heldOutLosses(modelFor, heldOut.filter((h) => seen.has(h.name)), join(out, HELD_OUT_FILE), o.backend));
    }
    for (const k of cellsAfter(o, m, t, domains.length)) {
      const label = `${m.name} ${domains[t].name}→${domains[k].name}`;
      const file = finetuneFile(dir, domains, t, k);
      const model = async () => (existsSync(file) ? '' : m.endTaskModel ? await m.endTaskModel(ctx, t, k) : join(out, 'model'));
      const ran = await progress.stage('finetune', `${label}, seed ${seed}: fine-tuning`, () => timed(sec, 'finetune', async () => scoreTask(o, await model(), tasks[k], seed, file, label)));
      if (ran) state.counters.finetune++;
      if (!state.domains[t].evaluated.includes(k)) state.domains[t].evaluated.push(k);
      await save();
    }
    log(`${m.name} seed ${seed}: domain ${t + 1}/${domains.length} (${domains[t].name}) done`);
  }
  state.done = true;
  await save();
  return state;
}

export interface RunSummary {
  /** The results (written as results.json / results.md unless sharded: a shard only reads them). */
  results: RunResults;
  /** The seed chains this invocation went through, in part order. */
  states: SeedState[];
  baseFinetunes: number;
  seconds: number;
  /** The parts this invocation was given (all of them without a shard). */
  parts: string[];
}

/**
 * Runs (or continues) the whole sequence, or with `shard` only its share of the parts (shards.ts);
 * writes results.json and results.md under o.out unless sharded.
 */
export async function runSequence(options: RunOptions): Promise<RunSummary> {
  const t0 = Date.now();
  const { gradAccum, ...hyper } = options.posttrain;   // gradAccum 1 is no setting: run.json and results.json stay as without it
  const o: RunOptions = { ...options, posttrain: { ...hyper, ...(gradAccum !== undefined && gradAccum !== 1 ? { gradAccum } : {}) } };
  const sh = o.shard;
  if (sh !== undefined && !(Number.isSafeInteger(sh.index) && Number.isSafeInteger(sh.count) && sh.index >= 1 && sh.index <= sh.count)) throw new Error(`shard ${sh.index}/${sh.count}: K must be between 1 and N`);
  const { domains, tasks, heldOut, reports } = await validateRun(o);
  const resumed = await checkFingerprint(o, domains);
  const time: Invocation = { started: new Date(t0).toISOString(), seconds: 0, setup: (Date.now() - t0) / 1000, baseFinetune: 0, baseHeldOut: 0, ...(sh ? { shard: `${sh.index}/${sh.count}` } : {}) };
  const tag = sh ? `[shard ${sh.index}/${sh.count}] ` : '';
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${tag}${s}\n`);
    appendFileSync(join(o.out, 'log.txt'), `${new Date().toISOString()} ${tag}${s}\n`);
  };
  const parts = shardOf(runParts(o), sh);
  const chains = parts.filter((p) => p.kind === 'chain');
  const total = {
    posttrain: chains.reduce((a, p) => a + domains.filter((_d, t) => trains(METHODS[p.method!], t, domains.length)).length, 0),
    finetune: parts.filter((p) => p.kind === 'base').length * domains.length
      + chains.reduce((a, p) => a + domains.reduce((b, _d, t) => b + (trains(METHODS[p.method!], t, domains.length) ? cellsAfter(o, METHODS[p.method!], t, domains.length).length : 0), 0), 0),
  };
  const progress = new RunProgress(total, log);
  log(`das run${resumed ? ' (resumed: finished stages are kept, not redone)' : ''}: methods ${o.methods.join(', ')}; seeds ${o.seeds.join(', ')}; domains ${domains.map((d) => d.name).join(' → ')}; ${sh ? `parts ${parts.map((p) => p.id).join(', ')}; ` : ''}${progress.all} stages (${total.posttrain} post-trainings, ${total.finetune} fine-tunes)`);
  for (const r of reports) {
    const show = (c: Record<string, number>) => Object.entries(c).map(([l, n]) => `${l} ${n}`).join(', ');
    log(`task ${r.name}: train ${show(r.counts.train)}; test ${show(r.counts.test)}`);
    for (const w of r.warnings) log(`warning: ${w}`);
  }
  let baseFinetunes = 0;
  const states = new Map<string, SeedState>();
  const runPart = async (p: Part): Promise<void> => {
    if (p.kind === 'base') {
      const seed = p.seed!;
      for (let k = 0; k < domains.length; k++) {
        if (await progress.stage('finetune', `base→${domains[k].name}, seed ${seed}: fine-tuning`, () => timed(time, 'baseFinetune', () => scoreTask(o, o.model, tasks[k], seed, baseFile(o.out, seed, domains, k), `base →${domains[k].name}`)))) baseFinetunes++;
      }
    } else if (p.kind === 'baseHeldOut') await timed(time, 'baseHeldOut', () => heldOutLosses(o.model, heldOut, join(o.out, 'base', HELD_OUT_FILE), o.backend));
    else states.set(p.id, await runSeed(o, METHODS[p.method!], p.seed!, domains, tasks, heldOut, log, progress));
  };
  await forEachClaimed(o.out, parts, `das run${sh ? ` --shard ${sh.index}/${sh.count}` : ''}`, runPart, log, { signal: o.signal });
  await withLock(o.out, 'timings', 'das run: timings.json', async () => {
    await writeJson(join(o.out, TIMINGS_FILE), { invocations: [...readInvocations(o.out), { ...time, seconds: (Date.now() - t0) / 1000 }] });
  });
  const results = collectResults(o.out, o.sequence, domains, o.seeds, o.methods, runMeta(o, domains), scoreKinds(o.methods));
  const done = { states: chains.flatMap((p) => (states.has(p.id) ? [states.get(p.id)!] : [])), baseFinetunes, parts: parts.map((p) => p.id) };
  if (sh !== undefined) {
    await writeJson(join(o.out, 'shards', `${sh.index}-of-${sh.count}.json`), { shard: `${sh.index}/${sh.count}`, parts: done.parts, finished: new Date().toISOString() });
    log(`shard ${sh.index}/${sh.count} done (${done.parts.join(', ') || 'no part'}); the same command without --shard writes the table`);
    return { results, ...done, seconds: (Date.now() - t0) / 1000 };
  }
  await writeJson(join(o.out, 'results.json'), results);
  await writeFileAtomic(join(o.out, 'results.md'), markdownReport(results));
  const plots = await writePlots(o.out);
  log(`results: ${join(o.out, 'results.md')}; plots: ${plots.map((p) => basename(p)).join(', ')}`);
  return { results, ...done, seconds: (Date.now() - t0) / 1000 };
}
