// Gradient transformations in optax's shape: { init(params) → state, update(updates, state, params) →
// [updates, state] }, composed with `chain`; `applyUpdates` adds the final updates to the parameters.
// Pure: every call returns new trees; the caller releases the old parameters and state (loop-carried).
//
// A transformation may also offer `fusedApply(params, grads, state) → [newParams, state]`, equal to
// applyUpdates(params, update(grads, state, params)) up to f32 rounding but done in one pass (adamw: one
// fused kernel per tensor writing p' directly). `chain` exposes it when its last member has it, and
// `applyGradients` takes it when there: chain(softMask, adamw) is fused, chain(adamw, softMask) is not.
import { mul, add } from '../ops/binary.js';
import { clipByGlobalNorm as clipTensors } from '../ops/clip.js';
import { release, tidy } from '../tensor/scope.js';
import { treeLeaves, treeMap, treeZip } from '../tensor/tree.js';
import { alias } from '../tensor/tensor.js';

export interface GradientTransformation<S, P> {
  /** The state for these parameters (moments, counts; `emptyState` when there is none). */
  init(params: P): S;
  /** Transforms `updates` (gradients at the head of a chain); `params` are the current parameters. */
  update(updates: P, state: S, params: P): [P, S];
  /** Optional: applyUpdates(params, update(grads, state, params)[0]) in one pass, and the new state. */
  fusedApply?(params: P, grads: P, state: S): [P, S];
}

/** The state of a stateless transformation. */
export type EmptyState = Readonly<Record<string, never>>;
export const emptyState: EmptyState = Object.freeze({});

/** lr (or any factor) as a function of the number of steps already taken (0 on the first step). */
export type Schedule = (count: number) => number;

/** Passes updates through unchanged. */
export const identity = <P>(): GradientTransformation<EmptyState, P> => ({
  init: () => emptyState,
  update: (u, s) => [u, s],
});

/**
 * Runs the transformations in order, each on the previous one's updates; the state is the tuple of the
 * members' states. Intermediate updates are released as soon as the next member has consumed them.
 */
export function chain<P, const S extends readonly unknown[]>(...ts: { readonly [K in keyof S]: GradientTransformation<S[K], P> }): GradientTransformation<S, P> {
  const n = ts.length;
  const check = (state: S) => {
    if (!Array.isArray(state) || state.length !== n) throw new Error(`chain: expected a state tuple of ${n}, got ${Array.isArray(state) ? state.length : typeof state}`);
  };
  /** Members [0, k) on u; returns their updates and states. */
  const run = (k: number, u: P, state: S, params: P): [P, unknown[]] => {
    let x = u;
    const states: unknown[] = [];
    for (let i = 0; i < k; i++) {
      const t = ts[i] as GradientTransformation<unknown, P>;
      const [y, s] = tidy(() => t.update(x, state[i], params));
      if (x !== u) release(x);          // made in this chain (tidy hands back fresh handles), consumed now
      x = y;
      states.push(s);
    }
    return [x, states];
  };
  const last = ts[n - 1] as GradientTransformation<unknown, P> | undefined;
  const out: GradientTransformation<S, P> = {
    init: (params) => ts.map((t) => t.init(params)) as unknown as S,
    update: (u, state, params) => {
      check(state);
      const [x, states] = run(n, u, state, params);
      return [x, states as unknown as S];
    },
  };
  if (last?.fusedApply !== undefined) {
    const fused = last.fusedApply.bind(last);
    out.fusedApply = (params, grads, state) => {
      check(state);
      const [x, states] = run(n - 1, grads, state, params);
      const [p, s] = tidy(() => fused(params, x, state[n - 1]));
      if (x !== grads) release(x);
      return [p, [...states, s] as unknown as S];
    };
  }
  return out;
}

/** params + updates, leaf by leaf (the trees must have one structure). */
export const applyUpdates = <P>(params: P, updates: P): P => treeZip(params, updates, (p, u) => add(p, u));

/**
 * One optimizer step: the transformation's fused path when it has one, else update then applyUpdates.
 * Returns the new parameters and state; the caller releases the old ones.
 */
export function applyGradients<S, P>(tx: GradientTransformation<S, P>, params: P, grads: P, state: S): [P, S] {
  return tidy(() => {
    if (tx.fusedApply !== undefined) return tx.fusedApply(params, grads, state);
    const [u, s] = tx.update(grads, state, params);
    return [applyUpdates(params, u), s] as [P, S];
  });
}

/** Rebuilds `tree` with its tensor leaves replaced, in treeLeaves order. */
const withLeaves = <P>(tree: P, leaves: readonly unknown[]): P => {
  let i = 0;
  return treeMap(tree, () => leaves[i++] as never);
};

/**
 * torch.nn.utils.clip_grad_norm_ over the whole tree: every update times min(1, maxNorm / (‖u‖ + 1e-6)),
 * ‖u‖ the global L2 norm (src/ops/clip.ts). Stateless.
 */
export function clipByGlobalNorm<P>(maxNorm: number): GradientTransformation<EmptyState, P> {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  return {
    init: () => emptyState,
    update: (u, s) => {
      const [clipped, norm] = clipTensors(treeLeaves(u), maxNorm);
      norm.dispose();
      return [withLeaves(u, clipped), s];
    },
  };
}

/** Every update times a constant. */
export const scale = <P>(factor: number): GradientTransformation<EmptyState, P> => ({
  init: () => emptyState,
  update: (u, s) => [treeMap(u, (t) => mul(t, factor)), s],
});

export interface ScheduleState { count: number }

/** Every update times schedule(count), count = steps taken so far (its state). */
export const scaleBySchedule = <P>(schedule: Schedule): GradientTransformation<ScheduleState, P> => ({
  init: () => ({ count: 0 }),
  update: (u, s) => {
    const f = schedule(s.count);
    return [treeMap(u, (t) => mul(t, f)), { count: s.count + 1 }];
  },
});

/**
 * Trains only the leaves whose path (dotted, e.g. 'layers.0.adapter.attn.down.weight') `trainable`
 * accepts: every other gradient becomes zero. Before AdamW without weight decay this freezes them
 * exactly (a zero gradient keeps both moments at zero, so every update is zero).
 */
export function freezeExcept<P>(trainable: (path: string) => boolean): GradientTransformation<EmptyState, P> {
  return {
    init: () => emptyState,
    update: (u, s) => {
      let any = false;
      const out = treeMap(u, (t, path) => (trainable(path) ? ((any = true), alias(t)) : mul(t, 0)));
      if (!any) { release(out); throw new Error('freezeExcept: no parameter is trainable (a frozen-LM method on a model without its adapters or prompt?)'); }
      return [out, s];
    },
  };
}
