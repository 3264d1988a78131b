// AdamW over parameter trees: one fused kernel per tensor (src/ops/adamw.ts). Pure: returns the new
// parameters and state; the caller releases the old ones (loop-carried state).
import { zerosLike } from '../ops/creation.js';
import { type AdamwOptions, adamwUpdate } from '../ops/adamw.js';
import { clipByGlobalNorm } from '../ops/clip.js';
import type { Tensor } from '../tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../tensor/tree.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decay: 'before' | 'after';
  epsOn: 'vhat' | 'v';
  /** Paths excluded from weight decay (e.g. biases and LayerNorm weights); none by default. */
  noDecay?: (path: string) => boolean;
  /** Clip the global gradient norm to this value first (none when undefined). */
  clipNorm?: number;
}

/** torch.optim.AdamW defaults with the reference's eps (das-spec §7.1). */
export const adamwDefaults: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0, decay: 'before', epsOn: 'vhat' };

export interface AdamWState<P> { step: number; m: P; v: P }

export const adamwInit = <P>(params: P): AdamWState<P> => ({ step: 0, m: treeMap(params, zerosLike), v: treeMap(params, zerosLike) });

/**
 * One AdamW step at learning rate `lr`. `updateScale` (same tree shape, leaves broadcastable to the
 * parameter, or missing leaves) scales the whole parameter change — DAS soft-masking of the update.
 */
export function adamwStep<P>(params: P, grads: P, state: AdamWState<P>, lr: number, cfg: AdamWConfig, updateScale?: Map<string, Tensor>): [P, AdamWState<P>, Tensor | undefined] {
  const ps = treeLeavesWithPaths(params), gs = treeLeavesWithPaths(grads), ms = treeLeavesWithPaths(state.m), vs = treeLeavesWithPaths(state.v);
  if (gs.length !== ps.length || ms.length !== ps.length) throw new Error(`adamwStep: ${ps.length} parameters but ${gs.length} gradients and ${ms.length} moments`);
  let gradList = gs.map(([path, g], i) => {
    if (path !== ps[i][0]) throw new Error(`adamwStep: gradient tree differs from parameters at ${path} / ${ps[i][0]}`);
    return g;
  });
  let norm: Tensor | undefined;
  if (cfg.clipNorm !== undefined) [gradList, norm] = clipByGlobalNorm(gradList, cfg.clipNorm);
  const step = state.step + 1;
  const out = new Map<string, [Tensor, Tensor, Tensor]>();
  ps.forEach(([path, p], i) => {
    const wd = cfg.noDecay?.(path) ? 0 : cfg.weightDecay;
    const o: AdamwOptions = { lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: wd, step, decay: cfg.decay, epsOn: cfg.epsOn };
    const scale = updateScale?.get(path);
    out.set(path, adamwUpdate(p, gradList[i], ms[i][1], vs[i][1], scale ? { ...o, updateScale: scale } : o));
  });
  const pick = (k: 0 | 1 | 2) => (_t: Tensor, path: string) => out.get(path)![k];
  return [treeMap(params, pick(0)), { step, m: treeMap(state.m, pick(1)), v: treeMap(state.v, pick(2)) }, norm];
}
