// Batched matrix product with transpose flags, and linear = x·Wᵀ + b. Kernels: matmul.wgsl reads a and b as
// vec4 (contiguous dimensions a multiple of 4), matmul-subgroup.wgsl adds subgroup broadcasts for 8-wide
// subgroups (lavapipe), matmul-scalar.wgsl takes any layout.
// VJPs are matmuls with flipped flags: no transposes are ever materialised.
import type { GpuContext } from '../backend/gpu-context.js';
import type { MatmulKernel } from '../backend/kernel-options.js';
import { type Shape, ShapeError, broadcastShapes, broadcastStrides, fmt, sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { add } from './binary.js';
import { gelu as geluF, rounding } from './elementwise.js';
import { sum } from './reduce.js';
import { geluBackward } from './unary.js';
import { apply1, defineOp, expectFloat, sameDtype } from './define.js';
import { reshape } from './reshape.js';

export interface MatmulOptions { transA?: boolean; transB?: boolean }
interface MatmulParams { transA: boolean; transB: boolean }

export type { MatmulKernel, MatmulTiles, MatmulVariant } from '../backend/kernel-options.js';

const cpuAdapter = /llvmpipe|lavapipe|swiftshader|software/i;
type Opened = { opened?: { info?: Record<string, string>; adapter?: GPUAdapter; device?: GPUDevice } };
const resolved = new WeakMap<object, { cpu: boolean; subgroups: boolean }>();

/** The kernel family matmul uses on this context for 4-aligned operands under its kernel options. */
export function matmulVariantFor(ctx: GpuContext): 'registers' | 'subgroups' | 'shared' {
  let r = resolved.get(ctx);
  if (r === undefined) {
    const o = (ctx as Opened).opened;
    const info = o?.adapter?.info as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
    r = {
      cpu: cpuAdapter.test(Object.values(o?.info ?? {}).join(' ')),
      subgroups: (o?.device?.features.has('subgroups') ?? false) && info?.subgroupMinSize === 8 && info?.subgroupMaxSize === 8,
    };
    resolved.set(ctx, r);
  }
  const variant = ctx.kernels.matmul.variant;
  const v = variant === 'auto' ? (r.cpu ? 'subgroups' : 'shared') : variant;
  return v === 'subgroups' && !r.subgroups ? 'registers' : v;
}

interface Geometry { M: number; N: number; K: number; batch: number[]; aStrides: number[]; bStrides: number[] }

const sig = (s: Shape, t: boolean): string => `${fmt(s)}${t ? 'ᵀ' : ''}`;

function geometry(a: Shape, b: Shape, { transA, transB }: MatmulParams): Geometry {
  const what = `${sig(a, transA)} · ${sig(b, transB)}`;
  if (a.length < 2 || b.length < 2) throw new ShapeError('matmul', `operands need rank ≥ 2: ${what}`);
  const ra = a.length, rb = b.length;
  const [M, Ka] = transA ? [a[ra - 1], a[ra - 2]] : [a[ra - 2], a[ra - 1]];
  const [Kb, N] = transB ? [b[rb - 1], b[rb - 2]] : [b[rb - 2], b[rb - 1]];
  if (Ka !== Kb) throw new ShapeError('matmul', `inner dimensions differ (${Ka} vs ${Kb}): ${what}`);
  const ab = a.slice(0, -2), bb = b.slice(0, -2);
  let batch: number[];
  try { batch = broadcastShapes('matmul', ab, bb); } catch { throw new ShapeError('matmul', `batch dimensions do not broadcast: ${what}`); }
  return {
    M, N, K: Ka, batch,
    aStrides: broadcastStrides(ab, batch).map((s) => s * M * Ka),
    bStrides: broadcastStrides(bb, batch).map((s) => s * Ka * N),
  };
}

/** Merges batch axes that index both operands alike and drops size-1 axes (the kernel takes rank ≤ 4). */
function collapse(g: Geometry): { dims: number[]; as: number[]; bs: number[] } {
  const dims: number[] = [], as: number[] = [], bs: number[] = [];
  g.batch.forEach((d, i) => {
    if (d === 1) return;
    const k = dims.length - 1;
    if (k >= 0 && as[k] === g.aStrides[i] * d && bs[k] === g.bStrides[i] * d) { dims[k] *= d; as[k] = g.aStrides[i]; bs[k] = g.bStrides[i]; }
    else { dims.push(d); as.push(g.aStrides[i]); bs.push(g.bStrides[i]); }
  });
  return { dims, as, bs };
}

/** The epilogue of a product: a bias per column, then optionally GELU (its pre-activation written to `u`). */
interface Epilogue { bias?: Tensor; act?: 'gelu'; u?: Tensor }

/**
 * One product c[z] = op(a[z])·op(b[z]) over views: batch axes `dims` (≤ 4) with element strides per operand,
 * row strides lda/ldb/ldc and element offsets a0/b0/c0. matmul uses contiguous views; attention reads and
 * writes one head of packed [B, T, 3·H·Dh] tensors in place.
 */
export interface Gemm {
  M: number; N: number; K: number; transA: boolean; transB: boolean;
  dims: number[]; as: number[]; bs: number[]; cs: number[];
  lda: number; ldb: number; ldc: number; a0: number; b0: number; c0: number;
}

/** Records one product; the vec4 kernels when every a and b address is 4-aligned, else the scalar one. */
export function gemm(ctx: GpuContext, a: Tensor, b: Tensor, c: Tensor, g: Gemm, epi: Epilogue = {}): void {
  const { M, N, K, dims } = g;
  if (M * N * sizeOf(dims) === 0) return;
  if (dims.length > 4) throw new ShapeError('matmul', `more than 4 independent batch axes (${dims.length})`);
  const aligned = [g.transA ? M : K, g.transB ? K : N, g.lda, g.ldb, g.a0, g.b0, ...g.as, ...g.bs].every((v) => v % 4 === 0);
  const kernel: MatmulKernel = K > 0 && aligned ? matmulVariantFor(ctx) : 'scalar';
  const t = ctx.kernels.matmul.tiles[kernel];
  const tilesN = Math.ceil(N / (4 * t.tn4 * t.wgx)), tilesM = Math.ceil(M / (4 * t.tm4 * t.wgy));
  const total = tilesN * tilesM * sizeOf(dims);
  const meta = new Array<number>(16).fill(0);
  dims.forEach((d, i) => { meta[i] = d; meta[4 + i] = g.as[i]; meta[8 + i] = g.bs[i]; meta[12 + i] = g.cs[i]; });
  const constants: Record<string, number> = { TRANS_A: +g.transA, TRANS_B: +g.transB, TN4: t.tn4, WGY: t.wgy };
  if (epi.bias !== undefined) constants.BIAS = 1;
  if (epi.act === 'gelu') constants.ACT = 1;
  if (kernel !== 'subgroups') Object.assign(constants, { TM4: t.tm4, WGX: t.wgx });
  if (kernel === 'registers' || kernel === 'shared') Object.assign(constants, { SHARED: +(kernel === 'shared'), BK: kernel === 'shared' ? t.bk : 4 });
  // Every declared binding is bound: a read-only alias of a stands in for an absent bias, a scratch word for u.
  ctx.dispatch({
    kernel: kernel === 'scalar' ? 'matmul-scalar' : kernel === 'subgroups' ? 'matmul-subgroup' : 'matmul', constants,
    uniforms: [M, N, K, tilesN, tilesM, total, dims.length, 0, ...meta, g.lda, g.ldb, g.ldc, 0, g.a0, g.b0, g.c0, 0],
    workgroups: total, bindings: [a, b, epi.bias ?? a, c, epi.u ?? ctx.scratch([1], 'f32')],
  });
}

/** Row-major strides of a batch shape for blocks of `block` elements. */
const blockStrides = (dims: number[], block: number): number[] => {
  const out = new Array<number>(dims.length);
  for (let i = dims.length - 1, s = block; i >= 0; i--) { out[i] = s; s *= dims[i]; }
  return out;
};

function dispatch(ctx: GpuContext, a: Tensor, b: Tensor, c: Tensor, p: MatmulParams, epi: Epilogue = {}, aShape: Shape = a.shape): void {
  const g = geometry(aShape, b.shape, p);
  if (c.size === 0) return;
  let { M } = g;
  const { N, K } = g;
  let { dims, as, bs } = collapse(g);
  // x[B, T, D] · W: one [B·T, D] GEMM when b is shared by every batch and a's rows are contiguous.
  if (!p.transA && dims.length === 1 && bs[0] === 0 && as[0] === M * K) { M *= dims[0]; dims = []; as = []; bs = []; }
  if (dims.length > 4) throw new ShapeError('matmul', `more than 4 independent batch axes: ${sig(a.shape, p.transA)} · ${sig(b.shape, p.transB)}`);
  gemm(ctx, a, b, c, {
    M, N, K, transA: p.transA, transB: p.transB, dims, as, bs, cs: blockStrides(dims, M * N),
    lda: p.transA ? M : K, ldb: p.transB ? K : N, ldc: N, a0: 0, b0: 0, c0: 0,
  }, epi);
}

export const matmulOp = defineOp<MatmulParams>({
  name: 'matmul',
  shape: ([a, b], p) => {
    expectFloat('matmul', a, b);
    sameDtype('matmul', a, b);
    const g = geometry(a.shape, b.shape, p);
    return [{ shape: [...g.batch, g.M, g.N], dtype: a.dtype }];
  },
  cpu: ([a, b], [c], { inputs: [ta, tb], params: p }) => {
    const { M, N, K, batch, aStrides, bStrides } = geometry(ta.shape, tb.shape, p);
    const [amk, akk] = p.transA ? [1, M] : [K, 1];
    const [bkk, bnk] = p.transB ? [1, K] : [N, 1];
    const row = new Float64Array(N); // f64 sums; k-outer keeps b's rows contiguous unless b is transposed
    for (let z = 0; z < sizeOf(batch); z++) {
      let ao = 0, bo = 0;
      for (let d = batch.length - 1, rest = z; d >= 0; d--) {
        const i = rest % batch[d];
        rest = (rest - i) / batch[d];
        ao += i * aStrides[d];
        bo += i * bStrides[d];
      }
      for (let m = 0; m < M; m++) {
        row.fill(0);
        if (p.transB) {
          for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) row[n] += a[ao + m * amk + k * akk] * b[bo + k * bkk + n * bnk];
        } else {
          for (let k = 0; k < K; k++) {
            const av = a[ao + m * amk + k * akk];
            for (let n = 0; n < N; n++) row[n] += av * b[bo + k * bkk + n * bnk];
          }
        }
        c.set(row, (z * M + m) * N);
      }
    }
  },
  gpu: (ctx, [a, b], [c], p) => {
    if (a.dtype !== 'f32') throw new ShapeError('matmul', `the WebGPU kernel takes f32, got ${a.dtype}`);
    dispatch(ctx, a, b, c, p);
  },
  vjp: ({ inputs: [a, b], params: { transA, transB }, needs }, [g]) => {
    const da = !needs[0] ? null
      : transA ? matmul(b, g!, { transA: transB, transB: true }) : matmul(g!, b, { transB: !transB });
    let db: Tensor | null = null;
    if (needs[1]) {
      if (!transA && b.shape.length === 2 && a.shape.length > 2) {
        // b is shared by every batch: fold the batch into the rows, one GEMM instead of a batch and a sum.
        const a2 = reshape(a, [-1, a.shape[a.shape.length - 1]]);
        const g2 = reshape(g!, [-1, g!.shape[g!.shape.length - 1]]);
        db = transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
      } else {
        db = transB ? matmul(g!, a, { transA: true, transB: transA }) : matmul(a, g!, { transA: !transA });
      }
    }
    return [da, db];
  },
});

/**
 * op(a) · op(b) over the last two axes, op = transpose when `transA` / `transB`; leading axes broadcast.
 * a [..., M, K] (or [..., K, M]), b [..., K, N] (or [..., N, K]) → [..., M, N].
 * VJP: dA = g·op(B)ᵀ, dB = op(A)ᵀ·g, each a matmul with flipped flags.
 */
export const matmul = (a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor =>
  apply1(matmulOp, [a, b], { transA: o.transA ?? false, transB: o.transB ?? false });

function checkLinear(x: Tensor, weight: Tensor, bias?: Tensor): void {
  if (weight.shape.length !== 2) throw new ShapeError('linear', `weight must be [out, in], got ${fmt(weight.shape)}`);
  const [out, inF] = weight.shape;
  if (x.shape.length === 0 || x.shape[x.shape.length - 1] !== inF) {
    throw new ShapeError('linear', `x ${fmt(x.shape)} does not end in the ${inF} input features of weight ${fmt(weight.shape)}`);
  }
  if (bias !== undefined && (bias.shape.length !== 1 || bias.shape[0] !== out)) {
    throw new ShapeError('linear', `bias ${fmt(bias.shape)} must be [${out}] for weight ${fmt(weight.shape)}`);
  }
}

/** The plain composition x·Wᵀ (+ b): a matmul and a broadcast add. The reference of the fused `linear`. */
export function linearComposed(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  checkLinear(x, weight, bias);
  const [out, inF] = weight.shape;
  const y = x.shape.length === 1 ? reshape(matmul(reshape(x, [1, inF]), weight, { transB: true }), [out]) : matmul(x, weight, { transB: true });
  return bias === undefined ? y : add(y, bias);
}

export type Activation = 'none' | 'gelu';
interface LinearParams { bias: boolean; act: Activation }

const rowsOf = (x: Tensor): number => x.size / x.shape[x.shape.length - 1];

/**
 * Fused linear layer: y = act(x·Wᵀ + b) in one matmul dispatch (bias and GELU in its epilogue).
 * Inputs [x, weight, bias?]; outputs [y] or, for GELU, [y, u] with u = x·Wᵀ + b kept for the VJP.
 * VJP: du = g ⊙ GELU′(u) (one dispatch), dx = du·W, dW = duᵀ·x, db = Σ_rows du.
 */
export const linearOp = defineOp<LinearParams>({
  name: 'linear',
  visible: 1,
  shape: ([x, w, b], p) => {
    expectFloat('linear', x, w);
    sameDtype('linear', x, w);
    checkLinear(x, w, p.bias ? b : undefined);
    const y = { shape: [...x.shape.slice(0, -1), w.shape[0]], dtype: x.dtype };
    return p.act === 'gelu' ? [y, y] : [y];
  },
  // f64 sums in k order, rounded where matmul, add and gelu store theirs: bitwise the composition's result.
  cpu: (ins, [y, u], { inputs: [tx, tw], params: p }) => {
    const [x, w] = ins, b = p.bias ? ins[2] : undefined, r = rounding(tx.dtype);
    const [N, K] = tw.shape, M = rowsOf(tx);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
        if (b !== undefined) s = r(s) + b[n];
        if (p.act === 'gelu') { u[m * N + n] = s; s = geluF(r(s)); }
        y[m * N + n] = s;
      }
    }
  },
  gpu: (ctx, [x, w, b], [y, u], p) => {
    if (x.dtype !== 'f32') throw new ShapeError('linear', `the WebGPU kernel takes f32, got ${x.dtype}`);
    // One [rows, in] · [out, in]ᵀ GEMM.
    const epi: Epilogue = { bias: p.bias ? b : undefined, act: p.act === 'gelu' ? 'gelu' : undefined, u };
    dispatch(ctx, x, w, y, { transA: false, transB: true }, epi, [rowsOf(x), w.shape[1]]);
  },
  vjp: ({ inputs: [x, w], outputs: [, u], params: p, needs }, [g]) => {
    const du = p.act === 'gelu' ? geluBackward(u, g!) : g!;
    const [out, inF] = w.shape;
    const d2 = reshape(du, [-1, out]);
    return [
      needs[0] ? reshape(matmul(d2, w), x.shape) : null,
      needs[1] ? matmul(d2, reshape(x, [-1, inF]), { transA: true }) : null,
      p.bias && needs[2] ? sum(d2, 0) : null,
    ];
  },
});

export interface LinearOptions { act?: Activation }

/**
 * x [..., in] · weightᵀ + bias, with weight [out, in] (PyTorch layout) and bias [out] → [..., out], then the
 * activation (`act: 'gelu'`: exact GELU). One dispatch (linearOp); `linearComposed` is the plain composition.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, o: LinearOptions = {}): Tensor {
  checkLinear(x, weight, bias);
  const act = o.act ?? 'none';
  return apply1(linearOp, bias === undefined ? [x, weight] : [x, weight, bias], { bias: bias !== undefined, act });
}
