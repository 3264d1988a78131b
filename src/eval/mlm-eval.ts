// Held-out MLM loss of the models of `das run`: on the general corpus's validation text and on each
// domain's held-out 5 % (the lines post-training never trains on, `splitValid`). Masking is fixed per
// corpus (one seed for every model), so the numbers differ only by the model. This is the language-
// model view of forgetting beside the end-task matrix, and it carries no fine-tuning noise.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { chunkCorpus, mlmCollate, splitValid } from '../data/mlm-data.js';
import { orThrow, readCorpus } from '../data/validate.js';
import { E } from '../fp.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import type { Tokenizer } from '../io/tokenizer/index.js';
import type { HostBatch } from '../nn/mlm.js';
import { foldIn, key } from '../ops/random.js';
import { release } from '../tensor/scope.js';
import { evalMlm } from '../train/mlm-step.js';
import type { BatchLoss } from './stderr.js';

/** Masked batches of one held-out text. */
export interface HeldOut { name: string; batches: HostBatch[]; chunks: number }

export const GENERAL = 'general';
const MASK_SEED = 2023;

export interface HeldOutOptions { seqLen: number; batchSize: number; maxChunks: number }

/** The first `maxChunks` chunks of `lines`, masked with a seed fixed per corpus (index i of the list). */
export function heldOut(name: string, lines: readonly string[], tok: Tokenizer, vocabSize: number, i: number, o: HeldOutOptions): HeldOut {
  const chunks = chunkCorpus(lines, tok, { seqLen: o.seqLen }).slice(0, o.maxChunks);
  if (chunks.length === 0) throw new Error(`held-out ${name}: no chunk of ${o.seqLen} tokens`);
  const batches: HostBatch[] = [];
  for (let b = 0; b * o.batchSize < chunks.length; b++) {
    batches.push(mlmCollate(chunks.slice(b * o.batchSize, (b + 1) * o.batchSize), tok, vocabSize, foldIn(foldIn(key(MASK_SEED), i), b)).batch);
  }
  return { name, batches, chunks: chunks.length };
}

/** General validation text first (when the sequence has one), then each domain's held-out lines (the 5 % post-training leaves out). */
export function heldOutSets(general: string | undefined, domains: readonly { name: string; train: string }[], tok: Tokenizer, vocabSize: number, o: HeldOutOptions): HeldOut[] {
  return [
    ...(general !== undefined ? [heldOut(GENERAL, orThrow(readCorpus(general)), tok, vocabSize, 0, o)] : []),
    ...domains.map((d, k) => heldOut(d.name, splitValid(orThrow(readCorpus(d.train)), 5).valid, tok, vocabSize, k + 1, o)),
  ];
}

/** Mean MLM loss per held-out set, by name. */
export type HeldOutLosses = Record<string, number>;
/** Per held-out set, by name: each batch's mean loss and labelled-token count, in order (evalMlm's `batches`; src/eval/stderr.ts). */
export type HeldOutBatches = Record<string, BatchLoss[]>;

/**
 * The cache file: `losses` and `chunks` per set, and since standard errors were added `batches` per set
 * as [loss, tokens] pairs (absent in older files, which stay valid: their losses are reused, without
 * standard errors).
 */
interface HeldOutFile { model?: string | Record<string, string>; chunks: Record<string, number>; losses: HeldOutLosses; batches?: Record<string, [number, number][]> }
const readFile = (file: string): HeldOutFile | null => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HeldOutFile) : null);

/**
 * Losses of the model in `modelDir` on `sets`, cached in `file` (written atomically; reused when it
 * covers the same sets and chunk counts). `modelDir` may name a model per set (HAT: each domain's
 * text read by the model with that domain's mask); `model` in the file then maps set → directory.
 */
export async function heldOutLosses(modelDir: string | ((set: string) => Promise<string>), sets: readonly HeldOut[], file: string, backend: Backend): Promise<HeldOutLosses> {
  const have = readFile(file);
  if (have !== null && sets.every((s) => typeof have.losses[s.name] === 'number' && have.chunks?.[s.name] === s.chunks)) return have.losses;
  const dirs = new Map<string, HeldOut[]>();   // model directory → its sets, in order
  const dirOf: Record<string, string> = {};
  for (const s of sets) {
    const d = typeof modelDir === 'string' ? modelDir : await modelDir(s.name);
    dirOf[s.name] = d;
    dirs.set(d, [...(dirs.get(d) ?? []), s]);
  }
  const losses: HeldOutLosses = {};
  const batches: Record<string, [number, number][]> = {};
  for (const [dir, group] of dirs) {
    const ck = await loadCheckpoint(dir, backend);
    if (E.isLeft(ck)) throw ck.left;
    try {
      for (const s of group) {
        const r = await evalMlm(ck.right.cfg, ck.right.params, s.batches, backend);
        losses[s.name] = r.loss;
        batches[s.name] = r.batches.map((b) => [b.loss, b.tokens]);
      }
    } finally {
      release(ck.right.params);
    }
  }
  await mkdir(dirname(file), { recursive: true });
  const model = typeof modelDir === 'string' ? modelDir : dirOf;
  await writeFileAtomic(file, `${JSON.stringify({ model, chunks: Object.fromEntries(sets.map((s) => [s.name, s.chunks])), losses, batches }, null, 2)}\n`);
  return losses;
}

/** Losses from a cache file written by heldOutLosses; null when absent. */
export function readHeldOut(file: string): HeldOutLosses | null {
  return readFile(file)?.losses ?? null;
}

/** Per-batch losses and token counts from a cache file written by heldOutLosses; null when absent or written before they were recorded. */
export function readHeldOutBatches(file: string): HeldOutBatches | null {
  const b = readFile(file)?.batches;
  if (b === undefined || b === null) return null;
  return Object.fromEntries(Object.entries(b).map(([name, xs]) => [name, xs.map(([loss, tokens]) => ({ loss, tokens }))]));
}
