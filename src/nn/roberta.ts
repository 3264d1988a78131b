// RoBERTa as pure functions over parameter trees (docs/method.md §2): embeddings with Hugging Face position
// ids, post-LN encoder layers with the three virtual gates, MLM head (decoder tied to the word
// embeddings) and the classification head on <s>. Shapes: B batch, T tokens, D width, H heads.
import { add, div, mul, scalarOp } from '../ops/binary.js';
import { sum } from '../ops/reduce.js';
import { gather } from '../ops/embedding.js';
import { attention as fusedAttention } from '../ops/attention.js';
import { addLayerNorm, layerNorm } from '../ops/layer-norm.js';
import { linear, linearComposed, matmul } from '../ops/matmul.js';
import { broadcastTo } from '../ops/reduce.js';
import { concat, pad, permute, slice } from '../ops/movement.js';
import { type Key, dropout, foldIn } from '../ops/random.js';
import { reshape } from '../ops/reshape.js';
import { softmax } from '../ops/softmax.js';
import { gelu, tanh } from '../ops/unary.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RobertaConfig } from './config.js';
import type { Adapter, ClassifierHead, EncoderParams, LayerGates, LayerParams, Linear, MlmHead, Norm, Gates } from './params.js';

/** A batch on the device. positions follow Hugging Face's rule (see positionIds). */
export interface Batch {
  ids: Tensor;        // i32 [B, T]
  positions: Tensor;  // i32 [B, T]
  /** Additive key mask: 0 on real tokens, −10000 on padding; f32 [B, 1, 1, T]. */
  maskBias: Tensor;
  /** 1 on real tokens, 0 on padding; f32 [B, T]. */
  mask: Tensor;
}

/**
 * Where dropout randomness comes from. `key`: the library RNG (site keys are derived from it);
 * `masks`: explicit 0/1 keep-masks by site name (embeddings, attn_probs.l, attn_output.l, ffn_output.l),
 * used for exact parity with fixtures. Absent, or p = 0: no dropout.
 */
export type DropoutSource = { key: Key } | { masks: Record<string, Tensor> };

export interface ForwardOptions {
  gates?: Gates;
  dropout?: DropoutSource;
  /**
   * Fused kernels (default): linear layers with bias and GELU in the matmul's epilogue, q·k·v in one
   * product, attention as one op (its products read the packed heads in place; scale, mask, softmax,
   * dropout and gate in one row pass), residual add + layer norm in one dispatch. false: the plain
   * composition of ops, the reference (equal to f32 rounding; the same dropout bits).
   */
  fused?: boolean;
  /**
   * Per layer, masks on the bottleneck units of its two adapters (attn, ffn: each [r]; HAT's unit
   * masks): adapter(x) = x + up(GELU(down(x)) ⊙ mask). Absent: no mask. Needs a model with adapters.
   */
  adapterMasks?: AdapterMask[];
}

/** The unit masks of one layer's adapters, each [r]. */
export interface AdapterMask { attn: Tensor; ffn: Tensor }

const SITE_IDS = { embeddings: 0, attn_probs: 1, attn_output: 2, ffn_output: 3 } as const;

function drop(x: Tensor, p: number, site: keyof typeof SITE_IDS, layer: number, src: DropoutSource | undefined): Tensor {
  if (src === undefined || p === 0) return x;
  if ('masks' in src) {
    const name = site === 'embeddings' ? site : `${site}.${layer}`;
    const m = src.masks[name];
    if (m === undefined) throw new Error(`dropout mask '${name}' is missing`);
    return mul(x, scalarOp('mul', m, 1 / (1 - p)));
  }
  return dropout(siteKey(src.key, site, layer), x, p);
}

const siteKey = (k: Key, site: keyof typeof SITE_IDS, layer: number): Key => foldIn(foldIn(k, SITE_IDS[site]), layer + 1);

const norm = (x: Tensor, n: Norm, eps: number): Tensor => layerNorm(x, n.weight, n.bias, eps);
/** layerNorm(x + res): one dispatch when fused. */
const addNorm = (x: Tensor, res: Tensor, n: Norm, eps: number, fused: boolean): Tensor =>
  (fused ? addLayerNorm(x, res, n.weight, n.bias, eps) : norm(add(x, res), n, eps));
/** x·Wᵀ + b: the fused op, or the plain matmul + add. */
const lin = (x: Tensor, l: Linear, fused: boolean): Tensor => (fused ? linear(x, l.weight, l.bias) : linearComposed(x, l.weight, l.bias));

export function embed(cfg: RobertaConfig, p: EncoderParams['embeddings'], b: Batch, src?: DropoutSource, fused = true): Tensor {
  const typeRow = reshape(slice(p.tokenType, [0, 0], [1, cfg.width]), [cfg.width]); // RoBERTa uses type 0 only
  const pad = { paddingIdx: cfg.padId };                                             // row padId gets no gradient (HF)
  const e = add(gather(p.word, b.ids, pad), gather(p.position, b.positions, pad));  // [B, T, D]
  return drop(addNorm(e, typeRow, p.norm, cfg.layerNormEps, fused), cfg.hiddenDropout, 'embeddings', 0, src);
}

/** Whether attention runs as the fused op: dropout from the library RNG (or none), not explicit masks. */
const fusable = (cfg: RobertaConfig, src: DropoutSource | undefined): boolean => !(src !== undefined && 'masks' in src && cfg.attentionDropout > 0);

/** q | k | v in one product (weights concatenated per call), then the fused attention op. [B,T,D] → [B,T,D] */
function attentionFused(cfg: RobertaConfig, p: LayerParams, x: Tensor, b: Batch, l: number, gate: Tensor | undefined, src?: DropoutSource): Tensor {
  const w = concat([p.query.weight, p.key.weight, p.value.weight], 0), bias = concat([p.query.bias, p.key.bias, p.value.bias], 0);
  const qkv = linear(x, w, bias);                                                    // [B, T, 3D]
  const p0 = cfg.attentionDropout;
  const dr = src !== undefined && 'key' in src && p0 > 0 ? { key: siteKey(src.key, 'attn_probs', l), p: p0 } : undefined;
  const ctx = fusedAttention(qkv, b.maskBias, { heads: cfg.heads, scale: 1 / Math.sqrt(cfg.headDim), dropout: dr, gate });
  return linear(ctx, p.attnOut.weight, p.attnOut.bias);
}

/** Multi-head self-attention with the head gate on the (dropped-out) probabilities. [B,T,D] → [B,T,D] */
function attention(cfg: RobertaConfig, p: LayerParams, x: Tensor, b: Batch, l: number, gate: Tensor | undefined, src?: DropoutSource, fused = true): Tensor {
  if (fused && fusable(cfg, src)) return attentionFused(cfg, p, x, b, l, gate, src);
  const [B, T] = x.shape;
  const H = cfg.heads, Dh = cfg.headDim;
  const split = (t: Tensor) => permute(reshape(t, [B, T, H, Dh]), [0, 2, 1, 3]);   // [B, H, T, Dh]
  const q = split(lin(x, p.query, fused));
  const k = split(lin(x, p.key, fused));
  const v = split(lin(x, p.value, fused));
  const scores = add(scalarOp('mul', matmul(q, k, { transB: true }), 1 / Math.sqrt(Dh)), b.maskBias); // [B, H, T, T]
  let probs = drop(softmax(scores, -1), cfg.attentionDropout, 'attn_probs', l, src);
  if (gate !== undefined) probs = mul(probs, reshape(gate, gate.shape.length === 2 ? [B, H, 1, 1] : [1, H, 1, 1])); // [H], or [B, H] per example
  const ctx = reshape(permute(matmul(probs, v), [0, 2, 1, 3]), [B, T, H * Dh]);    // [B, T, D]
  return lin(ctx, p.attnOut, fused);
}

/**
 * Houlsby adapter x + up(GELU(down(x)) ⊙ unitMask) on x [..., D] (docs/adapters.md); unitMask [r] is
 * optional. Fused: down and GELU in one dispatch when there is no mask; otherwise the plain composition.
 */
export function adapter(x: Tensor, a: Adapter, unitMask?: Tensor, fused = true): Tensor {
  const r = a.down.weight.shape[0];
  if (unitMask !== undefined && (unitMask.shape.length !== 1 || unitMask.shape[0] !== r)) {
    throw new Error(`adapter: the unit mask must be [${r}] (the adapter's bottleneck units), got [${unitMask.shape.join(', ')}]`);
  }
  const act = fused && unitMask === undefined ? linear(x, a.down.weight, a.down.bias, { act: 'gelu' }) : gelu(lin(x, a.down, fused)); // [..., r]
  return add(x, lin(unitMask === undefined ? act : mul(act, unitMask), a.up, fused));
}

/** Post-LN encoder block (docs/method.md §2.3), with Houlsby adapters when `p.adapter` is present. */
export function encoderLayer(cfg: RobertaConfig, p: LayerParams, x: Tensor, b: Batch, l: number, g: LayerGates | undefined, src?: DropoutSource, fused = true, am?: AdapterMask): Tensor {
  if (am !== undefined && p.adapter === undefined) throw new Error(`adapterMasks: a mask is given for layer ${l}, which has no adapters`);
  const ad = (t: Tensor, k: 'attn' | 'ffn'): Tensor => (p.adapter === undefined ? t : adapter(t, p.adapter[k], am?.[k], fused));
  const a = ad(drop(attention(cfg, p, x, b, l, g?.head, src, fused), cfg.hiddenDropout, 'attn_output', l, src), 'attn');
  const h = addNorm(a, x, p.attnNorm, cfg.layerNormEps, fused);                             // [B, T, D]
  // GELU(h·Wᵀ + b) in one dispatch, unless the intermediate gate sits between the product and GELU.
  const act = fused && g === undefined ? linear(h, p.ffnIn.weight, p.ffnIn.bias, { act: 'gelu' })
    : gelu(g === undefined ? lin(h, p.ffnIn, fused) : mul(lin(h, p.ffnIn, fused), g.intermediate)); // [B, T, F]
  let o = lin(act, p.ffnOut, fused);                                                       // [B, T, D]
  if (g !== undefined) o = mul(o, g.output);
  return addNorm(ad(drop(o, cfg.hiddenDropout, 'ffn_output', l, src), 'ffn'), h, p.ffnNorm, cfg.layerNormEps, fused);
}

/**
 * The encoder's last hidden states Z. [B, T, D] With a soft prompt p.prompt [n, D], its rows are
 * prepended to every embedded sequence (no position embedding, no embedding dropout), attended as
 * keys by every token, and dropped again at the end: Z is still the T token positions.
 */
export function encode(cfg: RobertaConfig, p: EncoderParams, b: Batch, o: ForwardOptions = {}): Tensor {
  if (o.gates !== undefined && o.gates.length !== cfg.layers) throw new Error(`gates: ${o.gates.length} layers given, the model has ${cfg.layers}`);
  if (o.adapterMasks !== undefined) {
    if (p.layers.some((layer) => layer.adapter === undefined)) throw new Error('adapterMasks: given for a model without adapters (every layer needs layer.adapter)');
    if (o.adapterMasks.length !== cfg.layers) throw new Error(`adapterMasks: ${o.adapterMasks.length} layers given, the model has ${cfg.layers}`);
  }
  const fused = o.fused ?? true;
  let x = embed(cfg, p.embeddings, b, o.dropout, fused);
  const n = p.prompt?.shape[0] ?? 0;
  let lb = b;
  if (p.prompt !== undefined) {
    if (p.prompt.shape.length !== 2 || p.prompt.shape[1] !== cfg.width) throw new Error(`prompt: must be [n, ${cfg.width}], got [${p.prompt.shape.join(', ')}]`);
    if (n > 0) {
      const [B, T] = x.shape;
      x = concat([broadcastTo(reshape(p.prompt, [1, n, cfg.width]), [B, n, cfg.width]), x], 1);         // [B, n+T, D]
      lb = { ...b, maskBias: pad(reshape(b.maskBias, [B, 1, 1, T]), [0, 0, 0, n]) }; // prompt keys: bias 0 (the layers read only maskBias)
    }
  }
  p.layers.forEach((layer, l) => { x = encoderLayer(cfg, layer, x, lb, l, o.gates?.[l], o.dropout, fused, o.adapterMasks?.[l]); });
  return n > 0 ? slice(x, [0, n, 0]) : x;
}

/** MLM logits of hidden states z [..., D] → [..., V]; the decoder is the word-embedding matrix. */
export function mlmLogits(cfg: RobertaConfig, head: MlmHead, word: Tensor, z: Tensor, fused = true): Tensor {
  if (fused) return linear(norm(linear(z, head.dense.weight, head.dense.bias, { act: 'gelu' }), head.norm, cfg.layerNormEps), word, head.bias);
  const h = norm(gelu(linearComposed(z, head.dense.weight, head.dense.bias)), head.norm, cfg.layerNormEps);
  return add(matmul(h, word, { transB: true }), head.bias);
}

/**
 * How the classifier summarises a sequence: 'cls' takes the <s> position (RoBERTa, the paper); 'mean'
 * averages the hidden states of the real tokens (needs the batch's mask). Small models pre-trained
 * with MLM only carry little in <s>, and learn end tasks faster from the mean.
 */
export type Pooling = 'cls' | 'mean';
export const poolings: readonly Pooling[] = ['cls', 'mean'];

/** [B, D] summary of hidden states z [B, T, D]. `mask` is [B, T] (1 on real tokens); 'mean' needs it. */
export function pool(z: Tensor, how: Pooling = 'cls', mask?: Tensor): Tensor {
  const [B, T, D] = z.shape;
  if (how === 'cls') return reshape(sliceFirst(z), [B, D]);
  if (mask === undefined) throw new Error("pool: 'mean' pooling needs the attention mask");
  const m = reshape(mask, [B, T, 1]);
  return div(sum(mul(z, m), [1]), sum(m, [1]));
}

/** Classification logits: pooled hidden states (default <s>) → dense → tanh → dense (dropout before each dense). */
export function classifierLogits(cfg: RobertaConfig, head: ClassifierHead, z: Tensor, src?: DropoutSource, keyOffset = 0, pooling: { how: Pooling; mask?: Tensor } = { how: 'cls' }): Tensor {
  const first = pool(z, pooling.how, pooling.mask);
  const d = (t: Tensor, i: number) => (src !== undefined && 'key' in src ? dropout(foldIn(src.key, 100 + keyOffset + i), t, cfg.hiddenDropout) : t);
  const r = tanh(linear(d(first, 0), head.dense.weight, head.dense.bias));
  return linear(d(r, 1), head.out.weight, head.out.bias);
}

const sliceFirst = (z: Tensor): Tensor => slice(z, [0, 0, 0], [z.shape[0], 1, z.shape[2]]);
