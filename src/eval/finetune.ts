// End-task fine-tuning (docs/method.md §2.5, §7.2, §8): a checkpoint with a fresh classification head on
// <s> (or, with pool 'mean', on the mean over real tokens; normal std 0.02, zero biases), the MLM head dropped, no gates and no soft-mask; HF AdamW with
// weight decay on all parameters, linear decay without warm-up, dropout on; one evaluation on the
// test split after the last epoch: macro-F1 (scikit-learn) and accuracy.
//
// Defaults are for the small models this project trains (width 128, 2 layers, a 4k vocabulary):
// lr 1e-4, 10 epochs, batch 16, 128 tokens. The reference (roberta-base, 125M parameters) uses lr
// 3e-5, 5–15 epochs by task, batch 16, 164 tokens; pass those to reproduce it (`paperFinetune`).
// Batches are padded to their longest example instead of to seqLen: padded keys get −10000 before the
// softmax (exp underflows to exactly 0 in f32), and the head reads <s> or a mean masked to real
// tokens, so results are the same.
import type { Backend } from '../backend/backend.js';
import type { ProgressFactory } from '../train/progress.js';
import { trainLoop } from '../train/loop.js';
import { permutation } from '../data/mlm-data.js';
import { type Example, orThrow, readLabels, readTask, taskReport } from '../data/validate.js';
import { E } from '../fp.js';
import { type Tokenizer, loadTokenizer } from '../io/tokenizer/index.js';
import type { RobertaConfig } from '../nn/config.js';
import { type HostBatch, toDevice } from '../nn/mlm.js';
import { type Params, initClassifier } from '../nn/params.js';
import { type DropoutSource, type Pooling, classifierLogits, encode } from '../nn/roberta.js';
import { HF_ADAMW } from '../ops/adamw.js';
import { crossEntropy } from '../ops/cross-entropy.js';
import { foldIn, key } from '../ops/random.js';
import { type AdamWConfig, type AdamWState, adamw, adamwDefaults, adamwInit } from '../optim/adamw.js';
import { linearSchedule } from '../optim/schedule.js';
import { type GradientTransformation, applyGradients } from '../optim/transform.js';
import { release, tidy } from '../tensor/scope.js';
import { fromArray, read } from '../tensor/tensor.js';
import { valueAndGrad } from '../autodiff/grad.js';
import { accuracy, confusionMatrix, macroF1, perClassScores } from './metrics.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../io/hf-roberta.js';
import { checkOutDir, claimOutDir } from '../io/out-dir.js';
import { tokenizerFiles } from '../train/checkpointing.js';

export interface FinetuneHyper {
  epochs: number;
  lr: number;
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Decoupled weight decay on every parameter (0.01, §7.2). */
  weightDecay?: number;
  /** Dropout on while training (default true). */
  dropout?: boolean;
  /** Sequence summary for the head: <s> (default, the paper) or the mean over real tokens. */
  pool?: Pooling;
  /** Use only the first N training / test examples (quick runs). */
  maxTrain?: number;
  maxTest?: number;
}

export const finetuneDefaults = { epochs: 10, lr: 1e-4, batchSize: 16, seqLen: 128, weightDecay: 0.01 } as const;
/** The reference's settings (§7.2); epochs differ by task (Restaurant 5, ACL 10, AI 5, Phone 15, PubMed 10, Camera 15). */
export const paperFinetune = { epochs: 10, lr: 3e-5, batchSize: 16, seqLen: 164, weightDecay: 0.01 } as const;

export interface FinetuneOptions extends FinetuneHyper {
  /** Hugging Face directory with tokenizer files. */
  model: string;
  train: readonly Example[];
  test: readonly Example[];
  labels: readonly string[];
  backend: Backend;
  quiet?: boolean;
  /** Progress of the training steps (default: none; the command line draws bars). */
  progress?: ProgressFactory;
  label?: string;
  /** Return the fine-tuned parameters (result.kept; the caller releases them) instead of releasing them. */
  keepModel?: boolean;
}

export interface FinetuneResult {
  macroF1: number;
  accuracy: number;
  train: number;
  test: number;
  classes: number;
  epochs: number;
  steps: number;
  /** Mean training loss per epoch. */
  trainLoss: number[];
  seconds: number;
  predictions: number[];
  /** With keepModel: the fine-tuned model (encoder and head) and its tokenizer; the caller owns the parameters. */
  kept?: { cfg: RobertaConfig; params: Params; tok: Tokenizer };
}

/** Token ids of an example, `<s> … </s>`, cut to seqLen keeping the final `</s>` (HF truncation). */
export function encodeExample(tok: Tokenizer, text: string, seqLen: number): number[] {
  const ids = tok.encode(text, { addSpecialTokens: true });
  return ids.length <= seqLen ? ids : [...ids.slice(0, seqLen - 1), tok.specials.eos];
}

/** Right-padded host batch of encoded examples (to the longest one); attention 0 on padding. */
export function padBatch(seqs: readonly number[][], padId: number): HostBatch {
  const B = seqs.length, T = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(B * T).fill(padId), attention = new Int32Array(B * T);
  seqs.forEach((s, b) => s.forEach((id, t) => { ids[b * T + t] = id; attention[b * T + t] = 1; }));
  return { B, T, ids, attention };
}

function labelIds(examples: readonly Example[], labels: readonly string[], what: string): number[] {
  const index = new Map(labels.map((l, i) => [l, i]));
  return examples.map((e, i) => {
    const y = index.get(e.label);
    if (y === undefined) throw new Error(`${what} example ${i}: unknown label "${e.label}" (expected one of: ${labels.join(', ')})`);
    return y;
  });
}

function checkHyper(h: FinetuneHyper): void {
  for (const k of ['epochs', 'batchSize', 'seqLen'] as const) if (!(Number.isSafeInteger(h[k]) && h[k] > 0)) throw new Error(`finetune: ${k} must be a positive integer, got ${h[k]}`);
  if (!(h.lr > 0)) throw new Error(`finetune: lr must be positive, got ${h.lr}`);
  if (h.seqLen < 2) throw new Error('finetune: seqLen must leave room for <s> and </s>');
}

/** Class predictions (argmax of the logits, dropout off). */
export async function predict(cfg: RobertaConfig, params: Params, seqs: readonly number[][], batchSize: number, backend: Backend, how: Pooling = 'cls'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += batchSize) {
    const hb = padBatch(seqs.slice(i, i + batchSize), cfg.padId);
    const logits = tidy(() => {
      const batch = toDevice(cfg, hb, backend);
      return classifierLogits(cfg, params.classifier!, encode(cfg, params, batch), undefined, 0, { how, mask: batch.mask });
    });
    const v = await read(logits);
    logits.dispose();
    const C = logits.shape[1];
    for (let b = 0; b < hb.B; b++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (v[b * C + c] > v[b * C + best]) best = c;
      out.push(best);
    }
  }
  return out;
}

/** Fine-tunes `o.model` on the training examples and evaluates once on the test examples. */
export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  checkHyper(o);
  const train = o.train.slice(0, o.maxTrain ?? o.train.length), test = o.test.slice(0, o.maxTest ?? o.test.length);
  if (train.length === 0 || test.length === 0) throw new Error(`finetune: ${train.length} training and ${test.length} test examples; both must be non-empty`);
  const yTrain = labelIds(train, o.labels, 'training'), yTest = labelIds(test, o.labels, 'test');
  const ck = await loadCheckpoint(o.model, o.backend);
  if (E.isLeft(ck)) throw ck.left;
  const tok = await loadTokenizer(o.model);
  if (E.isLeft(tok)) { release(ck.right.params); throw tok.left; }
  const { cfg } = ck.right;
  const { lmHead, classifier: old, ...encoder } = ck.right.params;
  release(lmHead, old);
  const how = o.pool ?? 'cls';
  const params: Params = { ...encoder, classifier: initClassifier(cfg, o.labels.length, foldIn(key(o.seed), 1), o.backend) };
  type FtState = { params: Params; opt: AdamWState<Params> };
  const t0 = Date.now();
  const perEpoch = Math.ceil(train.length / o.batchSize), total = perEpoch * o.epochs;
  const lossSums = new Array<number>(o.epochs).fill(0);
  const orders = new Map<number, Uint32Array | Int32Array>();
  const orderOf = (epoch: number) => {
    if (!orders.has(epoch)) orders.set(epoch, permutation(train.length, foldIn(key(o.seed), 1000 + epoch)));
    return orders.get(epoch)!;
  };
  const batchOf = (step: number) => {
    const order = orderOf(Math.floor(step / perEpoch)), b = step % perEpoch;
    return Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize));
  };
  let xTrain: number[][] = [], xTest: number[][] = [];
  let tx!: GradientTransformation<AdamWState<Params>, Params>;
  // The loss of step n is read while step n + 1 is being recorded, so the device is never idle
  // waiting for the host (a non-finite loss still stops the run, one step later).
  const r = await trainLoop<FtState>({
    label: o.label ?? 'finetune', steps: total, pipelined: true, progress: o.progress, release: (st) => release(st),
    init: async () => ({ params, opt: adamwInit(params) }),
    ready: async () => {
      if (tok.right.vocabSize > cfg.vocabSize) throw new Error(`the tokenizer has ${tok.right.vocabSize} tokens, the model ${cfg.vocabSize}`);
      const seqLen = Math.min(o.seqLen, cfg.maxPositions - cfg.padId - 1);
      xTrain = train.map((e) => encodeExample(tok.right, e.text, seqLen));
      xTest = test.map((e) => encodeExample(tok.right, e.text, seqLen));
      const adam: AdamWConfig = { ...adamwDefaults, ...HF_ADAMW, weightDecay: o.weightDecay ?? finetuneDefaults.weightDecay };
      tx = adamw<Params>({ ...adam, lr: linearSchedule(o.lr, total, 0) });   // lr(opt.step): opt.step counts the steps taken, like `step`
    },
    step: (st, step) => {
      const idx = batchOf(step);
      const hb = padBatch(idx.map((i) => xTrain[i]), cfg.padId);
      const src: DropoutSource | undefined = (o.dropout ?? true) ? { key: foldIn(key(o.seed + 1), step) } : undefined;
      return tidy(() => {
        const batch = toDevice(cfg, hb, o.backend);
        const y = fromArray(Int32Array.from(idx, (i) => yTrain[i]), [idx.length], { dtype: 'i32', backend: o.backend });
        const f = (a: { params: Params }) =>
          crossEntropy(classifierLogits(cfg, a.params.classifier!, encode(cfg, a.params, batch, { dropout: src }), src, 0, { how, mask: batch.mask }), y, { reduction: 'mean' });
        const [loss, g] = valueAndGrad(f, ['params'])({ params: st.params });
        const [p, s] = applyGradients(tx, st.params, g.params, st.opt);
        return { state: { params: p, opt: s }, metrics: { loss } };
      });
    },
    onStep: (n, v) => { lossSums[Math.floor((n - 1) / perEpoch)] += v.loss * batchOf(n - 1).length; },
    fields: (step, v) => ({ epoch: Math.floor(step / perEpoch) + 1, loss: v.loss }),
    nonFinite: (loss, step) => `finetune: the training loss became ${loss} at step ${step}; lower the learning rate`,
  });
  const final = r.state;
  let owned = true;
  try {
    const trainLoss = lossSums.map((x) => x / train.length);
    const predictions = await predict(cfg, final.params, xTest, Math.max(o.batchSize, 32), o.backend, how);
    const result: FinetuneResult = {
      macroF1: macroF1(yTest, predictions), accuracy: accuracy(yTest, predictions), train: train.length, test: test.length, classes: o.labels.length,
      epochs: o.epochs, steps: total, trainLoss, seconds: (Date.now() - t0) / 1000, predictions,
    };
    if (o.keepModel) {
      result.kept = { cfg, params: final.params, tok: tok.right };
      release(final.opt);
      owned = false;   // the parameters' ownership moves to the caller
    }
    return result;
  } finally {
    if (owned) release(final);
  }
}

export interface FinetuneFilesOptions extends Omit<FinetuneOptions, 'train' | 'test' | 'labels' | 'keepModel'> {
  taskTrain: string;
  taskTest: string;
  labels: string;
  /**
   * Output directory: model/ (the fine-tuned encoder and head, a Hugging Face directory),
   * predictions.jsonl, scores.json (per-class precision, recall, F1, support and the confusion
   * matrix), result.json (written last: its presence means finished) and settings.json. A finished
   * --out with the same settings returns its result; other settings are refused.
   */
  out?: string;
}

/** Everything that decides a fine-tuning output (recorded in settings.json). */
export const finetuneSettings = (o: FinetuneFilesOptions) => ({
  model: o.model, taskTrain: o.taskTrain, taskTest: o.taskTest, labels: o.labels, epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, seqLen: o.seqLen,
  seed: o.seed, weightDecay: o.weightDecay ?? finetuneDefaults.weightDecay, dropout: o.dropout ?? true, pool: o.pool ?? 'cls', maxTrain: o.maxTrain ?? null, maxTest: o.maxTest ?? null,
});

/** finetune() on files: labels.json and the task JSON lines (labels checked against labels.json); see FinetuneFilesOptions.out. */
export async function finetuneFiles(o: FinetuneFilesOptions): Promise<FinetuneResult> {
  checkHyper(o);
  const settings = finetuneSettings(o);
  const dir = o.out === undefined ? undefined : checkOutDir(o.out, settings, 'a fine-tuning run');
  const resultFile = o.out === undefined ? '' : join(o.out, 'result.json');
  if (dir?.same && existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8')) as FinetuneResult;
  const labels = orThrow(readLabels(o.labels));
  const train = orThrow(readTask(o.taskTrain, labels)), test = orThrow(readTask(o.taskTest, labels));
  const report = taskReport('task', labels, train.slice(0, o.maxTrain ?? train.length), test.slice(0, o.maxTest ?? test.length));
  if (!o.quiet) for (const w of report.warnings) process.stderr.write(`finetune: warning: ${w}\n`);
  const r = await finetune({ ...o, train, test, labels, keepModel: o.out !== undefined });
  if (o.out === undefined || r.kept === undefined) return r;
  const { kept, ...result } = r;
  try {
    await claimOutDir(o.out, settings);
    await saveCheckpoint(join(o.out, 'model'), kept.cfg, kept.params, tokenizerFiles(kept.tok), { labels: JSON.stringify(labels), pool: o.pool ?? 'cls' });
  } finally {
    release(kept.params);
  }
  const testUsed = test.slice(0, o.maxTest ?? test.length);
  const yTest = labelIds(testUsed, labels, 'test');
  const confusion = confusionMatrix(yTest, r.predictions, labels.length);
  const perClass = perClassScores(confusion);
  await writeFileAtomic(join(o.out, 'predictions.jsonl'), testUsed.map((e, i) => `${JSON.stringify({ index: i, label: e.label, predicted: labels[r.predictions[i]], correct: e.label === labels[r.predictions[i]] })}\n`).join(''));
  await writeFileAtomic(join(o.out, 'scores.json'), `${JSON.stringify({
    macroF1: result.macroF1, accuracy: result.accuracy, labels, classCounts: report.counts,
    perClass: Object.fromEntries(labels.map((l, c) => [l, perClass[c]])),
    confusion: { rows: 'true label', columns: 'predicted label', labels, counts: confusion },
  }, null, 2)}\n`);
  await writeFileAtomic(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
