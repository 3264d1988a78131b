// reshape: free (a new handle on the same storage); the only op that does not dispatch.
import { record } from './tape.js';
import { type Shape, ShapeError, checkShape, fmt, normalizeAxis, sizeOf } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { type OpDef, defineOp } from './define.js';

interface ReshapeParams { shape: Shape }

const reshapeOp: OpDef<ReshapeParams> = defineOp<ReshapeParams>({
  name: 'reshape',
  shape: (_x, p) => [{ shape: p.shape, dtype: 'f32' }],
  cpu: () => { throw new Error('reshape never runs a kernel'); },
  vjp: ({ inputs: [x] }, [g]) => [reshape(g!, x.shape)],
});

/** Same data, new shape (one dimension may be −1). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1);
  const free = shape.length - known.length;
  if (free > 1) throw new ShapeError('reshape', `more than one −1 in ${fmt(shape)}`);
  const rest = sizeOf(known);
  const full = shape.map((d) => (d === -1 ? (rest === 0 ? 0 : x.size / rest) : d));
  checkShape('reshape', full);
  if (sizeOf(full) !== x.size) throw new ShapeError('reshape', `cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  const y = alias(x, full, false);
  record(reshapeOp as OpDef, [x], [y], { shape: full });
  return y;
}

export const expandDims = (x: Tensor, axis: number): Tensor => {
  const a = normalizeAxis('expandDims', axis, x.shape.length + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
};

export const squeeze = (x: Tensor, axis: number): Tensor => {
  const a = normalizeAxis('squeeze', axis, x.shape.length);
  if (x.shape[a] !== 1) throw new ShapeError('squeeze', `axis ${axis} of ${fmt(x.shape)} is not 1`);
  return reshape(x, [...x.shape.slice(0, a), ...x.shape.slice(a + 1)]);
};

export const flatten = (x: Tensor): Tensor => reshape(x, [x.size]);
export { reshapeOp };
