// Global-norm gradient clipping over a list of tensors, built from existing ops (so differentiable).
import { ShapeError } from '../tensor/shape.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { add, minimum, mul, scalarOp } from './binary.js';
import { sum } from './reduce.js';
import { sqrt, square } from './unary.js';

/** sqrt(Σ_t ‖t‖²) as a scalar tensor. Each square is released as soon as it is summed. */
export function globalNorm(ts: readonly Tensor[]): Tensor {
  if (ts.length === 0) throw new ShapeError('globalNorm', 'needs at least one tensor');
  return tidy(() => {
    let acc = tidy(() => sum(square(ts[0])));
    for (const t of ts.slice(1)) acc = add(acc, tidy(() => sum(square(t))));
    return sqrt(acc);
  });
}

/**
 * torch.nn.utils.clip_grad_norm_: every tensor times min(1, maxNorm / (norm + 1e-6)), where norm is
 * the global norm before clipping. Returns [clipped, norm].
 */
export function clipByGlobalNorm(grads: readonly Tensor[], maxNorm: number): [Tensor[], Tensor] {
  if (!(maxNorm > 0)) throw new ShapeError('clipByGlobalNorm', `maxNorm must be > 0, got ${maxNorm}`);
  return tidy(() => {
    const norm = globalNorm(grads);
    const coef = minimum(scalarOp('rdiv', scalarOp('add', norm, 1e-6), maxNorm), 1);
    return [grads.map((g) => mul(g, coef)), norm] as [Tensor[], Tensor];
  });
}
