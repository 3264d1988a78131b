// HAT's maths (Serra et al. 2018, "Overcoming catastrophic forgetting with hard attention to the
// task"), on the bottleneck units of Houlsby adapters as in the DAS paper's HAT baseline. Every
// function works on plain tensors (or a parameter tree's paths); the record is ./hat.ts.
//
// Layout: the unit masks (and the task embeddings they come from) of one model are one tensor
// [L, 2, r]: layer l, adapter k (0: after the attention output, 1: after the FFN output), unit j.
//   - mask            m_t = sigmoid(s · e_t), s annealed per step from 1/s_max to s_max;
//   - regulariser     Σ m_t ⊙ (1 − m_<t) / Σ (1 − m_<t)  (m_<t: elementwise max of earlier hard masks);
//   - blocking        gradients of units earlier domains use × (1 − m_<t);
//   - compensation    the embedding's gradient × s_max (cosh(clamp(s e, ±50)) + 1) / (s (cosh(e) + 1));
//   - clamp           e ← clamp(e, ±6) after every step;
//   - baking          up.weight's columns × m: the same output as masking the bottleneck.
import { stopGradient } from '../../autodiff/grad.js';
import type { Backend } from '../../backend/backend.js';
import type { AdapterMask } from '../../nn/roberta.js';
import type { Adapter, Params } from '../../nn/params.js';
import { add, div, maximum, minimum, mul, scalarOp, sub } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { reshape } from '../../ops/reshape.js';
import { slice } from '../../ops/movement.js';
import { exp, sigmoid } from '../../ops/unary.js';
import { type EmptyState, type GradientTransformation, emptyState } from '../../optim/transform.js';
import { release } from '../../tensor/scope.js';
import { type Tensor, alias, fromArray } from '../../tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../../tensor/tree.js';

/** Serra et al.'s constants: |s·e| is clamped to 50 inside cosh (thres_cosh), e to ±6 after each step (thres_emb). */
export const HAT_THRES_COSH = 50;
export const HAT_THRES_EMB = 6;
/** The two adapters of a layer, in the mask tensor's second axis. */
export const ADAPTER_KINDS = ['attn', 'ffn'] as const;

/**
 * The mask scale of optimizer step `step` (0-based) of `steps`: 1/s_max at the first step, s_max at the
 * last, linear in between (one step: s_max).
 */
export function annealedScale(step: number, steps: number, smax: number): number {
  if (!(smax > 0)) throw new RangeError(`annealedScale: s_max must be > 0, got ${smax}`);
  if (!(Number.isSafeInteger(steps) && steps > 0 && Number.isSafeInteger(step) && step >= 0 && step < steps)) {
    throw new RangeError(`annealedScale: step ${step} is not one of ${steps} steps`);
  }
  const progress = steps > 1 ? step / (steps - 1) : 1;
  return 1 / smax + (smax - 1 / smax) * progress;
}

/** m = sigmoid(s · e), elementwise. */
export const taskMask = (e: Tensor, s: number): Tensor => sigmoid(scalarOp('mul', e, s));

/** HAT's hard mask of a trained embedding: sigmoid(s_max · e). */
export const hardMask = (e: Tensor, smax: number): Tensor => taskMask(e, smax);

const cosh = (x: Tensor): Tensor => scalarOp('mul', add(exp(x), exp(scalarOp('mul', x, -1))), 0.5);

/**
 * Serra et al.'s gradient compensation of the embedding, s_max (cosh(clamp(s e, ±50)) + 1) / (s (cosh(e) + 1)),
 * elementwise (no gradient flows through it). It undoes the 1/s_max-small gradients of sigmoid(s e) early
 * in the annealing, where s is small.
 */
export function compensationFactor(e: Tensor, s: number, smax: number): Tensor {
  const v = stopGradient(e);
  const se = minimum(maximum(scalarOp('mul', v, s), -HAT_THRES_COSH), HAT_THRES_COSH);
  return stopGradient(scalarOp('mul', div(scalarOp('add', cosh(se), 1), scalarOp('add', cosh(v), 1)), smax / s));
}

/**
 * e with its value unchanged (bit for bit) and its gradient multiplied by `factor` (a constant):
 * sg(e) + (e − sg(e)) ⊙ factor. The forward value is sg(e) + 0; the backward sends factor ⊙ ḡ to e.
 * Puts HAT's compensation into the loss, where the step's s is known, instead of a stateless
 * gradient transformation, which cannot know the step.
 */
export function scaleGradient(e: Tensor, factor: Tensor): Tensor {
  const v = stopGradient(e);
  return add(v, mul(sub(e, v), stopGradient(factor)));
}

/** e whose gradient is compensated (value e): compensationFactor through scaleGradient. */
export const compensated = (e: Tensor, s: number, smax: number): Tensor => scaleGradient(e, compensationFactor(e, s, smax));

/**
 * HAT's sparsity regulariser Σ m ⊙ (1 − prev) / Σ (1 − prev): the fraction of the units earlier
 * domains left free that this domain takes (prev = 0: the mean of m). When every unit is taken
 * (Σ (1 − prev) = 0) the numerator is 0 too and the value is 0.
 */
export function sparsity(m: Tensor, prev: Tensor): Tensor {
  const free = scalarOp('rsub', prev, 1);
  return div(sum(mul(m, free)), maximum(sum(free), 1e-12));
}

/** The cumulative mask of earlier domains and this one: elementwise max (host values). */
export function cumulativeMask(prev: Float32Array, task: Float32Array): Float32Array {
  if (prev.length !== task.length) throw new Error(`cumulativeMask: ${prev.length} and ${task.length} units`);
  return Float32Array.from(task, (x, i) => Math.max(x, prev[i]));
}

/** Per layer, the two adapters' unit masks ([r] each) of a mask tensor [L, 2, r]: the forward's adapterMasks. */
export function layerMasks(m: Tensor): AdapterMask[] {
  const [L, K, r] = m.shape;
  if (m.shape.length !== 3 || K !== 2) throw new Error(`layerMasks: expected [L, 2, r], got [${m.shape.join(', ')}]`);
  const at = (l: number, k: number) => reshape(slice(m, [l, k, 0], [l + 1, k + 1, r]), [r]);
  return Array.from({ length: L }, (_, l) => ({ attn: at(l, 0), ffn: at(l, 1) }));
}

const ADAPTER_PATH = /^layers\[(\d+)\]\.adapter\.(attn|ffn)\.(down|up)\.(weight|bias)$/;

/** A stateless gradient transformation with device constants to release. */
export interface Releasable<S, P> { tx: GradientTransformation<S, P>; release(): void }

/**
 * HAT's blocking (before AdamW, on the gradient): the gradients of adapter unit j of layer l, adapter k
 * are multiplied by 1 − prev[l, k, j] — row j of down.weight, down.bias[j], column j of up.weight — so
 * units earlier domains use (prev = 1) stay exactly as they are and free ones (prev = 0) train.
 * `upBias`: also block up.bias entirely (it is unmasked, i.e. used by every earlier domain; false on
 * the first domain). Other leaves pass unchanged. prev: host values [L, 2, r].
 */
export function blockAdapterGradients(prev: Float32Array, L: number, r: number, backend: Backend, o: { upBias: boolean }): Releasable<EmptyState, Params> {
  if (prev.length !== L * 2 * r) throw new Error(`blockAdapterGradients: ${prev.length} mask values for ${L} layers × 2 adapters × ${r} units`);
  const made: Tensor[] = [];
  const keep = (t: Tensor) => { made.push(t); return t; };
  const free = Array.from({ length: L }, (_, l) => ADAPTER_KINDS.map((_k, k) => {
    const f = Float32Array.from(prev.subarray((l * 2 + k) * r, (l * 2 + k + 1) * r), (p) => 1 - p);
    return { rows: keep(fromArray(f, [r, 1], { backend })), units: keep(fromArray(f, [r], { backend })), cols: keep(fromArray(f, [1, r], { backend })) };
  }));
  const tx: GradientTransformation<EmptyState, Params> = {
    init: () => emptyState,
    update: (u, s) => [treeMap(u, (g, path) => {
      const hit = ADAPTER_PATH.exec(path);
      if (hit === null) return alias(g);
      const l = Number(hit[1]), f = free[l]?.[hit[2] === 'attn' ? 0 : 1];
      if (f === undefined) throw new Error(`blockAdapterGradients: ${path} is beyond the mask's ${L} layers`);
      const which = `${hit[3]}.${hit[4]}`;
      if (which === 'down.weight') return mul(g, f.rows);
      if (which === 'down.bias') return mul(g, f.units);
      if (which === 'up.weight') return mul(g, f.cols);
      return o.upBias ? mul(g, 0) : alias(g);
    }), s],
  };
  return { tx, release: () => release(made) };
}

/**
 * After AdamW, on the update of the leaf at `path`: u ↦ clamp(p + u, lo, hi) − p, so the step leaves
 * that leaf clamped to [lo, hi] (HAT's thres_emb on the task embeddings). Other leaves pass unchanged.
 */
export function clampLeaf<P>(path: string, lo: number, hi: number): GradientTransformation<EmptyState, P> {
  return {
    init: () => emptyState,
    update: (u, s, params) => {
      const cur = treeLeavesWithPaths(params).find(([q]) => q === path)?.[1];
      if (cur === undefined) throw new Error(`clampLeaf: the parameters have no leaf ${path}`);
      return [treeMap(u, (x, q) => (q === path ? sub(minimum(maximum(add(cur, x), lo), hi), cur) : alias(x))), s];
    },
  };
}

/** The adapter with its unit mask m [r] baked into up.weight's columns: adapter(x, a, m) = adapter(x, baked). A new up.weight; the rest shared. */
export function bakeMask(a: Adapter, m: Tensor): Adapter {
  const r = a.up.weight.shape[1];
  if (m.shape.length !== 1 || m.shape[0] !== r) throw new Error(`bakeMask: the mask must be [${r}], got [${m.shape.join(', ')}]`);
  return { down: a.down, up: { weight: mul(a.up.weight, reshape(m, [1, r])), bias: a.up.bias } };
}
