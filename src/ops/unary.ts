// Pointwise unary ops: one table row each (CPU rule, kernel OP id, VJP). kernels/unary.wgsl.
import type { Tensor } from '../tensor/tensor.js';
import { type OpDef, apply1, defineOp, expectFloat, sameDtype } from './define.js';
import { ShapeError, fmt } from '../tensor/shape.js';
import { WG, elementGroups, erf, gelu as geluF, geluDeriv as geluDerivF, rounding, stableTanh } from './elementwise.js';
import { PER, div, mul, scalarOp } from './binary.js';

type UnaryName =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'erf' | 'gelu' | 'abs' | 'sigmoid'
  | 'square' | 'reciprocal' | 'relu' | 'sign' | 'geluDeriv' | 'pow';

interface UnaryRow {
  id: number;
  cpu: (x: number, alpha: number) => number;
  /** Gradient of the input given x, y = f(x) and the cotangent g; null: not differentiable. */
  vjp: ((x: Tensor, y: Tensor, g: Tensor, alpha: number) => Tensor) | null;
}

const rows: { readonly [K in UnaryName]: UnaryRow } = {
  neg: { id: 0, cpu: (x) => -x, vjp: (_x, _y, g) => neg(g) },
  exp: { id: 1, cpu: Math.exp, vjp: (_x, y, g) => mul(g, y) },
  log: { id: 2, cpu: Math.log, vjp: (x, _y, g) => div(g, x) },
  sqrt: { id: 3, cpu: Math.sqrt, vjp: (_x, y, g) => div(mul(g, 0.5), y) },
  rsqrt: { id: 4, cpu: (x) => 1 / Math.sqrt(x), vjp: (x, y, g) => mul(g, mul(div(y, x), -0.5)) },
  tanh: { id: 5, cpu: stableTanh, vjp: (_x, y, g) => mul(g, scalarOp('rsub', square(y), 1)) },
  erf: { id: 6, cpu: erf, vjp: (x, _y, g) => mul(g, mul(exp(neg(square(x))), 1.1283791670955126)) },
  gelu: { id: 7, cpu: geluF, vjp: (x, _y, g) => mul(g, geluDeriv(x)) },
  abs: { id: 8, cpu: Math.abs, vjp: (x, _y, g) => mul(g, sign(x)) },
  sigmoid: { id: 9, cpu: (x) => 1 / (1 + Math.exp(-x)), vjp: (_x, y, g) => mul(g, mul(y, scalarOp('rsub', y, 1))) },
  square: { id: 10, cpu: (x) => x * x, vjp: (x, _y, g) => mul(g, mul(x, 2)) },
  reciprocal: { id: 11, cpu: (x) => 1 / x, vjp: (_x, y, g) => neg(mul(g, square(y))) },
  relu: { id: 12, cpu: (x) => Math.max(x, 0), vjp: (x, _y, g) => mul(g, scalarOp('greater', x, 0)) },
  sign: { id: 13, cpu: Math.sign, vjp: (_x, _y, g) => mul(g, 0) },
  geluDeriv: { id: 14, cpu: geluDerivF, vjp: null },
  pow: { id: 15, cpu: (x, a) => x ** a, vjp: (x, _y, g, a) => mul(g, mul(pow(x, a - 1), a)) },
};

interface UnaryParams { alpha: number }

function makeUnary(name: UnaryName, row: UnaryRow): OpDef<UnaryParams> {
  return defineOp<UnaryParams>({
    name,
    shape: ([x]) => { expectFloat(name, x); return [{ shape: x.shape, dtype: x.dtype }]; },
    cpu: ([x], [y], { params }) => { for (let i = 0; i < x.length; i++) y[i] = row.cpu(x[i], params.alpha); },
    gpu: (ctx, [x], [y], p) => ctx.dispatch({
      kernel: 'unary', constants: { OP: row.id, WG, PER }, uniforms: [x.size, { f32: p.alpha }],
      workgroups: elementGroups(x.size, PER), bindings: [x, x, y],
    }),
    vjp: row.vjp === null ? undefined : ({ inputs: [x], outputs: [y], params }, [g]) => [row.vjp!(x, y, g!, params.alpha)],
  });
}

export const unaryOps = Object.fromEntries(
  (Object.keys(rows) as UnaryName[]).map((k) => [k, makeUnary(k, rows[k])]),
) as { readonly [K in UnaryName]: OpDef<UnaryParams> };

const u = (name: UnaryName) => (x: Tensor): Tensor => apply1(unaryOps[name], [x], { alpha: 0 });

export const neg = u('neg');
export const exp = u('exp');
export const log = u('log');
export const sqrt = u('sqrt');
export const rsqrt = u('rsqrt');
export const tanh = u('tanh');
/** Gauss error function (double-precision series on the CPU, a ≈1-ulp rational form in WGSL). */
export const erfOp = u('erf');
/** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
export const gelu = u('gelu');
export const abs = u('abs');
export const sigmoid = u('sigmoid');
export const square = u('square');
export const reciprocal = u('reciprocal');
export const relu = u('relu');
export const sign = u('sign');
/** d/dx GELU(x) = Φ(x) + x·φ(x); used by GELU's VJP. */
export const geluDeriv = u('geluDeriv');
export const pow = (x: Tensor, alpha: number): Tensor => apply1(unaryOps.pow, [x], { alpha });

/**
 * GELU's VJP in one pass: dx = g ⊙ GELU′(x) (what mul(g, geluDeriv(x)) computes in two). Inputs [x, g] of
 * one size. First order only. The fused linear's VJP uses it.
 */
export const geluBackwardOp: OpDef<UnaryParams> = defineOp<UnaryParams>({
  name: 'geluBackward',
  shape: ([x, g]) => {
    expectFloat('geluBackward', x, g);
    sameDtype('geluBackward', x, g);
    if (x.size !== g.size) throw new ShapeError('geluBackward', `x ${fmt(x.shape)} and cotangent ${fmt(g.shape)} differ in size`);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  cpu: ([x, g], [y], { inputs: [t] }) => {
    const r = rounding(t.dtype); // as mul(g, geluDeriv(x)) rounds
    for (let i = 0; i < x.length; i++) y[i] = g[i] * r(geluDerivF(x[i]));
  },
  gpu: (ctx, [x, g], [y]) => ctx.dispatch({
    kernel: 'unary', constants: { OP: 16, WG, PER }, uniforms: [x.size, { f32: 0 }],
    workgroups: elementGroups(x.size, PER), bindings: [x, g, y],
  }),
});

export const geluBackward = (x: Tensor, g: Tensor): Tensor => apply1(geluBackwardOp, [x, g], { alpha: 0 });
