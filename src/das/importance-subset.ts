// The importance subset of a domain (docs/method.md §3.3, §4.3): its first N chunks, shuffled, with
// fresh MLM corruption per batch. Host batches only; src/das-files/domain-importance.ts runs the
// continual loop's importance step on them and writes the set.
import type { SpecialIds } from '../io/tokenizer/tokenizer.js';
import { foldIn, key, splitKey } from '../ops/random.js';
import { mlmCollate, permutation } from '../data/mlm-batches.js';
import type { ImportanceBatch } from './importance.js';

export interface SubsetOptions {
  /** The first `subset` chunks (§3.3: 10,000). */
  subset: number;
  batchSize: number;
  seed: number;
}

/** Host batches of the importance subset: the first `subset` chunks, shuffled, MLM-masked per batch. */
export function importanceBatches(chunks: readonly Int32Array[], vocab: { specials: SpecialIds }, vocabSize: number, o: SubsetOptions): ImportanceBatch[] {
  const first = chunks.slice(0, o.subset);
  if (first.length === 0) throw new Error('importance: the domain gives no chunk');
  const [kOrder, kMask] = splitKey(key(o.seed), 3);
  const order = permutation(first.length, kOrder);
  const out: ImportanceBatch[] = [];
  for (let b = 0; b * o.batchSize < first.length; b++) {
    const pick = Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize), (i) => first[i]);
    out.push(mlmCollate(pick, vocab, vocabSize, foldIn(kMask, b)).batch);
  }
  return out;
}
