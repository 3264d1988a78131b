// `das pretrain`: train a masked LM from scratch, or continue a checkpoint, on a text corpus.
// Resumable after kill -9 (losing at most one checkpoint interval); NaN/Inf stops the run and keeps
// the last good checkpoint.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { ProgressFactory } from './progress.js';
import { trainLoop } from './loop.js';
import { orThrow, readCorpus } from '../data/validate.js';
import { E } from '../fp.js';
import { loadCheckpoint, saveCheckpoint } from '../io/hf-roberta.js';
import { checkOutDir, claimOutDir } from '../io/out-dir.js';
import { type Tokenizer, loadTokenizer, trainBpe } from '../io/tokenizer/index.js';
import { type RobertaConfig, parseConfig } from '../nn/config.js';
import { initParams } from '../nn/params.js';
import type { HostBatch } from '../nn/mlm.js';
import { foldIn, key } from '../ops/random.js';
import { adamwDefaults, adamwInit, type AdamWConfig } from '../optim/adamw.js';
import { linearSchedule, warmupFor } from '../optim/schedule.js';
import { release } from '../tensor/scope.js';
import { loadTrainCheckpoint, saveTrainCheckpoint, tokenizerFiles } from './checkpointing.js';
import { type TrainState, evalMlm, mlmAccumStep, mlmTrainStep } from './mlm-step.js';
import { microBatches } from './accumulate.js';
import { BatchStream, chunkCorpus, mlmCollate, splitValid } from '../data/mlm-data.js';

export interface PretrainOptions {
  corpus: string;
  valid?: string;
  out: string;
  /** Continue from this Hugging Face directory (weights and tokenizer). */
  model?: string;
  /** From scratch: model dimensions and tokenizer. */
  scratch?: { width: number; heads: number; layers: number; intermediate: number; vocabSize: number; tokenizer?: string; initRange?: number };
  steps: number;
  /** Chunks per micro-batch (the whole batch without gradient accumulation). */
  batchSize: number;
  /** Micro-batches per optimizer step (default 1): a step trains on gradAccum × batchSize chunks (train/accumulate.ts). */
  gradAccum?: number;
  seqLen: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  clipNorm?: number;
  seed: number;
  dropout: boolean;
  evalEvery: number;
  saveEvery: number;
  validBatches: number;
  resume: boolean;
  backend: Backend;
  quiet?: boolean;
  /** Progress of the training steps (default: none; the command line draws bars). */
  progress?: ProgressFactory;
}

export interface PretrainResult { steps: number; finalLoss: number; valid?: { loss: number; perplexity: number }; tokensPerSecond: number; stoppedOnNaN: boolean }

function scratchConfig(o: NonNullable<PretrainOptions['scratch']>, vocabSize: number, seqLen: number): RobertaConfig {
  const raw = {
    model_type: 'roberta', vocab_size: vocabSize, hidden_size: o.width, num_attention_heads: o.heads, num_hidden_layers: o.layers,
    intermediate_size: o.intermediate, max_position_embeddings: seqLen + 2, type_vocab_size: 1, layer_norm_eps: 1e-5,
    pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, initializer_range: o.initRange ?? 0.02,
  };
  const c = parseConfig(raw);
  if (E.isLeft(c)) throw new Error(`model dimensions: ${c.left.message}`);
  return c.right;
}

/** Everything that decides a pretraining output (recorded in settings.json; a resumed or finished --out must match). */
export const pretrainSettings = (o: PretrainOptions) => ({
  corpus: o.corpus, valid: o.valid ?? null, model: o.model ?? null, scratch: o.model === undefined ? o.scratch ?? null : null,
  steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr, warmup: o.warmup, weightDecay: o.weightDecay, clipNorm: o.clipNorm ?? null,
  seed: o.seed, dropout: o.dropout, evalEvery: o.evalEvery, validBatches: o.validBatches, ...accumSetting(o),
});

/** gradAccum as a recorded setting: absent when 1, so outputs of runs without accumulation stay as they were. */
const accumSetting = (o: PretrainOptions) => ((o.gradAccum ?? 1) > 1 ? { gradAccum: o.gradAccum } : {});

function checkPretrainOptions(o: PretrainOptions): void {
  const bad = (k: string, v: unknown, want: string) => new Error(`pretrain: ${k} must be ${want}, got ${String(v)}`);
  for (const k of ['steps', 'batchSize', 'seqLen', 'evalEvery', 'saveEvery', 'validBatches'] as const) if (!(Number.isSafeInteger(o[k]) && o[k] > 0)) throw bad(k, o[k], 'a positive integer');
  if (!(o.lr > 0)) throw bad('lr', o.lr, 'positive');
  if (!(o.warmup >= 0 && o.warmup <= 1)) throw bad('warmup', o.warmup, 'a proportion in [0, 1]');
  if (!(o.weightDecay >= 0)) throw bad('weightDecay', o.weightDecay, '≥ 0');
  if (o.clipNorm !== undefined && !(o.clipNorm > 0)) throw bad('clipNorm', o.clipNorm, 'positive');
  if (o.gradAccum !== undefined && !(Number.isSafeInteger(o.gradAccum) && o.gradAccum > 0)) throw bad('gradAccum', o.gradAccum, 'a positive integer');
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };
  checkPretrainOptions(o);
  const settings = pretrainSettings(o);
  checkOutDir(o.out, settings, 'a pretraining run');
  const ckDir = join(o.out, 'checkpoint');
  const lines = orThrow(readCorpus(o.corpus));
  // (the checkpoint's fingerprint predates settings.json; it stays as it was so older checkpoints resume)
  const fingerprint = { corpus: o.corpus, valid: o.valid ?? null, seqLen: o.seqLen, batchSize: o.batchSize, seed: o.seed, steps: o.steps, lr: o.lr, model: o.model ?? null, ...accumSetting(o) };
  const accum = o.gradAccum ?? 1, stepChunks = o.batchSize * accum;

  let tok!: Tokenizer, cfg!: RobertaConfig, batchAt!: (step: number) => HostBatch;
  const validSet: HostBatch[] = [];
  const opt: AdamWConfig = { ...adamwDefaults, weightDecay: o.weightDecay, clipNorm: o.clipNorm };
  const schedule = linearSchedule(o.lr, o.steps, warmupFor(o.steps, o.warmup));
  const t0 = Date.now();
  let start = 0, valid: { loss: number; perplexity: number } | undefined;
  const r = await trainLoop<TrainState>({
    label: 'pretrain', steps: o.steps, fingerprint, resume: o.resume, saveEvery: o.saveEvery, log: join(o.out, 'log.jsonl'),
    progress: o.progress, release: (s) => release(s),
    checkpoint: {
      dir: ckDir,
      save: (dir, s, trainer) => saveTrainCheckpoint(dir, cfg, s, tok, trainer),
      load: async (dir) => {
        const c = await loadTrainCheckpoint(dir, o.backend);
        if (E.isLeft(c)) return c;
        cfg = c.right.cfg;
        const t = await loadTokenizer(dir);
        if (E.isLeft(t)) { release(c.right.s); return t; }
        tok = t.right;
        log(`resuming ${dir} at step ${c.right.state.step}/${o.steps}`);
        return E.right({ s: c.right.s, trainer: c.right.state });
      },
    },
    init: async () => {
      if (o.model !== undefined) {
        const ck = await loadCheckpoint(o.model, o.backend);
        if (E.isLeft(ck)) throw new Error(ck.left.message);
        tok = orThrow2(await loadTokenizer(o.model));
        cfg = ck.right.cfg;
        if (ck.right.params.lmHead === undefined) { release(ck.right.params); throw new Error(`${o.model} has no MLM head (lm_head.*); pretraining needs one`); }
        return { params: ck.right.params, opt: adamwInit(ck.right.params) };
      }
      if (o.scratch === undefined) throw new Error('give --model DIR to continue a checkpoint, or model dimensions to train from scratch');
      tok = o.scratch.tokenizer ? orThrow2(await loadTokenizer(o.scratch.tokenizer)) : trainBpe(lines, { vocabSize: o.scratch.vocabSize });
      cfg = scratchConfig(o.scratch, tok.vocabSize, o.seqLen);
      const params = initParams(cfg, key(o.seed), o.backend, { mlm: true });
      return { params, opt: adamwInit(params) };
    },
    ready: async (_s, at) => {
      start = at;
      if (tok.vocabSize > cfg.vocabSize) throw new Error(`tokenizer has ${tok.vocabSize} tokens, the model ${cfg.vocabSize}`);
      if (o.seqLen + cfg.padId + 1 > cfg.maxPositions) throw new Error(`--seq-len ${o.seqLen} needs ${o.seqLen + cfg.padId + 1} positions; the model has ${cfg.maxPositions}`);
      // Without --valid, the first 5 % of lines are held out (docs/method.md §3.1).
      const split = o.valid !== undefined ? { train: lines, valid: orThrow(readCorpus(o.valid)) } : splitValid(lines, 5);
      const chunks = chunkCorpus(split.train, tok, { seqLen: o.seqLen });
      const validChunks = chunkCorpus(split.valid, tok, { seqLen: o.seqLen });
      if (validChunks.length === 0) throw new Error(`the held-out text gives no chunk of ${o.seqLen} tokens; pass a longer --valid corpus`);
      if (chunks.length < stepChunks) throw new Error(`${o.corpus} gives ${chunks.length} chunks of ${o.seqLen} tokens, fewer than one batch of ${accum > 1 ? `${stepChunks} (${o.batchSize} × --grad-accum ${accum})` : o.batchSize}`);
      const stream = new BatchStream(chunks.length, stepChunks, o.seed);
      batchAt = (step) => mlmCollate(stream.indicesAt(step).map((i) => chunks[i]), tok, cfg.vocabSize, foldIn(key(o.seed), step)).batch;
      for (let i = 0; i < Math.min(o.validBatches, Math.ceil(validChunks.length / o.batchSize)); i++) {
        validSet.push(mlmCollate(validChunks.slice(i * o.batchSize, (i + 1) * o.batchSize), tok, cfg.vocabSize, foldIn(key(o.seed + 1), i)).batch);
      }
      await claimOutDir(o.out, settings);   // inputs are valid: only now does --out appear
    },
    step: (s, step) => {
      const dk = o.dropout ? foldIn(key(o.seed + 2), step) : null;
      const [state, loss] = accum === 1
        ? mlmTrainStep(cfg, s, batchAt(step), schedule(step), opt, dk, o.backend)
        : mlmAccumStep(cfg, s, microBatches(batchAt(step), o.batchSize), schedule(step), opt, dk, o.backend);
      return { state, metrics: { loss } };
    },
    record: (n, v) => ({ step: n, loss: v.loss, lr: schedule(n - 1), tokensPerSecond: ((n - start) * stepChunks * o.seqLen) / ((Date.now() - t0) / 1000) }),
    after: async (s, step, v, history) => {
      if ((step + 1) % o.evalEvery !== 0 && step + 1 !== o.steps) return undefined;
      const e = await evalMlm(cfg, s.params, validSet, o.backend);
      valid = { loss: e.loss, perplexity: e.perplexity };
      history.push({ step: step + 1, validLoss: valid.loss, loss: v.loss });
      return { validLoss: valid.loss };
    },
    fields: (step, v) => ({ loss: v.loss, ...(valid ? { valid: valid.loss } : {}), 'tok/s': ((step + 1 - start) * stepChunks * o.seqLen) / ((Date.now() - t0) / 1000) }),
    nonFinite: (loss, step) => `pretrain: loss became ${loss} at step ${step}; stopped. The last good checkpoint is ${existsSync(ckDir) ? ckDir : '(none yet)'} — lower --lr or set --clip-norm.`,
  });
  const s = r.state;
  if (!r.stoppedOnNaN) {
    await saveTrainCheckpoint(ckDir, cfg, s, tok, { step: r.steps, fingerprint, history: r.history });
    await saveCheckpoint(join(o.out, 'model'), cfg, s.params, { ...tokenizerFiles(tok) }, { steps: String(r.steps) });
  }
  const seconds = (Date.now() - t0) / 1000;
  release(s);
  return { steps: r.steps, finalLoss: r.last?.loss ?? NaN, valid, tokensPerSecond: ((r.steps - start) * stepChunks * o.seqLen) / Math.max(seconds, 1e-9), stoppedOnNaN: r.stoppedOnNaN };
}

function orThrow2<T>(r: E.Either<Error, T>): T {
  if (E.isLeft(r)) throw r.left;
  return r.right;
}
