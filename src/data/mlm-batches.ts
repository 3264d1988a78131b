// MLM post-training data (docs/method.md §3.1–3.2): corpus lines → fixed-length chunks (Hugging Face's
// group_texts), the seeded 80/10/10 masking collator, and a resumable shuffled batch stream.
// All randomness is counter-based Threefry (src/ops/random.ts): a batch is a pure function of
// (seed, step), so a resumed run sees exactly the batches of an uninterrupted one. Over text and
// arrays only (runs in a browser too); mlm-data.ts adds the corpus files and re-exports this module.
import type { SpecialIds, Tokenizer } from '../io/tokenizer/tokenizer.js';
import { IGNORE, type HostBatch } from '../nn/mlm.js';
import { foldIn, key as seedKey, splitKey, threefry2x32, type Key } from '../ops/random.js';

/** A host batch with everything the DAS losses need: corrupted ids, labels and the uncorrupted ids. */
export interface MlmBatch extends HostBatch {
  attention: Int32Array;
  /** Original id at masked positions, −100 elsewhere. */
  labels: Int32Array;
  /** The ids before corruption ("inputs_ori_ids", docs/method.md §3.2). */
  originalIds: Int32Array;
}

// ---- chunking ---------------------------------------------------------------------------------

export interface ChunkOptions {
  /** Tokens per chunk (T; 164 in the paper). */
  seqLen: number;
  /** Lines per group (the `datasets.map` default batch of 1000); each group's remainder is dropped. */
  groupSize?: number;
}

const checkCount = (what: string, n: number): void => {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
};

/** Cuts one group's concatenated tokens into ⌊total / T⌋ chunks of exactly T; the tail is dropped. */
function* cutGroup(group: readonly number[][], T: number): Generator<Int32Array> {
  const total = group.reduce((s, g) => s + g.length, 0);
  const flat = new Int32Array(Math.floor(total / T) * T);
  let at = 0;
  for (const ids of group) {
    const take = Math.min(ids.length, flat.length - at);
    for (let j = 0; j < take; j++) flat[at + j] = ids[j];
    at += take;
    if (at === flat.length) break;
  }
  for (let c = 0; c < flat.length; c += T) yield flat.slice(c, c + T);
}

/**
 * Chunks [T] of a corpus, lazily: each non-blank line encoded as `<s> … </s>`; per group of
 * `groupSize` lines the sequences are concatenated and cut (docs/method.md §3.1 steps 2–3). Chunks start
 * anywhere and contain interior `</s> <s>` pairs. Blank (whitespace-only) lines are skipped before
 * grouping, so they do not count towards a group.
 */
export function* iterChunks(lines: Iterable<string>, tok: Pick<Tokenizer, 'encode'>, options: ChunkOptions): Generator<Int32Array> {
  const { seqLen, groupSize = 1000 } = options;
  checkCount('chunkCorpus: seqLen', seqLen);
  checkCount('chunkCorpus: groupSize', groupSize);
  let group: number[][] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    group.push(tok.encode(line, { addSpecialTokens: true }));
    if (group.length === groupSize) {
      yield* cutGroup(group, seqLen);
      group = [];
    }
  }
  if (group.length > 0) yield* cutGroup(group, seqLen);
}

/** All chunks [T] of a corpus; see iterChunks. */
export const chunkCorpus = (lines: Iterable<string>, tok: Pick<Tokenizer, 'encode'>, options: ChunkOptions): Int32Array[] =>
  [...iterChunks(lines, tok, options)];

/** Python's round(): half to even, as `datasets` rounds percent slices ("closest"). */
const roundHalfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

/**
 * `train[:p%]` / `train[p%:]` of the raw lines (blank ones included, as `datasets` counts rows):
 * the first round(n·p/100) lines validate, the rest train (docs/method.md §3.1 step 1).
 */
export function splitValid<A>(lines: readonly A[], percent = 5): { valid: A[]; train: A[] } {
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`splitValid: percent must be in [0, 100], got ${percent}`);
  const cut = roundHalfEven((lines.length * percent) / 100);
  return { valid: lines.slice(0, cut), train: lines.slice(cut) };
}

// ---- the collator -----------------------------------------------------------------------------

export interface CollateOptions {
  /** Probability that a non-special token is selected (0.15). */
  prob?: number;
}

/** The collator's result: the batch, and its uncorrupted ids again (the same array) for destructuring. */
export interface Collated {
  batch: MlmBatch;
  originalIds: Int32Array;
}

const U32 = 2 ** 32;
const MASK_BELOW = 0.8 * U32; // of the selected: 80 % → <mask>
const RANDOM_BELOW = 0.5 * U32; // of the rest: half → random token, half kept

/**
 * MLM corruption of equal-length chunks [B][T] (docs/method.md §3.2; HF's DataCollatorForLanguageModeling):
 * each token other than `<s>`, `</s>`, `<pad>` is selected with probability `prob`; selected ones
 * get label = original id (−100 elsewhere) and become `<mask>` (80 %), a token uniform in
 * [0, vocabSize) with specials included (10 %), or stay (10 %). Attention is 0 on `<pad>` only.
 * Deterministic in `k`: token b·T + t hashes counter (b·T + t, 0) under two keys split from `k`.
 */
export function mlmCollate(chunks: readonly Int32Array[], vocab: { specials: SpecialIds }, vocabSize: number, k: Key, options: CollateOptions = {}): Collated {
  const { prob = 0.15 } = options;
  if (!(prob >= 0 && prob <= 1)) throw new RangeError(`mlmCollate: prob must be in [0, 1], got ${prob}`);
  checkCount('mlmCollate: vocabSize', vocabSize);
  const B = chunks.length;
  if (B === 0) throw new RangeError('mlmCollate: no chunks');
  const T = chunks[0].length;
  const bad = chunks.findIndex((c) => c.length !== T);
  if (bad >= 0) throw new RangeError(`mlmCollate: chunk ${bad} has ${chunks[bad].length} tokens, chunk 0 has ${T}`);
  const { bos, eos, pad, mask } = vocab.specials;
  const [kSelect, kReplace] = splitKey(k, 2);
  const selectBelow = prob * U32; // u32 < p·2^32 ⇔ u32 / 2^32 < p
  const ids = new Int32Array(B * T), originalIds = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE), attention = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const chunk = chunks[b];
    for (let t = 0; t < T; t++) {
      const i = b * T + t, id = chunk[t];
      ids[i] = originalIds[i] = id;
      attention[i] = id === pad ? 0 : 1;
      if (id === bos || id === eos || id === pad) continue;
      const [select, toMask] = threefry2x32(kSelect, i, 0);
      if (select >= selectBelow) continue;
      labels[i] = id;
      if (toMask < MASK_BELOW) { ids[i] = mask; continue; }
      const [toRandom, token] = threefry2x32(kReplace, i, 0);
      // floor(u32 · V / 2^32): bias ≤ V / 2^32, far below sampling noise.
      if (toRandom < RANDOM_BELOW) ids[i] = Math.floor((token / U32) * vocabSize);
    }
  }
  return { batch: { B, T, ids, attention, labels, originalIds }, originalIds };
}

/** The masking key of training step `step` under `seed`; BatchStream's order keys never collide with it. */
export const stepKey = (seed: number, step: number): Key => foldIn(seedKey(seed), step);

// ---- shuffled, resumable batch order ----------------------------------------------------------

/** A uniform double in [0, 1) from 53 bits of one Threefry hash. */
const uniform53 = (k: Key, counter: number): number => {
  const [hi, lo] = threefry2x32(k, counter, 0);
  return (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53;
};

/** Fisher–Yates permutation of 0..n−1 drawn from `k` alone. */
export function permutation(n: number, k: Key): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform53(k, i) * (i + 1));
    const tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
  return p;
}

/**
 * Which chunks form the batch of each global step, epoch after epoch (docs/method.md §3.1 step 5: the
 * loader shuffles). Epoch e's order is a permutation keyed by (seed, e) alone, so indicesAt(s)
 * needs no state from earlier steps: a run resumed at step s sees exactly the batches of an
 * uninterrupted one. Masks are the caller's: mlmCollate(…, stepKey(seed, s)) corrupts afresh per step.
 */
export class BatchStream {
  readonly stepsPerEpoch: number;
  readonly #order: Key;
  #cached: { epoch: number; order: Int32Array } | undefined;

  /** `dropLast` drops each epoch's last, partial batch (default false, like torch's DataLoader). */
  constructor(readonly size: number, readonly batchSize: number, seed: number, { dropLast = false } = {}) {
    checkCount('BatchStream: size', size);
    checkCount('BatchStream: batchSize', batchSize);
    this.stepsPerEpoch = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
    if (this.stepsPerEpoch === 0) throw new RangeError(`BatchStream: ${size} chunks make no batch of ${batchSize}`);
    this.#order = splitKey(seedKey(seed), 1)[0]; // counter stream 1, apart from stepKey's stream 2
  }

  epochOf(step: number): number {
    if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`BatchStream: step must be a non-negative integer, got ${step}`);
    return Math.floor(step / this.stepsPerEpoch);
  }

  /** Chunk indices of the batch of global step `step` (0-based). */
  indicesAt(step: number): number[] {
    const epoch = this.epochOf(step);
    if (this.#cached?.epoch !== epoch) this.#cached = { epoch, order: permutation(this.size, foldIn(this.#order, epoch)) };
    const first = (step % this.stepsPerEpoch) * this.batchSize;
    return Array.from(this.#cached.order.subarray(first, Math.min(first + this.batchSize, this.size)));
  }
}
