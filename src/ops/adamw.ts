// Fused AdamW step: new parameter, first and second moments in one kernel pass. kernels/adamw.wgsl.
// Not differentiable (an optimizer step is outside the traced computation).
import { type Shape, ShapeError, broadcastShapes, broadcastStrides, fmt, sameShape } from '../tensor/shape.js';
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
  /** Per-element multiplier of the whole parameter change (DAS soft-masking of the update), broadcast to the param. */
  updateScale?: Tensor;
}

/** The options of Hugging Face's transformers.AdamW (the DAS reference optimizer, spec §7). */
export const HF_ADAMW = { decay: 'after', epsOn: 'v' } as const satisfies Partial<AdamwOptions>;

interface AdamwParams {
  b1: number; b2: number; lr: number; wd: number; eps: number;
  /** lr / (1−β1^t) ('vhat') or lr·√(1−β2^t)/(1−β1^t) ('v'). */
  stepSize: number;
  /** √(1−β2^t) ('vhat') or 1 ('v'): denominator √v'/d + ε. */
  d: number;
  after: boolean;
}

const MAX_RANK = 6;

/** Output dims and scale strides with broadcast-alike adjacent axes merged (size-1 output axes dropped). */
function scaleLayout(param: Shape, scale: Shape): [number[], number[]] {
  const st = broadcastStrides(scale, param);
  const dims: number[] = [], strides: number[] = [];
  param.forEach((d, i) => {
    if (d === 1) return;
    const k = dims.length - 1;
    if (k >= 0 && strides[k] === st[i] * d) { dims[k] *= d; strides[k] = st[i]; } else { dims.push(d); strides.push(st[i]); }
  });
  return [dims, strides];
}

export const adamwOp: OpDef<AdamwParams> = defineOp<AdamwParams>({
  name: 'adamwUpdate',
  shape: (inputs) => {
    const [p, g, m, v, s] = inputs;
    expectFloat('adamwUpdate', p);
    for (const t of [g, m, v]) {
      sameDtype('adamwUpdate', p, t);
      if (!sameShape(p.shape, t.shape)) throw new ShapeError('adamwUpdate', `param ${fmt(p.shape)}, grad ${fmt(g.shape)}, m ${fmt(m.shape)} and v ${fmt(v.shape)} must share one shape`);
    }
    if (s !== undefined) {
      sameDtype('adamwUpdate', p, s);
      if (!sameShape(broadcastShapes('adamwUpdate', p.shape, s.shape), p.shape)) {
        throw new ShapeError('adamwUpdate', `updateScale ${fmt(s.shape)} does not broadcast to param ${fmt(p.shape)}`);
      }
    }
    return [0, 1, 2].map(() => ({ shape: p.shape, dtype: p.dtype }));
  },
  cpu: ([p, g, m, v, s], [pn, mn, vn], { inputs, params: q }) => {
    const st = s === undefined ? [] : broadcastStrides(inputs[4].shape, inputs[0].shape);
    const shape = inputs[0].shape;
    const lrwd = q.lr * q.wd;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = q.b1 * m[i] + (1 - q.b1) * gi;
      const vi = q.b2 * v[i] + (1 - q.b2) * gi * gi;
      const a = (q.stepSize * mi) / (Math.sqrt(vi) / q.d + q.eps);
      let scale = 1;
      if (s !== undefined) {
        let rest = i, is = 0;
        for (let d = shape.length - 1; d >= 0; d--) { const c = rest % shape[d]; rest = (rest - c) / shape[d]; is += c * st[d]; }
        scale = s[is];
      }
      const pi = p[i];
      pn[i] = pi - scale * (q.after ? a + lrwd * (pi - a) : lrwd * pi + a);
      mn[i] = mi;
      vn[i] = vi;
    }
  },
  gpu: (ctx, inputs, outs, q) => {
    const [p, g, m, v, s] = inputs;
    let mode = 0, dims: number[] = [], strides: number[] = [];
    if (s !== undefined) {
      [dims, strides] = scaleLayout(p.shape, s.shape);
      mode = sameShape(s.shape, p.shape) ? 1 : 2;
      if (mode === 2 && dims.length > MAX_RANK) throw new ShapeError('adamwUpdate', `updateScale broadcast of rank ${dims.length} exceeds ${MAX_RANK}`);
    }
    const meta = new Array<number>(12).fill(0);
    if (mode === 2) dims.forEach((d, i) => { meta[i] = d; meta[6 + i] = strides[i]; });
    ctx.dispatch({
      kernel: 'adamw', constants: { SCALE: mode, AFTER: q.after ? 1 : 0, WG },
      uniforms: [
        p.size, dims.length, { f32: q.b1 }, { f32: q.b2 }, { f32: 1 - q.b1 }, { f32: 1 - q.b2 },
        { f32: q.stepSize }, { f32: q.d }, { f32: q.eps }, { f32: q.lr * q.wd }, 0, 0, ...meta,
      ],
      // Without a scale the grad is bound again in its place (read-only aliasing is allowed).
      workgroups: elementGroups(p.size), bindings: [p, g, m, v, s ?? g, ...outs],
    });
  },
});

/**
 * One AdamW step → [newParam, newM, newV]. With β1, β2, t = step, s = updateScale (or 1):
 *   m' = β1·m + (1−β1)·g;  v' = β2·v + (1−β2)·g²;  a = lr·(m'/(1−β1^t)) / (√(v'/(1−β2^t)) + ε)
 *   decay 'before': p' = p − s·(lr·wd·p + a)       (= p·(1 − lr·wd) − a when s = 1; torch order)
 *   decay 'after':  p' = p − s·(a + lr·wd·(p − a))  (= (p − a)·(1 − lr·wd) when s = 1; transformers)
 * epsOn 'v' replaces the denominator with √v' + ε and the step size with lr·√(1−β2^t)/(1−β1^t).
 * Zero gradients with wd = 0 leave p, m and v exactly unchanged.
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
  };
  const inputs = o.updateScale === undefined ? [param, grad, m, v] : [param, grad, m, v, o.updateScale];
  const [pn, mn, vn] = apply(adamwOp, inputs, params);
  return [pn, mn, vn];
}
