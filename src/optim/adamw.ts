// AdamW over parameter trees as a gradient transformation (src/optim/transform.ts): one fused kernel per
// tensor (src/ops/adamw.ts). Its fused path writes p' directly (bit-identical to the single-kernel step);
// `update` emits u = p' − p for transformations that act on AdamW's update (soft-masking of the update).
import { zerosLike } from '../ops/creation.js';
import { type AdamwOptions, adamwUpdate } from '../ops/adamw.js';
import type { Tensor } from '../tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../tensor/tree.js';
import { type EmptyState, type GradientTransformation, type Schedule, chain, clipByGlobalNorm, identity } from './transform.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decay: 'before' | 'after';
  epsOn: 'vhat' | 'v';
  /** Paths excluded from weight decay (e.g. biases and LayerNorm weights); none by default. */
  noDecay?: (path: string) => boolean;
  /** Clip the global gradient norm to this value first (none when undefined): `adamwFromConfig` chains clipByGlobalNorm. */
  clipNorm?: number;
}

/** torch.optim.AdamW defaults with the reference's eps (docs/method.md §7.1). */
export const adamwDefaults: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0, decay: 'before', epsOn: 'vhat' };

/** AdamW's state; `step` counts the steps taken. The checkpoint format stores exactly these (train/checkpointing.ts). */
export interface AdamWState<P> { step: number; m: P; v: P }

export const adamwInit = <P>(params: P): AdamWState<P> => ({ step: 0, m: treeMap(params, zerosLike), v: treeMap(params, zerosLike) });

/** adamw's options: an AdamWConfig without clipping (a transformation of its own) and with the learning rate. */
export type AdamWOptions = Omit<AdamWConfig, 'clipNorm'> & {
  /** A constant, or lr(state.step) — the number of steps already taken, as linearSchedule counts. */
  lr: number | Schedule;
};

/**
 * AdamW (torch: decay 'before', epsOn 'vhat'; transformers: 'after', 'v') as a transformation.
 * update → u = −δ per tensor (the kernel's 'update' output, so p + u rounds once more than p − δ);
 * fusedApply → p' = p − δ from the same kernel. State { step, m, v }.
 */
export function adamw<P>(o: AdamWOptions): GradientTransformation<AdamWState<P>, P> {
  if ((o as AdamWConfig).clipNorm !== undefined) {
    throw new Error('adamw: clipNorm is a transformation of its own: chain(clipByGlobalNorm(n), adamw(…)), or adamwFromConfig(config, lr)');
  }
  const run = (params: P, grads: P, state: AdamWState<P>, emit: 'param' | 'update'): [P, AdamWState<P>] => {
    const ps = treeLeavesWithPaths(params), gs = treeLeavesWithPaths(grads), ms = treeLeavesWithPaths(state.m), vs = treeLeavesWithPaths(state.v);
    if (gs.length !== ps.length || ms.length !== ps.length || vs.length !== ps.length) {
      throw new Error(`adamw: ${ps.length} parameters but ${gs.length} gradients and ${ms.length}/${vs.length} moments`);
    }
    gs.forEach(([path], i) => { if (path !== ps[i][0]) throw new Error(`adamw: gradient tree differs from parameters at ${path} / ${ps[i][0]}`); });
    const lr = typeof o.lr === 'function' ? o.lr(state.step) : o.lr;
    const step = state.step + 1;
    const out = new Map<string, [Tensor, Tensor, Tensor]>();
    ps.forEach(([path, p], i) => {
      const wd = o.noDecay?.(path) ? 0 : o.weightDecay;
      const k: AdamwOptions = { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: wd, step, decay: o.decay, epsOn: o.epsOn };
      out.set(path, adamwUpdate(p, gs[i][1], ms[i][1], vs[i][1], emit === 'update' ? { ...k, emit } : k));
    });
    const pick = (j: 0 | 1 | 2) => (_t: Tensor, path: string) => out.get(path)![j];
    return [treeMap(params, pick(0)), { step, m: treeMap(state.m, pick(1)), v: treeMap(state.v, pick(2)) }];
  };
  return {
    init: adamwInit,
    update: (grads, state, params) => run(params, grads, state, 'update'),
    fusedApply: (params, grads, state) => run(params, grads, state, 'param'),
  };
}

/**
 * The optimizer an AdamWConfig describes: clipByGlobalNorm(clipNorm) (identity without it), then adamw
 * at `lr`. Fused (its last member is adamw). State [EmptyState, AdamWState].
 */
export function adamwFromConfig<P>(cfg: AdamWConfig, lr: number | Schedule): GradientTransformation<readonly [EmptyState, AdamWState<P>], P> {
  const { clipNorm, ...rest } = cfg;
  return chain(clipNorm === undefined ? identity<P>() : clipByGlobalNorm<P>(clipNorm), adamw<P>({ ...rest, lr }));
}
