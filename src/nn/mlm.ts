// Host batches → device batches, and the masked-LM loss (docs/method.md §2.4): cross-entropy averaged over
// all labelled positions of the batch. Only labelled positions go through the MLM head.
import type { Backend } from '../backend/backend.js';
import { crossEntropy } from '../ops/cross-entropy.js';
import { full } from '../ops/creation.js';
import { gather } from '../ops/embedding.js';
import { reshape } from '../ops/reshape.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { RobertaConfig } from './config.js';
import type { Params } from './params.js';
import { type Batch, type ForwardOptions, encode, mlmLogits } from './roberta.js';

/** Token data on the host, row-major [B, T]. labels: −100 where no prediction is scored. */
export interface HostBatch {
  B: number;
  T: number;
  ids: Int32Array;
  attention?: Int32Array;
  labels?: Int32Array;
}

export const IGNORE = -100;

/** Hugging Face's rule: padding_idx + running count of non-pad tokens; pad tokens get padding_idx. */
export function positionIds(ids: Int32Array, B: number, T: number, padId: number): Int32Array {
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (ids[i] !== padId) out[i] = padId + ++count; else out[i] = padId;
    }
  }
  return out;
}

export function checkHostBatch(cfg: RobertaConfig, hb: HostBatch): void {
  const n = hb.B * hb.T;
  if (hb.ids.length !== n) throw new Error(`batch: ${hb.ids.length} ids for shape [${hb.B}, ${hb.T}]`);
  if (hb.T + cfg.padId + 1 > cfg.maxPositions) throw new Error(`batch: sequence length ${hb.T} needs ${hb.T + cfg.padId + 1} positions, the model has ${cfg.maxPositions}`);
  for (let i = 0; i < n; i++) {
    if (hb.ids[i] < 0 || hb.ids[i] >= cfg.vocabSize) throw new Error(`batch: token id ${hb.ids[i]} at position ${i} is outside the vocabulary of ${cfg.vocabSize}`);
    const l = hb.labels?.[i];
    if (l !== undefined && l !== IGNORE && (l < 0 || l >= cfg.vocabSize)) throw new Error(`batch: label ${l} at position ${i} is outside the vocabulary`);
  }
}

/** Uploads ids, positions and masks. */
export function toDevice(cfg: RobertaConfig, hb: HostBatch, backend: Backend): Batch {
  checkHostBatch(cfg, hb);
  const { B, T } = hb;
  const mask = new Float32Array(B * T);
  for (let i = 0; i < B * T; i++) mask[i] = hb.attention ? (hb.attention[i] ? 1 : 0) : hb.ids[i] !== cfg.padId ? 1 : 0;
  const bias = mask.map((m) => (m ? 0 : -10000));
  return {
    ids: fromArray(hb.ids, [B, T], { dtype: 'i32', backend }),
    positions: fromArray(positionIds(hb.ids, B, T, cfg.padId), [B, T], { dtype: 'i32', backend }),
    mask: fromArray(mask, [B, T], { backend }),
    maskBias: fromArray(bias, [B, 1, 1, T], { backend }),
  };
}

/** Flat positions with a label, and those labels (host side). */
export function labelled(hb: HostBatch): { index: Int32Array; labels: Int32Array } {
  const idx: number[] = [], lab: number[] = [];
  hb.labels?.forEach((l, i) => { if (l !== IGNORE) { idx.push(i); lab.push(l); } });
  return { index: Int32Array.from(idx), labels: Int32Array.from(lab) };
}

export interface MlmTargets { index: Tensor; labels: Tensor; count: number }

export function mlmTargets(hb: HostBatch, backend: Backend): MlmTargets {
  const { index, labels } = labelled(hb);
  return { index: fromArray(index, [index.length], { dtype: 'i32', backend }), labels: fromArray(labels, [labels.length], { dtype: 'i32', backend }), count: index.length };
}

/** MLM logits at the labelled positions of hidden states z [B, T, D] → [M, V]. */
export function labelledLogits(cfg: RobertaConfig, params: Params, z: Tensor, t: MlmTargets, fused = true): Tensor {
  if (params.lmHead === undefined) throw new Error('the model has no MLM head (lm_head.* parameters)');
  const flat = reshape(z, [z.shape[0] * z.shape[1], cfg.width]);
  return mlmLogits(cfg, params.lmHead, params.embeddings.word, gather(flat, t.index), fused);
}

/** Mean cross-entropy over every labelled position of the batch (0 when nothing is labelled). */
export function mlmLoss(cfg: RobertaConfig, params: Params, batch: Batch, t: MlmTargets, o: ForwardOptions = {}): Tensor {
  const z = encode(cfg, params, batch, o);
  if (t.count === 0) return full([], 0, { backend: z.backend });
  return crossEntropy(labelledLogits(cfg, params, z, t, o.fused), t.labels, { reduction: 'mean' });
}
