// Post-training of one domain (`das posttrain`; docs/method.md §1 step 2, §6, §7.1) for any method
// record: the method supplies its loss, the gradient transformations around HF AdamW (eps 1e-6, no
// weight decay) and its extra state for the domain; the one training loop (train/loop.ts) runs the
// steps, with a linear warm-up over 10 % of the steps, then linear decay; afterwards the method's
// afterDomain step runs (DAS: the MLM importance of the trained model).
// Output folder: settings.json, checkpoint/ (resumable, removed when done), model/ (final),
// log.jsonl, result.json, and what afterDomain writes (DAS: importance/). Finished parts are
// recognised by their files and never recomputed.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { valueAndGrad } from '../autodiff/grad.js';
import type { Backend } from '../backend/backend.js';
import { contrastDefaults } from '../das/contrastive.js';
import { IMPORTANCE_SUBSET } from '../das/importance.js';
import type { SoftMaskTarget } from '../das/soft-mask.js';
import { BatchStream, type MlmBatch, domainChunks, mlmCollate, stepKey } from '../data/mlm-data.js';
import { E } from '../fp.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../io/hf-roberta.js';
import { checkOutDir, claimOutDir } from '../io/out-dir.js';
import { type Tokenizer, loadTokenizer } from '../io/tokenizer/index.js';
import type { RobertaConfig } from '../nn/config.js';
import { mlmTargets, toDevice } from '../nn/mlm.js';
import type { Params } from '../nn/params.js';
import { HF_ADAMW } from '../ops/adamw.js';
import { foldIn, key } from '../ops/random.js';
import { type AdamWConfig, type AdamWState, adamw, adamwDefaults, adamwInit } from '../optim/adamw.js';
import { linearSchedule, warmupFor } from '../optim/schedule.js';
import { type GradientTransformation, applyGradients, chain, emptyState } from '../optim/transform.js';
import { release, tidy } from '../tensor/scope.js';
import { loadTrainCheckpoint, saveTrainCheckpoint, tokenizerFiles } from '../train/checkpointing.js';
import { type MicroResult, type Share, accumulate, microBatches, microKey } from '../train/accumulate.js';
import { trainLoop } from '../train/loop.js';
import type { TrainState } from '../train/mlm-step.js';
import type { ProgressFactory } from '../train/progress.js';
import { type DomainTraining, type Method, type PosttrainHyper, optionValues, trainsAs } from './method.js';
import { methodByName } from './methods.js';

/** HF AdamW, eps 1e-6, no weight decay (§7.1): every method's optimizer, between its own transformations. */
export const posttrainAdamw: AdamWConfig = { ...adamwDefaults, ...HF_ADAMW, weightDecay: 0 };

/** The default of every post-training setting: the one place the CLI, `das run` and the library read them from. */
export const posttrainDefaults = {
  steps: 300, batchSize: 16, seqLen: 128, lr: 1e-4, seed: 111, warmup: 0.1, softMaskTarget: 'gradient' as SoftMaskTarget,
  saveEvery: 50, importanceSubset: IMPORTANCE_SUBSET, importanceBatchSize: 16, dropout: true,
} as const;

export interface PosttrainOptions extends Partial<Omit<PosttrainHyper, 'steps' | 'batchSize' | 'seqLen' | 'lr'>> {
  /** Hugging Face directory to start from (weights, MLM head, tokenizer files). */
  model: string;
  corpus: string;
  out: string;
  /** The method (a record, or its name: das, ncl, …). */
  method: Method | string;
  /** Prior outputs this domain builds on (DAS: importance directories, raw or normalised, accumulated by EMax). */
  importance?: readonly string[];
  /** The corpus is training text already: train on every line (default: hold out its first 5 %, as the held-out evaluation expects). */
  wholeCorpus?: boolean;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  dropout?: boolean;
  /**
   * Continue an --out that holds output without settings.json (written before settings were
   * recorded): `das run` sets it, having checked the settings of the whole run directory.
   */
  adoptExisting?: boolean;
  backend: Backend;
  quiet?: boolean;
  /** Progress of the training steps (default: none; the command line draws bars). */
  progress?: ProgressFactory;
  /** Checked before every step: an aborted run stops like a crash (the last periodic checkpoint stays). */
  signal?: AbortSignal;
  /** Called after every finished step. */
  onStep?: (step: number, loss: number) => void;
}

export interface PosttrainResult {
  /** The name the training is recorded under (ONE's domains: 'ncl'). */
  method: string;
  model: string;
  /** What afterDomain wrote (DAS: the importance directory), or null. */
  importance: string | null;
  steps: number;
  finalLoss: number | null;
  /** Seconds per training step in this invocation (null when nothing was trained). */
  secondsPerStep: number | null;
  resumedAt: number | null;
  trained: boolean;
  importanceComputed: boolean;
  stoppedOnNaN: boolean;
}

export const posttrainPaths = (out: string) => ({
  checkpoint: join(out, 'checkpoint'), model: join(out, 'model'), log: join(out, 'log.jsonl'), result: join(out, 'result.json'),
});

const methodOf = (o: PosttrainOptions): Method => (typeof o.method === 'string' ? methodByName(o.method) : o.method);

/** The hyper-parameters with every default filled in. */
function hyperOf(o: PosttrainOptions): PosttrainHyper & { seed: number; dropout: boolean } {
  const d = posttrainDefaults;
  return {
    steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr, seed: o.seed, dropout: o.dropout ?? d.dropout, warmup: o.warmup ?? d.warmup,
    contrastWeight: o.contrastWeight ?? contrastDefaults.contrastWeight, referenceCompat: Boolean(o.referenceCompat), softMaskTarget: o.softMaskTarget ?? d.softMaskTarget,
    saveEvery: o.saveEvery ?? d.saveEvery, importanceSubset: o.importanceSubset ?? d.importanceSubset, importanceBatchSize: o.importanceBatchSize ?? d.importanceBatchSize,
    ...accumSetting(o), ...(o.options !== undefined && Object.keys(o.options).length > 0 ? { options: o.options } : {}),
  };
}

/** gradAccum as a recorded setting: absent when 1, so outputs without accumulation stay as they were (and resume). */
const accumSetting = (o: { gradAccum?: number }) => ((o.gradAccum ?? 1) > 1 ? { gradAccum: o.gradAccum } : {});

/**
 * What must match for a checkpoint to be resumed. Its keys are those of the checkpoints written
 * before methods were records (so they still resume): `extraLoss` is always null now.
 */
function fingerprintOf(o: PosttrainOptions) {
  const h = hyperOf(o);
  return {
    model: o.model, corpus: o.corpus, method: trainsAs(methodOf(o)), importance: o.importance ?? [], steps: h.steps, batchSize: h.batchSize, seqLen: h.seqLen, lr: h.lr,
    seed: h.seed, warmup: h.warmup, contrastWeight: h.contrastWeight, referenceCompat: h.referenceCompat, softMaskTarget: h.softMaskTarget, dropout: h.dropout, extraLoss: null,
    ...accumSetting(o), ...ownOptions(methodOf(o), h), ...(o.wholeCorpus ? { wholeCorpus: true } : {}),
  };
}

/** A method's own settings with their values (absent for methods without any, so their checkpoints resume as before). */
const ownOptions = (m: Method, h: PosttrainHyper) => (m.options !== undefined && Object.keys(m.options).length > 0 ? { options: optionValues(m, h) } : {});

/** Everything that decides a post-training output (recorded in settings.json; a resumed or finished --out must match). */
export const posttrainSettings = (o: PosttrainOptions) => {
  const { extraLoss: _gone, ...common } = fingerprintOf(o);
  return { ...common, ...(methodOf(o).settings?.(hyperOf(o)) ?? {}) };
};

function checkOptions(o: PosttrainOptions): void {
  const m = methodOf(o);
  for (const k of ['steps', 'batchSize', 'seqLen'] as const) if (!(Number.isSafeInteger(o[k]) && o[k] > 0)) throw new Error(`posttrain: ${k} must be a positive integer, got ${o[k]}`);
  if (o.gradAccum !== undefined && !(Number.isSafeInteger(o.gradAccum) && o.gradAccum > 0)) throw new Error(`posttrain: gradAccum must be a positive integer, got ${o.gradAccum}`);
  if (!(o.lr > 0)) throw new Error(`posttrain: lr must be positive, got ${o.lr}`);
  for (const [k, v] of Object.entries(o.options ?? {})) {
    const spec = m.options?.[k];
    if (spec === undefined) throw new Error(`posttrain --method ${m.name} has no setting '${k}'${m.options ? ` (its settings: ${Object.keys(m.options).join(', ')})` : ''}`);
    const bad = spec.kind === 'string' ? (typeof v !== 'string' || (spec.choices !== undefined && !spec.choices.includes(v)))
      : (typeof v !== 'number' || !Number.isFinite(v) || (spec.kind === 'int' && !Number.isInteger(v)) || (spec.min !== undefined && v < spec.min) || (spec.gt !== undefined && !(v > spec.gt)));
    if (bad) throw new Error(`posttrain --method ${m.name}: setting '${k}' must be ${spec.choices ? `one of ${spec.choices.join(', ')}` : `a${spec.kind === 'int' ? 'n integer' : ' number'}${spec.gt !== undefined ? ` > ${spec.gt}` : spec.min !== undefined ? ` ≥ ${spec.min}` : ''}`}, got ${JSON.stringify(v)}`);
  }
  if (m.needsPriors && (o.importance ?? []).length === 0) throw new Error(`posttrain --method ${m.name} needs ${m.priorsHint ?? 'prior outputs (--importance DIR…)'}`);
  if (o.softMaskTarget !== undefined && o.softMaskTarget !== 'gradient' && o.softMaskTarget !== 'update') throw new Error(`posttrain: soft-mask target must be gradient or update, got '${String(o.softMaskTarget)}'`);
}

/** chain(...before, adamw, ...after) and how its state wraps AdamW's (the only state a checkpoint stores). */
function optimizer(d: DomainTraining, lr: number) {
  const before = d.before ?? [], after = d.after ?? [];
  const tx = chain(...before, adamw<Params>({ ...posttrainAdamw, lr }), ...after) as GradientTransformation<unknown[], Params>;
  const wrap = (opt: AdamWState<Params>): unknown[] => [...before.map(() => emptyState), opt, ...after.map(() => emptyState)];
  return { tx, wrap, unwrap: (s: unknown[]) => s[before.length] as AdamWState<Params> };
}

/** Trains (or resumes) until model/ exists. */
async function train(o: PosttrainOptions, m: Method, paths: ReturnType<typeof posttrainPaths>, log: (s: string) => void):
  Promise<{ stopped: boolean; steps: number; finalLoss: number | null; secondsPerStep: number | null; resumedAt: number | null }> {
  const h = hyperOf(o);
  let cfg!: RobertaConfig, tok!: Tokenizer, chunks: Int32Array[] = [], domain: DomainTraining | undefined;
  const accum = o.gradAccum ?? 1, stepChunks = o.batchSize * accum;   // a step's chunks (train/accumulate.ts)
  const stream = () => new BatchStream(chunks.length, stepChunks, o.seed);
  let batches!: BatchStream;
  const schedule = linearSchedule(o.lr, o.steps, warmupFor(o.steps, h.warmup!));
  try {
    const r = await trainLoop<TrainState>({
      label: `posttrain ${m.name}`, steps: o.steps, fingerprint: fingerprintOf(o), saveEvery: h.saveEvery, log: paths.log,
      progress: o.progress, signal: o.signal, release: (s) => release(s),
      checkpoint: {
        dir: paths.checkpoint,
        save: (dir, s, trainer) => saveTrainCheckpoint(dir, cfg, s, tok, trainer),
        load: async (dir) => {
          const c = await loadTrainCheckpoint(dir, o.backend);
          if (E.isLeft(c)) return c;
          const t = await loadTokenizer(dir);
          if (E.isLeft(t)) { release(c.right.s); return t; }
          ({ cfg } = c.right);
          tok = t.right;
          log(`posttrain: resuming ${dir} at step ${c.right.state.step}/${o.steps}`);
          return E.right({ s: c.right.s, trainer: c.right.state });
        },
      },
      init: async () => {
        const ck = await loadCheckpoint(o.model, o.backend);
        if (E.isLeft(ck)) throw ck.left;
        const t = await loadTokenizer(o.model);
        if (E.isLeft(t)) { release(ck.right.params); throw t.left; }
        ({ cfg } = ck.right);
        tok = t.right;
        const { classifier, ...params } = ck.right.params;
        release(classifier);
        if (params.lmHead === undefined) { release(params); throw new Error(`${o.model} has no MLM head (lm_head.*); post-training needs one`); }
        return { params, opt: adamwInit(params) };
      },
      ready: async () => {
        if (tok.vocabSize > cfg.vocabSize) throw new Error(`the tokenizer has ${tok.vocabSize} tokens, the model ${cfg.vocabSize}`);
        if (o.seqLen + cfg.padId + 1 > cfg.maxPositions) throw new Error(`seq-len ${o.seqLen} needs ${o.seqLen + cfg.padId + 1} positions; the model has ${cfg.maxPositions}`);
        chunks = domainChunks(o.corpus, tok, o.seqLen, { whole: o.wholeCorpus });
        if (chunks.length < stepChunks) throw new Error(`${o.corpus} gives ${chunks.length} chunks of ${o.seqLen} tokens, fewer than one batch of ${accum > 1 ? `${stepChunks} (${o.batchSize} × --grad-accum ${accum})` : o.batchSize}`);
        batches = stream();
        domain = await m.domain({ cfg, backend: o.backend, priors: o.importance ?? [], hyper: h });
        await claimOutDir(o.out, posttrainSettings(o));   // inputs are valid: only now does --out appear
      },
      step: (s, step) => {
        const hb = mlmCollate(batches.indicesAt(step).map((i) => chunks[i]), tok, cfg.vocabSize, stepKey(o.seed, step)).batch;
        const dk = h.dropout ? foldIn(key(o.seed + 2), step) : undefined;
        const d = domain!;
        /** Loss, parts and gradients of one (micro-)batch; `share`: its part of the step (gradient accumulation). */
        const lossAndGrad = (mb: MlmBatch, key: typeof dk, share?: Share, micro?: number): MicroResult<Params> => {
          const corrupted = toDevice(cfg, mb, o.backend);
          const original = toDevice(cfg, { B: mb.B, T: mb.T, ids: mb.originalIds, attention: mb.attention }, o.backend);
          const targets = mlmTargets(mb, o.backend);
          const batch = { corrupted, original, targets, step, ...(share ? { share, micro } : {}) };
          const [[loss, parts], g] = valueAndGrad((a: { params: Params }) => d.loss(a.params, batch, key), ['params'])({ params: s.params });
          return [loss, parts, g.params];
        };
        return tidy(() => {
          let loss, parts, grads;
          if (accum === 1) [loss, parts, grads] = lossAndGrad(hb, dk);
          else {
            // micro-batches of batchSize consecutive chunks of the step's batch, soft-masked (and clipped) once, on the sum
            const micro = microBatches(hb, o.batchSize);
            [loss, parts, grads] = accumulate(micro.length, (i) => lossAndGrad(micro[i].batch, microKey(dk, i), micro[i].share, i));
          }
          const opt = optimizer(d, schedule(step));
          const [params, state] = applyGradients(opt.tx, s.params, grads, opt.wrap(s.opt));
          return { state: { params, opt: opt.unwrap(state) }, metrics: { loss, ...parts } };
        });
      },
      record: (n, v, seconds) => ({ step: n, ...v, lr: schedule(n - 1), seconds }),
      nonFinite: (loss, step, ck) => `posttrain: loss became ${loss} at step ${step}; stopped. The last good checkpoint is ${ck ?? '(none yet)'} — lower the learning rate.`,
      onStep: o.onStep && ((n, v) => o.onStep!(n, v.loss)),
    });
    if (r.stoppedOnNaN) {
      release(r.state);
      return { stopped: true, steps: r.steps, finalLoss: r.last?.loss ?? null, secondsPerStep: null, resumedAt: r.resumedAt };
    }
    try {
      await saveCheckpoint(paths.model, cfg, r.state.params, tokenizerFiles(tok), { steps: String(r.steps), method: trainsAs(m) });
    } finally {
      release(r.state);
    }
    await rm(paths.checkpoint, { recursive: true, force: true });   // the optimizer state is not needed once model/ exists
    return { stopped: false, steps: r.steps, finalLoss: r.last?.loss ?? null, secondsPerStep: r.secondsPerStep, resumedAt: r.resumedAt };
  } finally {
    domain?.release();
  }
}

/** Post-trains one domain (see the file header). Safe to call again after an interruption. */
export async function posttrain(o: PosttrainOptions): Promise<PosttrainResult> {
  checkOptions(o);
  const m = methodOf(o);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  const paths = posttrainPaths(o.out);
  const settings = posttrainSettings(o);
  const dir = checkOutDir(o.out, settings, 'a post-training run', { adopt: o.adoptExisting });
  if (dir.exists && !dir.same) await claimOutDir(o.out, settings);   // adopted (see adoptExisting)
  let result: PosttrainResult = {
    method: trainsAs(m), model: paths.model, importance: m.afterDomainOutput ? join(o.out, m.afterDomainOutput) : null, steps: o.steps, finalLoss: null,
    secondsPerStep: null, resumedAt: null, trained: false, importanceComputed: false, stoppedOnNaN: false,
  };
  if (!existsSync(join(paths.model, 'model.safetensors'))) {
    const t = await train(o, m, paths, log);
    result = { ...result, steps: t.steps, finalLoss: t.finalLoss, secondsPerStep: t.secondsPerStep, resumedAt: t.resumedAt, trained: true, stoppedOnNaN: t.stopped };
    if (t.stopped) return result;
  }
  if (m.afterDomain) result.importanceComputed = await m.afterDomain({ model: paths.model, out: o.out, corpus: o.corpus, backend: o.backend, hyper: hyperOf(o), priors: o.importance ?? [], log });
  if (!result.trained && !result.importanceComputed && existsSync(paths.result)) {
    return { ...(JSON.parse(await readFile(paths.result, 'utf8')) as PosttrainResult), trained: false, importanceComputed: false, resumedAt: null };
  }
  await writeFileAtomic(paths.result, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
