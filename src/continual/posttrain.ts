// `das posttrain`: post-train one domain (docs/method.md §1 step 2, §6, §7.1). DAS: Ī = EMax of the prior
// importance sets; every step L = L_MLM + λ·L_CKI with the previous-knowledge pass gated by Ī, then
// soft-masked AdamW; afterwards the MLM importance of the trained model on the domain's importance
// subset (§4.3). NCL: plain MLM steps. Linear warm-up over 10 % of the steps, then linear decay.
// Output folder: checkpoint/ (resumable, removed when done), model/ (final), importance/ (DAS, raw),
// log.jsonl, result.json. Finished parts are detected by their files and never recomputed.
import { existsSync } from 'node:fs';
import { appendFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { valueAndGrad } from '../autodiff/grad.js';
import type { Backend } from '../backend/backend.js';
import { type ProgressFactory, noProgress } from '../train/progress.js';
import { BatchStream, chunkCorpus, mlmCollate, splitValid, stepKey, type MlmBatch } from '../data/mlm-data.js';
import { orThrow, readCorpus } from '../data/validate.js';
import { E } from '../fp.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutDir, claimOutDir, truncateStepLog } from '../io/out-dir.js';
import { loadCheckpoint, saveCheckpoint } from '../io/hf-roberta.js';
import { type Tokenizer, loadTokenizer } from '../io/tokenizer/index.js';
import type { RobertaConfig } from '../nn/config.js';
import { mlmLoss, mlmTargets, toDevice } from '../nn/mlm.js';
import type { Params } from '../nn/params.js';
import { add } from '../ops/binary.js';
import { type Key, foldIn, key } from '../ops/random.js';
import { HF_ADAMW } from '../ops/adamw.js';
import { type AdamWConfig, type AdamWState, adamw, adamwDefaults, adamwInit } from '../optim/adamw.js';
import { linearSchedule, warmupFor } from '../optim/schedule.js';
import { applyGradients, chain, emptyState } from '../optim/transform.js';
import { release, tidy } from '../tensor/scope.js';
import { type Tensor, read } from '../tensor/tensor.js';
import { loadTrainCheckpoint, saveTrainCheckpoint, tokenizerFiles, type TrainerState } from '../train/checkpointing.js';
import type { TrainState } from '../train/mlm-step.js';
import { type ContrastPairing, type DasBatch, contrastDefaults, dasLoss } from './contrastive.js';
import { accumulateDirs, writeDomainImportance } from './domain-importance.js';
import { type Aggregation, type MlmImportanceInput, toLayerGates } from './importance.js';
import { type Importance, type SoftMaskOptions, type SoftMaskTarget, softMask, softMaskScales } from './soft-mask.js';

export type PosttrainMethod = 'das' | 'ncl';

/** The divergences of §12 that the continual loop touches, in recommended or reference-code form. */
export interface DasSettings {
  pairing: ContrastPairing;
  axes: SoftMaskOptions;
  mlmInput: MlmImportanceInput;
  aggregation: Aggregation;
  /** KL proxy with dropout on (§12.1; the reference's passes are identical, dropout off). */
  klDropout: boolean;
}

/** referenceCompat: every reference-code behaviour at once (§12.1, 4, 5, 8, 9, 10). */
export const dasSettings = (referenceCompat = false): DasSettings => referenceCompat
  ? { pairing: 'tiledPairs', axes: { referenceCompat: true }, mlmInput: 'original', aggregation: 'signed-batch-cumulative', klDropout: false }
  : { pairing: 'sameSequence', axes: {}, mlmInput: 'corrupted', aggregation: 'abs-per-example', klDropout: true };

/** HF AdamW, eps 1e-6, no weight decay (§7.1). */
export const posttrainAdamw: AdamWConfig = { ...adamwDefaults, ...HF_ADAMW, weightDecay: 0 };

/** An extra term of the training loss, for regularising baselines (KD, EWC, …): added to L before the backward pass. */
export type ExtraLoss = (params: Params, batch: DasBatch, step: number) => Tensor;

/** The default of every post-training setting: the one place the CLI, \`das run\` and the library read them from. */
export const posttrainDefaults = {
  steps: 300, batchSize: 16, seqLen: 128, lr: 1e-4, seed: 111, warmup: 0.1, softMaskTarget: 'gradient' as SoftMaskTarget,
  saveEvery: 50, importanceSubset: 10000, importanceBatchSize: 16, dropout: true,
} as const;

export interface PosttrainOptions {
  /** Hugging Face directory to start from (weights, MLM head, tokenizer files). */
  model: string;
  corpus: string;
  out: string;
  method: PosttrainMethod;
  /** DAS: prior importance directories (raw or normalised), accumulated by EMax. */
  importance?: readonly string[];
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  /** Warm-up proportion (0.1, §7.1). */
  warmup?: number;
  contrastWeight?: number;
  referenceCompat?: boolean;
  softMaskTarget?: SoftMaskTarget;
  saveEvery?: number;
  /** Importance subset (first N chunks, §3.3) and its batch size. */
  importanceSubset?: number;
  importanceBatchSize?: number;
  /** Compute the MLM importance after training (default: DAS only). */
  computeImportance?: boolean;
  dropout?: boolean;
  extraLoss?: ExtraLoss;
  /**
   * Continue an --out that holds output without settings.json (written before settings were
   * recorded): \`das run\` sets it, having checked the settings of the whole run directory.
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
  method: PosttrainMethod;
  model: string;
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
  checkpoint: join(out, 'checkpoint'), model: join(out, 'model'), importance: join(out, 'importance'),
  log: join(out, 'log.jsonl'), result: join(out, 'result.json'),
});

/** Everything that decides a post-training output (recorded in settings.json; a resumed or finished --out must match). */
export const posttrainSettings = (o: PosttrainOptions) => ({
  model: o.model, corpus: o.corpus, method: o.method, importance: o.importance ?? [], steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr,
  seed: o.seed, warmup: o.warmup ?? posttrainDefaults.warmup, contrastWeight: o.contrastWeight ?? contrastDefaults.contrastWeight, referenceCompat: Boolean(o.referenceCompat),
  softMaskTarget: o.softMaskTarget ?? posttrainDefaults.softMaskTarget, dropout: o.dropout ?? posttrainDefaults.dropout, extraLoss: o.extraLoss ? o.extraLoss.name || 'custom' : null,
  computeImportance: o.computeImportance ?? o.method === 'das',
  ...((o.computeImportance ?? o.method === 'das') ? { importanceSubset: o.importanceSubset ?? posttrainDefaults.importanceSubset, importanceBatchSize: o.importanceBatchSize ?? posttrainDefaults.importanceBatchSize } : {}),
});

function must<T>(r: E.Either<Error, T>): T {
  if (E.isLeft(r)) throw r.left;
  return r.right;
}

/** Training chunks of a corpus: the lines after the first 5 % (§3.1), cut into chunks of seqLen. */
export function domainChunks(corpus: string, tok: Tokenizer, seqLen: number): Int32Array[] {
  return chunkCorpus(splitValid(orThrow(readCorpus(corpus)), 5).train, tok, { seqLen });
}

function checkOptions(o: PosttrainOptions): void {
  if (o.method !== 'das' && o.method !== 'ncl') throw new Error(`posttrain: method must be das or ncl, got '${String(o.method)}'`);
  for (const k of ['steps', 'batchSize', 'seqLen'] as const) if (!(Number.isSafeInteger(o[k]) && o[k] > 0)) throw new Error(`posttrain: ${k} must be a positive integer, got ${o[k]}`);
  if (!(o.lr > 0)) throw new Error(`posttrain: lr must be positive, got ${o.lr}`);
  if (o.method === 'das' && (o.importance ?? []).length === 0) {
    throw new Error('posttrain --method das needs prior importance (--importance DIR…): before the first domain the KL-proxy importance of the base model (das importance --loss kl)');
  }
  if (o.softMaskTarget !== undefined && o.softMaskTarget !== 'gradient' && o.softMaskTarget !== 'update') throw new Error(`posttrain: soft-mask target must be gradient or update, got '${String(o.softMaskTarget)}'`);
}

interface StepCtx {
  cfg: RobertaConfig;
  o: PosttrainOptions;
  opt: AdamWConfig;
  das?: { importance: Importance; scales: Map<string, Tensor>; pairing: ContrastPairing };
  dropoutKey: (step: number) => Key | undefined;
}

interface StepOut { state: TrainState; loss: Tensor; mlm?: Tensor; contrast?: Tensor }

function trainStep(c: StepCtx, s: TrainState, hb: MlmBatch, step: number, lr: number): StepOut {
  const { cfg, o } = c;
  return tidy(() => {
    const corrupted = toDevice(cfg, hb, o.backend);
    const original = toDevice(cfg, { B: hb.B, T: hb.T, ids: hb.originalIds, attention: hb.attention }, o.backend);
    const targets = mlmTargets(hb, o.backend);
    const dk = c.dropoutKey(step);
    const extra = (p: Params, total: Tensor) => (o.extraLoss ? add(total, o.extraLoss(p, { corrupted, original }, step)) : total);
    if (c.das !== undefined) {
      const d = c.das;
      const f = (a: { params: Params }) => {
        const [total, aux] = dasLoss(cfg, a.params, { corrupted, original }, targets, {
          importance: d.importance, dropoutKey: dk, pairing: d.pairing, contrastWeight: o.contrastWeight ?? contrastDefaults.contrastWeight,
        });
        return [extra(a.params, total), aux] as const;
      };
      const [[loss, aux], g] = valueAndGrad(f, ['params'])({ params: s.params });
      // The soft mask's place in the chain is its target: before AdamW on the gradient, after it on the whole update.
      const adam = adamw<Params>({ ...c.opt, lr }), mask = softMask<Params>(d.scales);
      let params: Params, opt: AdamWState<Params>;
      if ((o.softMaskTarget ?? 'gradient') === 'update') [params, [opt]] = applyGradients(chain(adam, mask), s.params, g.params, [s.opt, emptyState]);
      else [params, [, opt]] = applyGradients(chain(mask, adam), s.params, g.params, [emptyState, s.opt]);
      return { state: { params, opt }, loss, mlm: aux.mlm, contrast: aux.contrast };
    }
    const f = (a: { params: Params }) => extra(a.params, mlmLoss(cfg, a.params, corrupted, targets, dk ? { dropout: { key: dk } } : {}));
    const [loss, g] = valueAndGrad(f, ['params'])({ params: s.params });
    const [params, opt] = applyGradients(adamw<Params>({ ...c.opt, lr }), s.params, g.params, s.opt);
    return { state: { params, opt }, loss };
  });
}

/** Trains (or resumes) until model/ exists; returns the trained parameters when training ran here. */
async function train(o: PosttrainOptions, paths: ReturnType<typeof posttrainPaths>, log: (s: string) => void):
  Promise<{ stopped: boolean; steps: number; finalLoss: number | null; secondsPerStep: number | null; resumedAt: number | null; cfg: RobertaConfig; params?: Params; tok: Tokenizer }> {
  const settings = dasSettings(o.referenceCompat);
  const fingerprint = {
    model: o.model, corpus: o.corpus, method: o.method, importance: o.importance ?? [], steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr,
    seed: o.seed, warmup: o.warmup ?? posttrainDefaults.warmup, contrastWeight: o.contrastWeight ?? contrastDefaults.contrastWeight, referenceCompat: Boolean(o.referenceCompat),
    softMaskTarget: o.softMaskTarget ?? posttrainDefaults.softMaskTarget, dropout: o.dropout ?? posttrainDefaults.dropout, extraLoss: o.extraLoss ? o.extraLoss.name || 'custom' : null,
  };
  let cfg: RobertaConfig, s: TrainState, tok: Tokenizer, start = 0, resumedAt: number | null = null;
  if (existsSync(join(paths.checkpoint, 'trainer_state.json'))) {
    const r = await loadTrainCheckpoint(paths.checkpoint, o.backend);
    if (E.isLeft(r)) throw new Error(`cannot resume from ${paths.checkpoint}: ${r.left.message} (remove it to start the domain over)`);
    if (JSON.stringify(r.right.state.fingerprint) !== JSON.stringify(fingerprint)) {
      release(r.right.s);
      throw new Error(`${paths.checkpoint} belongs to a run with other settings (${JSON.stringify(r.right.state.fingerprint)}); use another --out or remove it`);
    }
    ({ cfg, s } = r.right);
    start = resumedAt = r.right.state.step;
    tok = must(await loadTokenizer(paths.checkpoint));
    log(`posttrain: resuming ${paths.checkpoint} at step ${start}/${o.steps}`);
  } else {
    const ck = await loadCheckpoint(o.model, o.backend);
    if (E.isLeft(ck)) throw ck.left;
    tok = must(await loadTokenizer(o.model));
    cfg = ck.right.cfg;
    if (ck.right.params.lmHead === undefined) throw new Error(`${o.model} has no MLM head (lm_head.*); post-training needs one`);
    const { classifier: _drop, ...params } = ck.right.params;
    release(_drop);
    s = { params, opt: adamwInit(params) };
  }
  const cleanup: unknown[] = [];
  try {
    if (tok.vocabSize !== cfg.vocabSize) throw new Error(`the tokenizer has ${tok.vocabSize} tokens, the model ${cfg.vocabSize}`);
    if (o.seqLen + cfg.padId + 1 > cfg.maxPositions) throw new Error(`seq-len ${o.seqLen} needs ${o.seqLen + cfg.padId + 1} positions; the model has ${cfg.maxPositions}`);
    const chunks = domainChunks(o.corpus, tok, o.seqLen);
    if (chunks.length < o.batchSize) throw new Error(`${o.corpus} gives ${chunks.length} chunks of ${o.seqLen} tokens, fewer than one batch of ${o.batchSize}`);
    const ctx: StepCtx = {
      cfg, o, opt: posttrainAdamw, dropoutKey: (step) => ((o.dropout ?? true) ? foldIn(key(o.seed + 2), step) : undefined),
    };
    if (o.method === 'das') {
      const acc = await accumulateDirs(o.importance ?? [], cfg, o.backend);
      const importance = toLayerGates(acc);
      release(acc);
      const scales = softMaskScales(importance, cfg, settings.axes);
      cleanup.push(importance, [...scales.values()]);
      ctx.das = { importance, scales, pairing: settings.pairing };
    }
    await claimOutDir(o.out, posttrainSettings(o));   // inputs are valid: only now does --out appear
    await truncateStepLog(paths.log, start);   // drop records written after the last checkpoint, before a crash
    const stream = new BatchStream(chunks.length, o.batchSize, o.seed);
    const schedule = linearSchedule(o.lr, o.steps, warmupFor(o.steps, o.warmup ?? posttrainDefaults.warmup));
    const saveEvery = o.saveEvery ?? posttrainDefaults.saveEvery;
    const progress = (o.progress ?? noProgress)(`posttrain ${o.method}`, o.steps, start);
    const state = (step: number): TrainerState => ({ step, fingerprint, history: [] });
    const t0 = Date.now();
    let step = start, finalLoss: number | null = null;
    for (; step < o.steps; step++) {
      o.signal?.throwIfAborted();
      const hb = mlmCollate(stream.indicesAt(step).map((i) => chunks[i]), tok, cfg.vocabSize, stepKey(o.seed, step)).batch;
      const lr = schedule(step);
      const r = trainStep(ctx, s, hb, step, lr);
      const [loss, mlm, contrast] = await Promise.all([r.loss, r.mlm, r.contrast].map(async (t) => (t === undefined ? undefined : (await read(t))[0])));
      release(r.loss, r.mlm, r.contrast);
      if (!Number.isFinite(loss)) {
        release(r.state, s);
        progress.done(`posttrain: loss became ${loss} at step ${step + 1}; stopped. The last good checkpoint is ${existsSync(paths.checkpoint) ? paths.checkpoint : '(none yet)'} — lower the learning rate.`);
        return { stopped: true, steps: step, finalLoss, secondsPerStep: null, resumedAt, cfg, tok };
      }
      release(s);
      s = r.state;
      finalLoss = loss!;
      const rec = { step: step + 1, loss, ...(mlm !== undefined ? { mlm, contrast } : {}), lr, seconds: (Date.now() - t0) / 1000 };
      await appendFile(paths.log, `${JSON.stringify(rec)}\n`);
      progress.update(step + 1, { loss: loss!, ...(mlm !== undefined ? { mlm, cki: contrast! } : {}) }, step + 1 === o.steps);
      if ((step + 1) % saveEvery === 0 && step + 1 < o.steps) await saveTrainCheckpoint(paths.checkpoint, cfg, s, tok, state(step + 1));
      o.onStep?.(step + 1, loss!);
    }
    progress.done();
    const secondsPerStep = step > start ? (Date.now() - t0) / 1000 / (step - start) : null;
    await saveCheckpoint(paths.model, cfg, s.params, tokenizerFiles(tok), { steps: String(step), method: o.method });
    await rm(paths.checkpoint, { recursive: true, force: true });   // the optimizer state is not needed once model/ exists
    release(s.opt);
    return { stopped: false, steps: step, finalLoss, secondsPerStep, resumedAt, cfg, params: s.params, tok };
  } catch (e) {
    release(s);
    throw e;
  } finally {
    release(...cleanup);
  }
}

/** Post-trains one domain (see the file header). Safe to call again after an interruption. */
export async function posttrain(o: PosttrainOptions): Promise<PosttrainResult> {
  checkOptions(o);
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  const paths = posttrainPaths(o.out);
  const settings = posttrainSettings(o);
  const dir = checkOutDir(o.out, settings, 'a post-training run', { adopt: o.adoptExisting });
  if (dir.exists && !dir.same) await claimOutDir(o.out, settings);   // adopted (see adoptExisting)
  const wantImportance = settings.computeImportance;
  let result: PosttrainResult = {
    method: o.method, model: paths.model, importance: wantImportance ? paths.importance : null, steps: o.steps, finalLoss: null,
    secondsPerStep: null, resumedAt: null, trained: false, importanceComputed: false, stoppedOnNaN: false,
  };
  let cfg: RobertaConfig | undefined, params: Params | undefined, tok: Tokenizer | undefined;
  if (!existsSync(join(paths.model, 'model.safetensors'))) {
    const t = await train(o, paths, log);
    result = { ...result, steps: t.steps, finalLoss: t.finalLoss, secondsPerStep: t.secondsPerStep, resumedAt: t.resumedAt, trained: true, stoppedOnNaN: t.stopped };
    if (t.stopped) return result;
    ({ cfg, params, tok } = t);
  }
  try {
    if (wantImportance && !existsSync(paths.importance)) {
      if (params === undefined) {
        const ck = await loadCheckpoint(paths.model, o.backend);
        if (E.isLeft(ck)) throw ck.left;
        ({ cfg, params } = ck.right);
        tok = must(await loadTokenizer(paths.model));
      }
      const settings = dasSettings(o.referenceCompat);
      log(`posttrain: MLM importance of ${paths.model} on the first ${o.importanceSubset ?? posttrainDefaults.importanceSubset} chunks`);
      await writeDomainImportance(cfg!, params, domainChunks(o.corpus, tok!, o.seqLen), tok!, paths.importance, {
        loss: 'mlm', aggregation: settings.aggregation, mlmInput: settings.mlmInput, dropout: o.dropout ?? true,
        subset: o.importanceSubset ?? posttrainDefaults.importanceSubset, batchSize: o.importanceBatchSize ?? posttrainDefaults.importanceBatchSize, seed: o.seed + 7919, meta: { model: paths.model, data: o.corpus },
      });
      result.importanceComputed = true;
    }
  } finally {
    release(params);
  }
  if (!result.trained && !result.importanceComputed && existsSync(paths.result)) {
    return { ...(JSON.parse(await readFile(paths.result, 'utf8')) as PosttrainResult), trained: false, importanceComputed: false, resumedAt: null };
  }
  await writeFileAtomic(paths.result, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
