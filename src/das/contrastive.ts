// DAS contrastive knowledge integration (docs/method.md §6.1–6.3, §12.10–13) and the training loss
// L = L_MLM + λ·L_CKI. MLM runs on the corrupted ids; the three contrastive passes (two full, one gated
// by the accumulated importance) run on the uncorrupted ids, as the reference code does (§6.1).
import { stopGradient } from '../autodiff/grad.js';
import type { RobertaConfig } from '../nn/config.js';
import { type MlmTargets, mlmLoss } from '../nn/mlm.js';
import type { EncoderParams, Params } from '../nn/params.js';
import { type Batch, type DropoutSource, encode } from '../nn/roberta.js';
import { add, div, maximum, mul, scalarOp } from '../ops/binary.js';
import { crossEntropy } from '../ops/cross-entropy.js';
import { matmul } from '../ops/matmul.js';
import { concat, slice } from '../ops/movement.js';
import { type Key, foldIn } from '../ops/random.js';
import { sum } from '../ops/reduce.js';
import { expandDims, reshape } from '../ops/reshape.js';
import { sqrt } from '../ops/unary.js';
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import { type Tensor, fromArray } from '../tensor/tensor.js';
import { treeMap } from '../tensor/tree.js';
import { type Importance, checkImportance } from './soft-mask.js';
import type { Share } from '../train/accumulate.js';

/**
 * 'sameSequence' (paper, default): anchor i = full2 of chunk i, positive = full1 of chunk i.
 * 'tiledPairs' (reference bug, §6.3): S = [full1; full2] read as consecutive pairs, so anchor i is
 * chunk (2i+1) mod B and its "positive" is chunk 2i mod B.
 */
export type ContrastPairing = 'sameSequence' | 'tiledPairs';

/** Explicit keep-masks per pass (site name → 0/1 tensor), for parity with fixtures. No `mlm`: MLM pass without dropout. */
export interface PassMasks {
  full1: Record<string, Tensor>;
  full2: Record<string, Tensor>;
  gated: Record<string, Tensor>;
  mlm?: Record<string, Tensor>;
}

export interface ContrastOptions {
  /** Ī_t: gates of the previous-knowledge pass; held constant (no gradient flows to it). */
  importance: Importance;
  /** Library RNG: passes use foldIn(key, 0 mlm | 1 full1 | 2 full2 | 3 gated). Give this or `masks`; neither: no dropout. */
  dropoutKey?: Key;
  masks?: PassMasks;
  /** τ (default 0.05, §12.12). */
  temperature?: number;
  pairing?: ContrastPairing;
}

export interface DasLossOptions extends ContrastOptions {
  /** λ in L_MLM + λ·L_CKI (default 0.25: the reference's effective weight under 4-way data parallelism, §6.3, §12.11). */
  contrastWeight?: number;
  /**
   * A micro-batch of a gradient-accumulation step (train/accumulate.ts): the total is then
   * share.tokens·L_MLM + λ·share.rows·L_CKI, and aux.mlm / aux.contrast are weighted the same way (their
   * sums over the micro-batches are the step's). L_CKI's in-batch negatives are those of the micro-batch.
   */
  share?: Share;
}

export const contrastDefaults = { temperature: 0.05, pairing: 'sameSequence', contrastWeight: 0.25 } as const;

/** Sequence representations [B, D] of each pass (attention-masked means of the last hidden states). */
export interface ContrastReps { full1: Tensor; full2: Tensor; gated: Tensor }
export interface ContrastResult { loss: Tensor; logits: Tensor; reps: ContrastReps }

/** Both batches of one training step: MLM-corrupted ids with their labels' targets, and the original ids. */
export interface DasBatch { corrupted: Batch; original: Batch }
/** Parts of the loss, for logging: L_MLM, L_CKI (unweighted), the logits [B, 2B]. */
export interface DasAux { mlm: Tensor; contrast: Tensor; logits: Tensor }

type Pass = 'mlm' | 'full1' | 'full2' | 'gated';
const PASS_IDS: Record<Pass, number> = { mlm: 0, full1: 1, full2: 2, gated: 3 };

function passDropout(o: ContrastOptions, pass: Pass): DropoutSource | undefined {
  if (o.dropoutKey !== undefined && o.masks !== undefined) throw new Error('contrastive: give dropoutKey or masks, not both');
  if (o.dropoutKey !== undefined) return { key: foldIn(o.dropoutKey, PASS_IDS[pass]) };
  const m = o.masks?.[pass];
  return m === undefined ? undefined : { masks: m };
}

/** Mean of z [B, T, D] over the positions where mask [B, T] is 1 → [B, D] (§12.13). */
export function maskedMeanPool(z: Tensor, mask: Tensor): Tensor {
  const [B, T] = z.shape;
  if (z.shape.length !== 3 || !sameShape(mask.shape, [B, T])) throw new ShapeError('maskedMeanPool', `hidden ${fmt(z.shape)} and mask ${fmt(mask.shape)}`);
  const m = expandDims(mask, -1);                                               // [B, T, 1]
  return div(sum(mul(z, m), 1), maximum(sum(m, 1), 1));                         // [B, D] / [B, 1]
}

/** Rows scaled to unit length: x / max(‖x‖, 1e-8) (PyTorch cosine_similarity's eps). [N, D] → [N, D] */
const unitRows = (x: Tensor): Tensor => div(x, maximum(sqrt(sum(mul(x, x), -1, { keepDims: true })), 1e-8));

/**
 * Contrastive logits [B, 2B] from the pass representations (§6.3): row i = cos(anchor_i, view1_j)/τ for j,
 * then cos(anchor_i, gated_k)/τ for k; anchors are view2, the target of row i is i.
 */
export function contrastLogits(reps: ContrastReps, temperature: number, pairing: ContrastPairing): Tensor {
  const [B, D] = reps.full1.shape;
  for (const r of [reps.full2, reps.gated]) if (!sameShape(r.shape, [B, D])) throw new ShapeError('contrastLogits', `reps ${fmt(reps.full1.shape)} vs ${fmt(r.shape)}`);
  if (!(temperature > 0)) throw new ShapeError('contrastLogits', `temperature must be > 0, got ${temperature}`);
  let view1: Tensor, view2: Tensor;
  if (pairing === 'sameSequence') [view1, view2] = [reps.full1, reps.full2];
  else if (pairing === 'tiledPairs') {
    const pairs = reshape(concat([reps.full1, reps.full2], 0), [B, 2, D]);    // S[2i + k] → pairs[i, k]
    view1 = reshape(slice(pairs, [0, 0, 0], [B, 1, D]), [B, D]);              // S[0::2]
    view2 = reshape(slice(pairs, [0, 1, 0], [B, 2, D]), [B, D]);              // S[1::2]
  } else throw new Error(`contrastPairing must be 'sameSequence' or 'tiledPairs', got '${String(pairing)}'`);
  const anchors = unitRows(view2);
  const sims = concat([matmul(anchors, unitRows(view1), { transB: true }), matmul(anchors, unitRows(reps.gated), { transB: true })], 1); // [B, 2B]
  return scalarOp('mul', sims, 1 / temperature);
}

/** L_CKI on the uncorrupted batch: two full passes and one pass gated by the (constant) importance. */
export function contrastiveLoss(cfg: RobertaConfig, params: EncoderParams, batch: Batch, o: ContrastOptions): ContrastResult {
  checkImportance(o.importance, cfg, 'contrastiveLoss');
  const gates = treeMap(o.importance, stopGradient);
  const rep = (pass: Pass, g?: Importance) => maskedMeanPool(encode(cfg, params, batch, { gates: g, dropout: passDropout(o, pass) }), batch.mask);
  const reps: ContrastReps = { full1: rep('full1'), full2: rep('full2'), gated: rep('gated', gates) };
  const logits = contrastLogits(reps, o.temperature ?? contrastDefaults.temperature, o.pairing ?? contrastDefaults.pairing);
  const B = logits.shape[0];
  const target = fromArray(Int32Array.from({ length: B }, (_, i) => i), [B], { dtype: 'i32', backend: logits.backend });
  return { loss: crossEntropy(logits, target, { reduction: 'mean' }), logits, reps };
}

/**
 * The DAS training loss L_MLM + λ·L_CKI (§6.1, §6.4) as [total, aux], ready for
 * `valueAndGrad(…, ['params'])` with hasAux-style output. MLM: corrupted ids, no gates.
 */
export function dasLoss(cfg: RobertaConfig, params: Params, batch: DasBatch, targets: MlmTargets, o: DasLossOptions): [Tensor, DasAux] {
  if (!sameShape(batch.corrupted.ids.shape, batch.original.ids.shape)) {
    throw new ShapeError('dasLoss', `corrupted ids ${fmt(batch.corrupted.ids.shape)} vs original ids ${fmt(batch.original.ids.shape)}`);
  }
  const lambda = o.contrastWeight ?? contrastDefaults.contrastWeight;
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new ShapeError('dasLoss', `contrastWeight must be a finite number ≥ 0, got ${lambda}`);
  const mlm = mlmLoss(cfg, params, batch.corrupted, targets, { dropout: passDropout(o, 'mlm') });
  const c = contrastiveLoss(cfg, params, batch.original, o);
  if (o.share === undefined) return [add(mlm, scalarOp('mul', c.loss, lambda)), { mlm, contrast: c.loss, logits: c.logits }];
  const [m, k] = [scalarOp('mul', mlm, o.share.tokens), scalarOp('mul', c.loss, o.share.rows)];
  return [add(m, scalarOp('mul', k, lambda)), { mlm: m, contrast: k, logits: c.logits }];
}
