// DAS soft-masking (docs/method.md §6.5–6.7, §12.8/9/15/16): each unit's parameters learn at (1 − importance).
// Scales are explicit tensors per parameter path whose rank equals the parameter's: [out, 1] scales rows,
// [1, in] scales columns, [out] scales a bias. Nothing is left to implicit broadcasting.
import type { RobertaConfig } from '../nn/config.js';
import type { Gates } from '../nn/params.js';
import { mul, scalarOp } from '../ops/binary.js';
import { repeatEach } from '../ops/movement.js';
import { reshape } from '../ops/reshape.js';
import { type EmptyState, type GradientTransformation, emptyState } from '../optim/transform.js';
import { tidy } from '../tensor/scope.js';
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../tensor/tree.js';

/** Accumulated importance Ī_t per layer, same layout as the gates: head [H], intermediate [F], output [D], in [0, 1]. */
export type Importance = Gates;

export interface SoftMaskOptions {
  /** Axis of W_Q/W_K/W_V scaled by the head importance: 'out' = the head's rows (paper), 'in' = columns (reference code). */
  headMaskQKVAxis?: 'out' | 'in';
  /** Scale the attention-output bias per feature with the head vector (reference code) instead of leaving it alone. */
  maskAttnOutBias?: boolean;
  /** Every reference-code behaviour at once (headMaskQKVAxis 'in', maskAttnOutBias true); explicit fields still win. */
  referenceCompat?: boolean;
}

/** What the scales multiply: the gradient before AdamW (paper and code), or AdamW's whole update (experimental, §12.15) — softMask's place in the chain. */
export const SOFT_MASK_TARGETS = ['gradient', 'update'] as const;
export type SoftMaskTarget = (typeof SOFT_MASK_TARGETS)[number];

export const paperAxes = { headMaskQKVAxis: 'out', maskAttnOutBias: false } as const satisfies SoftMaskOptions;
export const referenceAxes = { headMaskQKVAxis: 'in', maskAttnOutBias: true } as const satisfies SoftMaskOptions;

/** The effective axis choice: referenceCompat picks the preset, explicit fields override it. */
export function resolveAxes(o: SoftMaskOptions = {}): { headMaskQKVAxis: 'out' | 'in'; maskAttnOutBias: boolean } {
  const base = o.referenceCompat ? referenceAxes : paperAxes;
  return { headMaskQKVAxis: o.headMaskQKVAxis ?? base.headMaskQKVAxis, maskAttnOutBias: o.maskAttnOutBias ?? base.maskAttnOutBias };
}

/** Throws unless `impt` has one { head [H], intermediate [F], output [D] } record per layer of `cfg`. */
export function checkImportance(impt: Importance, cfg: RobertaConfig, who = 'importance'): void {
  if (impt.length !== cfg.layers) throw new ShapeError(who, `${impt.length} layers given, the model has ${cfg.layers}`);
  const want = { head: cfg.heads, intermediate: cfg.intermediate, output: cfg.width };
  impt.forEach((layer, l) => {
    for (const kind of ['head', 'intermediate', 'output'] as const) {
      const t = layer[kind];
      if (t === undefined || !sameShape(t.shape, [want[kind]])) {
        throw new ShapeError(who, `layer ${l} ${kind}: expected [${want[kind]}], got ${t === undefined ? 'nothing' : fmt(t.shape)}`);
      }
    }
  });
}

/**
 * Per-parameter gradient scales from importance (docs/method.md §6.6). Per layer l, with η = 1 − Ī_head[l]
 * expanded to features (f → head f // Dh), ι = 1 − Ī_int[l] [F], ω = 1 − Ī_out[l] [D]:
 *   query/key/value.weight [D, D]: rows × η ('out', paper) or columns × η ('in', reference); biases × η;
 *   attnOut.weight [D, D]: columns × η; attnOut.bias × η only with maskAttnOutBias;
 *   ffnIn.weight [F, D] rows × ι, bias × ι; ffnOut.weight [D, F] rows × ω, bias × ω.
 * Keys are parameter-tree paths (`layers[0].query.weight`); parameters absent from the map are unmasked.
 * Map entries are not kept by `tidy` (it only walks records and arrays): release with `release([...m.values()])`.
 */
export function softMaskScales(impt: Importance, cfg: RobertaConfig, opts: SoftMaskOptions = {}): Map<string, Tensor> {
  checkImportance(impt, cfg, 'softMaskScales');
  const { headMaskQKVAxis, maskAttnOutBias } = resolveAxes(opts);
  const D = cfg.width, F = cfg.intermediate;
  if (cfg.heads * cfg.headDim !== D) throw new ShapeError('softMaskScales', `heads ${cfg.heads} × headDim ${cfg.headDim} ≠ width ${D}`);
  const entries = tidy(() => impt.flatMap((layer, l): [string, Tensor][] => {
    const eta = repeatEach(scalarOp('rsub', layer.head, 1), cfg.headDim);     // [D], feature f → head f // Dh
    const iota = scalarOp('rsub', layer.intermediate, 1);                     // [F]
    const omega = scalarOp('rsub', layer.output, 1);                          // [D]
    const rows = (s: Tensor, n: number) => reshape(s, [n, 1]);
    const cols = (s: Tensor, n: number) => reshape(s, [1, n]);
    const p = `layers[${l}]`;
    const out: [string, Tensor][] = [];
    for (const name of ['query', 'key', 'value']) {
      out.push([`${p}.${name}.weight`, headMaskQKVAxis === 'out' ? rows(eta, D) : cols(eta, D)]);
      out.push([`${p}.${name}.bias`, alias(eta)]);
    }
    out.push([`${p}.attnOut.weight`, cols(eta, D)]);
    if (maskAttnOutBias) out.push([`${p}.attnOut.bias`, alias(eta)]);
    out.push([`${p}.ffnIn.weight`, rows(iota, F)], [`${p}.ffnIn.bias`, alias(iota)]);
    out.push([`${p}.ffnOut.weight`, rows(omega, D)], [`${p}.ffnOut.bias`, alias(omega)]);
    return out;
  }));
  return new Map(entries);
}

/** Throws unless `scale` has the parameter's rank and every axis is 1 or the parameter's size. */
export function checkScale(path: string, scale: Tensor, param: Tensor): void {
  const ok = scale.shape.length === param.shape.length && scale.shape.every((d, i) => d === 1 || d === param.shape[i]);
  if (!ok) throw new ShapeError('softMask', `${path}: scale ${fmt(scale.shape)} does not fit parameter ${fmt(param.shape)}`);
}

/** Checks every scale against the tree: each path must exist and fit its parameter. */
export function checkScales<P>(tree: P, scales: ReadonlyMap<string, Tensor>): void {
  const leaves = new Map(treeLeavesWithPaths(tree));
  for (const [path, s] of scales) {
    const p = leaves.get(path);
    if (p === undefined) throw new ShapeError('softMask', `scale for ${path}, which the parameter tree does not have`);
    checkScale(path, s, p);
  }
}

/**
 * Soft-masked gradients: g ⊙ scale where a scale exists, a fresh handle on g elsewhere (docs/method.md §6.5).
 * Apply once per optimizer step, after accumulating micro-batches (§12.16: per-backward masking compounds).
 */
export function applySoftMask<P>(grads: P, scales: ReadonlyMap<string, Tensor>): P {
  checkScales(grads, scales);
  return treeMap(grads, (g, path) => {
    const s = scales.get(path);
    return s === undefined ? alias(g) : mul(g, s);
  });
}

/**
 * Soft-masking as a gradient transformation (stateless): multiplies each parameter's updates by its scale
 * (parameters without one pass through). Its place in the chain is the soft-mask target:
 *   chain(softMask(scales), adamw(…))  masks the gradient (paper and code; AdamW largely cancels a constant scale, §6.7);
 *   chain(adamw(…), softMask(scales))  scales AdamW's whole parameter change, weight decay included (experimental, §12.15).
 * The scales are checked against the tree at init and on every update; the caller keeps and releases them.
 */
export function softMask<P>(scales: ReadonlyMap<string, Tensor>): GradientTransformation<EmptyState, P> {
  return {
    init: (params) => { checkScales(params, scales); return emptyState; },
    update: (u, s) => [applySoftMask(u, scales), s],
  };
}
