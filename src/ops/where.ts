// where(cond, a, b): elementwise select with NumPy broadcasting among all three. kernels/where.wgsl.
// cond is f32/f64 (true where ≠ 0, so NaN selects a) or i32; a and b share a dtype (f32 or i32 on
// the GPU: the kernel moves raw 32-bit words).
import { ShapeError, broadcastShapes, broadcastStrides, fmt, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { type OpDef, apply1, defineOp, sameDtype } from './define.js';
import { WG, elementGroups } from './elementwise.js';
import { full } from './creation.js';
import { KERNEL_RANK, mergeAxes } from './movement.js';

export const whereOp: OpDef<null> = defineOp<null>({
  name: 'where',
  shape: ([c, a, b]) => {
    sameDtype('where', a, b);
    const shape = broadcastShapes('where', broadcastShapes('where', c.shape, a.shape), b.shape);
    return [{ shape, dtype: a.dtype }];
  },
  cpu: ([c, a, b], [z], { inputs: [tc, ta, tb], outputs: [tz] }) => {
    const shape = tz.shape;
    const [sc, sa, sb] = [tc, ta, tb].map((t) => broadcastStrides(t.shape, shape));
    for (let i = 0; i < z.length; i++) {
      let rest = i, ic = 0, ia = 0, ib = 0;
      for (let d = shape.length - 1; d >= 0; d--) {
        const k = rest % shape[d];
        rest = (rest - k) / shape[d];
        ic += k * sc[d]; ia += k * sa[d]; ib += k * sb[d];
      }
      z[i] = c[ic] !== 0 ? a[ia] : b[ib];
    }
  },
  gpu: (ctx, [c, a, b], [z]) => {
    const same = [c, a, b].every((t) => sameShape(t.shape, z.shape));
    const [dims, sets] = same ? [[], [[], [], []]] : mergeAxes(z.shape, [c, a, b].map((t) => broadcastStrides(t.shape, z.shape)));
    if (dims.length > KERNEL_RANK) throw new ShapeError('where', `broadcast of rank ${dims.length} exceeds ${KERNEL_RANK} (output ${fmt(z.shape)})`);
    const meta = new Array<number>(24).fill(0);
    dims.forEach((d, i) => { meta[i] = d; sets.forEach((s, j) => { meta[6 * (j + 1) + i] = s[i]; }); });
    ctx.dispatch({
      kernel: 'where', constants: { COND_INT: c.dtype === 'i32' ? 1 : 0, WG },
      uniforms: [z.size, dims.length, same ? 1 : 0, 0, ...meta],
      workgroups: elementGroups(z.size), bindings: [c, a, b, z],
    });
  },
  vjp: ({ inputs: [c], needs }, [g]) => {
    const zero = full([], 0, { dtype: g!.dtype, backend: g!.backend });
    return [null, needs[1] ? where(c, g!, zero) : null, needs[2] ? where(c, zero, g!) : null];
  },
});

/** cond ≠ 0 ? a : b elementwise, broadcasting cond, a and b together. A number becomes a 0-d tensor. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  const dtype = like?.dtype ?? 'f32';
  const scalar = (v: Tensor | number): Tensor => (typeof v === 'number' ? full([], v, { dtype, backend: cond.backend }) : v);
  return tidy(() => apply1(whereOp, [cond, scalar(a), scalar(b)], null)); // frees the scalars
}
