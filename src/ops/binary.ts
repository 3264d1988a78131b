// Broadcasting binary ops (and their tensor∘scalar forms): one table row each. kernels/binary.wgsl.
// VJPs return output-shaped gradients; the backward sweep sums them down to each input's shape.
import { type Shape, ShapeError, broadcastShapes, broadcastStrides, fmt, sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { type OpDef, apply1, defineOp, sameDtype } from './define.js';
import { WG, elementGroups } from './elementwise.js';

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'equal' | 'notEqual' | 'less' | 'lessEqual' | 'greater' | 'greaterEqual';

interface BinaryRow {
  id: number;
  cpu: (a: number, b: number) => number;
  /** [da, db] in the output shape; null entries: no gradient. Comparisons have none. */
  vjp: ((a: Tensor, b: Tensor, z: Tensor, g: Tensor) => [Tensor | null, Tensor | null]) | null;
}

const rows: { readonly [K in BinaryName]: BinaryRow } = {
  add: { id: 0, cpu: (a, b) => a + b, vjp: (_a, _b, _z, g) => [g, g] },
  sub: { id: 1, cpu: (a, b) => a - b, vjp: (_a, _b, _z, g) => [g, scalarOp('mul', g, -1)] },
  mul: { id: 2, cpu: (a, b) => a * b, vjp: (a, b, _z, g) => [mul(g, b), mul(g, a)] },
  div: { id: 3, cpu: (a, b) => a / b, vjp: (_a, b, z, g) => [div(g, b), scalarOp('mul', div(mul(g, z), b), -1)] },
  maximum: { id: 4, cpu: Math.max, vjp: (a, b, _z, g) => { const m = greaterEqual(a, b); return [mul(g, m), mul(g, scalarOp('rsub', m, 1))]; } },
  minimum: { id: 5, cpu: Math.min, vjp: (a, b, _z, g) => { const m = lessEqual(a, b); return [mul(g, m), mul(g, scalarOp('rsub', m, 1))]; } },
  equal: { id: 6, cpu: (a, b) => +(a === b), vjp: null },
  notEqual: { id: 7, cpu: (a, b) => +(a !== b), vjp: null },
  less: { id: 8, cpu: (a, b) => +(a < b), vjp: null },
  lessEqual: { id: 9, cpu: (a, b) => +(a <= b), vjp: null },
  greater: { id: 10, cpu: (a, b) => +(a > b), vjp: null },
  greaterEqual: { id: 11, cpu: (a, b) => +(a >= b), vjp: null },
};

const MAX_RANK = 6;
/** Elements per thread in the binary kernel (measured on lavapipe: fewer, fuller workgroups win). */
export const PER = 8;

/** The kernel's `same` mode and `dims` block: the cheapest indexing that fits the broadcast. */
export function indexing(same: boolean, o: number[], sa: number[], sb: number[]): number[] {
  const meta = new Array<number>(20).fill(0);
  if (same) return [1, ...meta];
  const rows = (x: number[], y: number[]) => (o.length === 1 && x[0] === 1 && y[0] === 0) || (o.length === 2 && x[0] === o[1] && x[1] === 1 && y[0] === 0 && y[1] === 1);
  if (o.length <= 2 && rows(sa, sb)) { meta[0] = o.length === 1 ? 1 : o[1]; return [2, ...meta]; }
  if (o.length <= 2 && rows(sb, sa)) { meta[0] = o.length === 1 ? 1 : o[1]; return [3, ...meta]; }
  o.forEach((d, i) => { meta[i] = d; meta[6 + i] = sa[i]; meta[12 + i] = sb[i]; });
  return [0, ...meta];
}

/** Merges adjacent axes that broadcast the same way in both operands (keeps kernels at rank ≤ 6). */
function collapse(out: Shape, sa: number[], sb: number[]): [number[], number[], number[]] {
  const o: number[] = [], a: number[] = [], b: number[] = [];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 1) continue;
    const k = o.length - 1;
    if (k >= 0 && sa[k] === sa[i] * out[i] && sb[k] === sb[i] * out[i]) {
      o[k] *= out[i]; a[k] = sa[i]; b[k] = sb[i];
    } else { o.push(out[i]); a.push(sa[i]); b.push(sb[i]); }
  }
  return [o, a, b];
}

function makeBinary(name: BinaryName, row: BinaryRow): OpDef<null> {
  return defineOp<null>({
    name,
    shape: ([a, b]) => {
      sameDtype(name, a, b);
      if (a.dtype === 'i32' && row.vjp !== null && name !== 'add' && name !== 'sub' && name !== 'mul') {
        throw new ShapeError(name, `not defined for i32 ${fmt(a.shape)}`);
      }
      return [{ shape: broadcastShapes(name, a.shape, b.shape), dtype: a.dtype }];
    },
    cpu: ([a, b], [z], { inputs: [ta, tb], outputs: [tz] }) => {
      if (sameShape(ta.shape, tb.shape)) { for (let i = 0; i < z.length; i++) z[i] = row.cpu(a[i], b[i]); return; }
      const sa = broadcastStrides(ta.shape, tz.shape), sb = broadcastStrides(tb.shape, tz.shape);
      const shape = tz.shape;
      for (let i = 0; i < z.length; i++) {
        let rest = i, ia = 0, ib = 0;
        for (let d = shape.length - 1; d >= 0; d--) {
          const c = rest % shape[d];
          rest = (rest - c) / shape[d];
          ia += c * sa[d]; ib += c * sb[d];
        }
        z[i] = row.cpu(a[ia], b[ib]);
      }
    },
    gpu: (ctx, [a, b], [z]) => {
      if (a.dtype !== 'f32') throw new ShapeError(name, `the WebGPU kernel takes f32, got ${a.dtype}`);
      const same = sameShape(a.shape, b.shape);
      const [o, sa, sb] = same ? [[], [], []] : collapse(z.shape, broadcastStrides(a.shape, z.shape), broadcastStrides(b.shape, z.shape));
      if (o.length > MAX_RANK) throw new ShapeError(name, `broadcast of rank ${o.length} exceeds ${MAX_RANK}`);
      ctx.dispatch({
        kernel: 'binary', constants: { OP: row.id, SCALAR: 0, WG, PER },
        uniforms: [z.size, o.length, { f32: 0 }, ...indexing(same, o, sa, sb)],
        workgroups: elementGroups(z.size, PER), bindings: [a, b, z],
      });
    },
    vjp: row.vjp === null ? undefined : ({ inputs: [a, b], outputs: [z], needs }, [g]) => {
      const [da, db] = row.vjp!(a, b, z, g!);
      return [needs[0] ? da : null, needs[1] ? db : null];
    },
  });
}

export const binaryOps = Object.fromEntries(
  (Object.keys(rows) as BinaryName[]).map((k) => [k, makeBinary(k, rows[k])]),
) as { readonly [K in BinaryName]: OpDef<null> };

// ---- tensor ∘ scalar: same kernel, the scalar travels in the uniform --------------------------

type ScalarName = BinaryName | 'rsub' | 'rdiv';
interface ScalarParams { op: ScalarName; scalar: number }

const scalarRow = (op: ScalarName): [BinaryRow, boolean] =>
  op === 'rsub' ? [rows.sub, true] : op === 'rdiv' ? [rows.div, true] : [rows[op], false];

/** x ∘ s (or s ∘ x for rsub and rdiv). */
export const scalarBinary = defineOp<ScalarParams>({
  name: 'scalarBinary',
  shape: ([x], p) => {
    if (x.dtype === 'i32' && !['add', 'sub', 'mul', 'rsub'].includes(p.op) && scalarRow(p.op)[0].vjp !== null) {
      throw new ShapeError(p.op, `not defined for i32 ${fmt(x.shape)}`);
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  cpu: ([x], [z], { params: { op, scalar } }) => {
    const [row, swapped] = scalarRow(op);
    for (let i = 0; i < x.length; i++) z[i] = swapped ? row.cpu(scalar, x[i]) : row.cpu(x[i], scalar);
  },
  gpu: (ctx, [x], [z], { op, scalar }) => {
    if (x.dtype !== 'f32') throw new ShapeError(op, `the WebGPU kernel takes f32, got ${x.dtype}`);
    const [row, swapped] = scalarRow(op);
    ctx.dispatch({
      kernel: 'binary', constants: { OP: row.id, SCALAR: swapped ? 2 : 1, WG, PER },
      uniforms: [z.size, 0, { f32: scalar }, 1, ...new Array<number>(20).fill(0)],
      workgroups: elementGroups(z.size, PER), bindings: [x, x, z],
    });
  },
  vjp: ({ inputs: [x], outputs: [z], params: { op, scalar } }, [g]) => {
    switch (op) {
      case 'add': case 'sub': return [g];
      case 'rsub': return [scalarOp('mul', g!, -1)];
      case 'mul': return [scalarOp('mul', g!, scalar)];
      case 'div': return [scalarOp('mul', g!, 1 / scalar)];
      case 'rdiv': return [scalarOp('mul', div(mul(g!, z), x), -1)];
      case 'maximum': return [mul(g!, scalarOp('greaterEqual', x, scalar))];
      case 'minimum': return [mul(g!, scalarOp('lessEqual', x, scalar))];
      default: throw new Error(`${op}: comparisons are not differentiable`);
    }
  },
});

export const scalarOp = (op: ScalarName, x: Tensor, scalar: number): Tensor => apply1(scalarBinary, [x], { op, scalar });

type Operand = Tensor | number;
const bin = (name: BinaryName) => (a: Operand, b: Operand): Tensor => {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${name}: at least one operand must be a tensor`);
  if (typeof b === 'number') return scalarOp(name, a as Tensor, b);
  if (typeof a === 'number') {
    if (name === 'sub') return scalarOp('rsub', b, a);
    if (name === 'div') return scalarOp('rdiv', b, a);
    if (name === 'add' || name === 'mul' || name === 'maximum' || name === 'minimum' || name === 'equal' || name === 'notEqual') return scalarOp(name, b, a);
    const flipped = { less: 'greater', lessEqual: 'greaterEqual', greater: 'less', greaterEqual: 'lessEqual' } as const;
    return scalarOp(flipped[name as keyof typeof flipped], b, a);
  }
  return apply1(binaryOps[name], [a, b], null);
};

export const add = bin('add');
export const sub = bin('sub');
export const mul = bin('mul');
export const div = bin('div');
export const maximum = bin('maximum');
export const minimum = bin('minimum');
export const equal = bin('equal');
export const notEqual = bin('notEqual');
export const less = bin('less');
export const lessEqual = bin('lessEqual');
export const greater = bin('greater');
export const greaterEqual = bin('greaterEqual');
