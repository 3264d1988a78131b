// Fused AdamW step: new parameter (or the parameter change), first and second moments in one kernel
// pass. kernels/adamw.wgsl. Not differentiable (an optimizer step is outside the traced computation).
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { type OpDef, apply, defineOp, expectFloat, sameDtype } from './define.js';
import { WG, elementGroups } from './elementwise.js';

export interface AdamwOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count t (bias correction uses β^t). */
  step: number;
  /**
   * 'before' (torch.optim.AdamW): p ← p·(1 − lr·wd), then the Adam step.
   * 'after' (transformers.AdamW): the Adam step, then p ← p − lr·wd·p on the updated p.
   */
  decay?: 'before' | 'after';
  /**
   * 'vhat' (torch): denominator √v̂ + ε. 'v' (transformers.AdamW): √v + ε with the bias
   * corrections folded into the step size lr·√(1−β2^t)/(1−β1^t), i.e. ε is scaled by √(1−β2^t).
   */
  epsOn?: 'vhat' | 'v';
  /**
   * What the first output is: 'param' (default) the new parameter p' = p − δ; 'update' the parameter
   * change u = −δ (optax's updates, applied later as p + u — one rounding more than p − δ).
   */
  emit?: 'param' | 'update';
}

/** The options of Hugging Face's transformers.AdamW (the DAS reference optimizer, docs/method.md §7). */
export const HF_ADAMW = { decay: 'after', epsOn: 'v' } as const satisfies Partial<AdamwOptions>;

interface AdamwParams {
  b1: number; b2: number; lr: number; wd: number; eps: number;
  /** lr / (1−β1^t) ('vhat') or lr·√(1−β2^t)/(1−β1^t) ('v'). */
  stepSize: number;
  /** √(1−β2^t) ('vhat') or 1 ('v'): denominator √v'/d + ε. */
  d: number;
  after: boolean;
  update: boolean;
}

export const adamwOp: OpDef<AdamwParams> = defineOp<AdamwParams>({
  name: 'adamwUpdate',
  shape: (inputs) => {
    const [p, g, m, v] = inputs;
    if (inputs.length !== 4) throw new ShapeError('adamwUpdate', `expects param, grad, m and v, got ${inputs.length} inputs`);
    expectFloat('adamwUpdate', p);
    for (const t of [g, m, v]) {
      sameDtype('adamwUpdate', p, t);
      if (!sameShape(p.shape, t.shape)) throw new ShapeError('adamwUpdate', `param ${fmt(p.shape)}, grad ${fmt(g.shape)}, m ${fmt(m.shape)} and v ${fmt(v.shape)} must share one shape`);
    }
    return [0, 1, 2].map(() => ({ shape: p.shape, dtype: p.dtype }));
  },
  cpu: ([p, g, m, v], [pn, mn, vn], { params: q }) => {
    const lrwd = q.lr * q.wd;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = q.b1 * m[i] + (1 - q.b1) * gi;
      const vi = q.b2 * v[i] + (1 - q.b2) * gi * gi;
      const a = (q.stepSize * mi) / (Math.sqrt(vi) / q.d + q.eps);
      const pi = p[i];
      const delta = q.after ? a + lrwd * (pi - a) : lrwd * pi + a;
      pn[i] = q.update ? -delta : pi - delta;
      mn[i] = mi;
      vn[i] = vi;
    }
  },
  gpu: (ctx, inputs, outs, q) => {
    const [p] = inputs;
    ctx.dispatch({
      kernel: 'adamw', constants: { UPDATE: q.update ? 1 : 0, AFTER: q.after ? 1 : 0, WG },
      uniforms: [
        p.size, { f32: q.b1 }, { f32: q.b2 }, { f32: 1 - q.b1 },
        { f32: 1 - q.b2 }, { f32: q.stepSize }, { f32: q.d }, { f32: q.eps },
        { f32: q.lr * q.wd }, 0, 0, 0,
      ],
      workgroups: elementGroups(p.size), bindings: [...inputs, ...outs],
    });
  },
});

/**
 * One AdamW step → [newParam, newM, newV] (emit 'update': [update, newM, newV]). With β1, β2, t = step:
 *   m' = β1·m + (1−β1)·g;  v' = β2·v + (1−β2)·g²;  a = lr·(m'/(1−β1^t)) / (√(v'/(1−β2^t)) + ε)
 *   decay 'before': δ = lr·wd·p + a        p' = p − δ = p·(1 − lr·wd) − a   (torch order)
 *   decay 'after':  δ = a + lr·wd·(p − a)  p' = p − δ = (p − a)·(1 − lr·wd)  (transformers)
 *   emit 'update':  u = −δ instead of p'
 * epsOn 'v' replaces the denominator with √v' + ε and the step size with lr·√(1−β2^t)/(1−β1^t).
 * Zero gradients with wd = 0 leave p, m and v exactly unchanged (and give u = 0).
 */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamwOptions): [Tensor, Tensor, Tensor] {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step } = o;
  if (!Number.isInteger(step) || step < 1) throw new ShapeError('adamwUpdate', `step must be an integer ≥ 1, got ${step}`);
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new ShapeError('adamwUpdate', `betas must lie in [0, 1), got ${b1}, ${b2}`);
  if (!(lr >= 0 && eps >= 0 && wd >= 0)) throw new ShapeError('adamwUpdate', `lr, eps and weightDecay must be ≥ 0, got ${lr}, ${eps}, ${wd}`);
  const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
  const raw = o.epsOn === 'v';
  const params: AdamwParams = {
    b1, b2, lr, wd, eps,
    stepSize: raw ? (lr * Math.sqrt(bc2)) / bc1 : lr / bc1,
    d: raw ? 1 : Math.sqrt(bc2),
    after: o.decay === 'after',
    update: o.emit === 'update',
  };
  if (o.emit !== undefined && o.emit !== 'param' && o.emit !== 'update') throw new ShapeError('adamwUpdate', `emit must be 'param' or 'update', got '${String(o.emit)}'`);
  const [pn, mn, vn] = apply(adamwOp, [param, grad, m, v], params);
  return [pn, mn, vn];
}
