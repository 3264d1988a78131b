// Shapes: row-major, contiguous. Broadcasting follows NumPy; negative axes are normalised here once.
export type Shape = readonly number[];

/** Thrown for programmer errors in shapes or dtypes; the message names the op and the shapes. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);
export const fmt = (shape: Shape): string => `[${shape.join(', ')}]`;
export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid dimension ${d} in ${fmt(shape)}`);
  }
}

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(op, `cannot broadcast ${fmt(a)} with ${fmt(b)}`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` viewed inside `outShape` (0 on broadcast axes), padded on the left. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const pad = outShape.length - shape.length;
  return outShape.map((_, i) => (i < pad || shape[i - pad] === 1 ? 0 : st[i - pad]));
}
