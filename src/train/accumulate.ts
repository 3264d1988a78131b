// Gradient accumulation (`--grad-accum N`): one optimizer step over N micro-batches, the same update
// as one batch N times the size, to f32 rounding (docs/method.md §6.4, §12.16).
//   - The batch of step s is drawn exactly as without accumulation for a batch of N·B chunks: the
//     same BatchStream order and the same MLM masking key (the whole N·B batch is corrupted at once),
//     then cut into micro-batches of B consecutive chunks. So `--grad-accum N --batch-size B` sees the
//     chunks and masks of `--grad-accum 1 --batch-size N·B`.
//   - Losses are means: a token-mean term (MLM) of micro-batch m is weighted by its share of the step's
//     labelled tokens, a sequence-mean term (the contrastive loss) by its share of the step's
//     sequences (`Share`), so the summed gradients are those of the whole batch's mean.
//   - Each micro-batch's forward and backward run in their own scope: only the running sums of the
//     gradients (and of the loss and its parts) stay alive between micro-batches.
//   - Dropout: micro-batch m draws its masks from foldIn(step key, m), not from the big batch's
//     element indices, so with dropout on the update equals the big batch's in distribution only.
import { add } from '../ops/binary.js';
import { type Key, foldIn } from '../ops/random.js';
import { IGNORE, type HostBatch } from '../nn/mlm.js';
import { release, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { treeZip } from '../tensor/tree.js';

/** A micro-batch's part of its optimizer step: fractions of the step's labelled (MLM) tokens and of its sequences. */
export interface Share { tokens: number; rows: number }

/** Rows [from, to) of a host batch: every per-token array ([B·T]) is sliced, everything else kept. */
export function sliceRows<H extends HostBatch>(hb: H, from: number, to: number): H {
  const n = hb.B * hb.T;
  const out: Record<string, unknown> = { ...(hb as unknown as Record<string, unknown>), B: to - from };
  for (const [k, v] of Object.entries(hb)) if (v instanceof Int32Array && v.length === n) out[k] = v.slice(from * hb.T, to * hb.T);
  return out as H;
}

/** The batch cut into micro-batches of `size` consecutive rows (the last may be smaller), with their shares. */
export function microBatches<H extends HostBatch>(hb: H, size: number): { batch: H; share: Share }[] {
  if (!(Number.isSafeInteger(size) && size > 0)) throw new RangeError(`microBatches: size must be a positive integer, got ${size}`);
  const parts: H[] = [];
  for (let r = 0; r < hb.B; r += size) parts.push(sliceRows(hb, r, Math.min(r + size, hb.B)));
  const labelled = (b: HostBatch) => (b.labels === undefined ? 0 : b.labels.reduce((n, l) => n + (l === IGNORE ? 0 : 1), 0));
  const total = labelled(hb);
  return parts.map((batch) => ({ batch, share: { tokens: total > 0 ? labelled(batch) / total : 0, rows: batch.B / hb.B } }));
}

/** The dropout key of micro-batch m of a step whose key is `k` (none: none). */
export const microKey = (k: Key | undefined, m: number): Key | undefined => (k === undefined ? undefined : foldIn(k, m));

/** What a micro-step returns: its weighted loss, its weighted named parts and its gradients. */
export type MicroResult<G> = [Tensor, Record<string, Tensor>, G];

/**
 * Runs `n` micro-steps and sums their losses, parts and gradients (in micro-batch order). Each runs in
 * its own scope, so its activations are freed before the next one is recorded.
 */
export function accumulate<G>(n: number, micro: (m: number) => MicroResult<G>): MicroResult<G> {
  let acc: MicroResult<G> | undefined;
  for (let m = 0; m < n; m++) {
    const r = tidy(() => micro(m));
    if (acc === undefined) { acc = r; continue; }
    const prev: MicroResult<G> = acc;
    acc = tidy((): MicroResult<G> => [
      add(prev[0], r[0]),
      Object.fromEntries(Object.keys(prev[1]).map((k) => [k, add(prev[1][k], r[1][k])])),
      treeZip(prev[2], r[2], (x, y) => add(x, y)),
    ]);
    release(prev, r);
  }
  if (acc === undefined) throw new RangeError('accumulate: no micro-batch');
  return acc;
}
