// One small case per kernel (and per op variant that selects different kernel code).
import * as o from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { WebGpuBackend } from '../backend/webgpu/webgpu.js';
import { valueAndGrad } from '../autodiff/grad.js';

export interface DoctorCheck {
  name: string;
  /** Kernel file stems this check exercises. */
  kernels: string[];
  inputs: { shape: number[]; dtype?: 'f32' | 'i32'; lo?: number; hi?: number; int?: number }[];
  run: (...xs: Tensor[]) => Tensor;
  rtol?: number;
  atol?: number;
}

/** ∂/∂x of Σ f(x)·c for a fixed c: exercises an op's backward kernels. */
const gradOf = (f: (x: Tensor) => Tensor) => (x: Tensor): Tensor =>
  valueAndGrad((a: { x: Tensor }) => o.sum(o.mul(f(a.x), o.tanh(o.scalarOp('mul', a.x, 3)))), ['x'])({ x })[1].x;

/** Runs f with the matmul variant v on x's backend (a WebGPU backend's kernel option; the CPU has none). */
function withVariant(x: Tensor, v: o.MatmulVariant, f: () => Tensor): Tensor {
  const be = x.backend as Partial<WebGpuBackend>;
  if (be.setKernelOptions === undefined) return f();
  const prev = be.setKernelOptions({ matmul: { variant: v } });
  try { return f(); } finally { be.setKernelOptions(prev); }
}

const pos = { lo: 0.1, hi: 4 };

/** Gradients (qkv, then per-example head gates) of Σ attention(qkv)·tanh(…) with dropout: both fused kernels and their products. */
function attentionGrads(qkv: Tensor, mask: Tensor, gate: Tensor): Tensor {
  const g = valueAndGrad((a: { q: Tensor; g: Tensor }) => {
    const y = o.attention(a.q, mask, { heads: 2, dropout: { key: o.key(5), p: 0.2 }, gate: a.g });
    return o.sum(o.mul(y, o.tanh(o.scalarOp('mul', y, 3))));
  }, ['q', 'g'])({ q: qkv, g: gate })[1];
  return o.concat([o.reshape(g.q, [-1]), o.reshape(g.g, [-1])], 0);
}

export function doctorChecks(): DoctorCheck[] {
  const unary: DoctorCheck[] = ([
    ['neg', o.neg, {}], ['exp', o.exp, {}], ['log', o.log, pos], ['sqrt', o.sqrt, pos], ['rsqrt', o.rsqrt, pos],
    ['tanh', o.tanh, {}], ['erf', o.erfOp, {}], ['gelu', o.gelu, {}], ['abs', o.abs, {}], ['sigmoid', o.sigmoid, {}],
    ['square', o.square, {}], ['reciprocal', o.reciprocal, pos], ['relu', o.relu, {}], ['geluDeriv', o.geluDeriv, {}],
  ] as const).map(([name, f, r]) => ({ name: `unary ${name}`, kernels: ['unary'], inputs: [{ shape: [37, 29], ...r }], run: f, atol: 1e-6, rtol: 1e-5 }));
  return [
    ...unary,
    { name: 'binary add (broadcast)', kernels: ['binary'], inputs: [{ shape: [5, 1, 7] }, { shape: [3, 1] }], run: o.add },
    { name: 'binary div', kernels: ['binary'], inputs: [{ shape: [131] }, { shape: [131], lo: 0.5, hi: 3 }], run: o.div },
    { name: 'binary greater (scalar)', kernels: ['binary'], inputs: [{ shape: [300] }], run: (x) => o.greater(x, 0.3) },
    { name: 'reduce sum (axis 1)', kernels: ['reduce'], inputs: [{ shape: [13, 257, 3] }], run: (x) => o.sum(x, 1) },
    { name: 'reduce max (long rows)', kernels: ['reduce'], inputs: [{ shape: [2, 5000] }], run: (x) => o.max(x, 1) },
    { name: 'broadcastTo', kernels: ['binary'], inputs: [{ shape: [4, 1, 3] }], run: (x) => o.broadcastTo(x, [2, 4, 5, 3]) },
    { name: 'fill / arange', kernels: ['fill'], inputs: [{ shape: [3] }], run: (x) => o.add(o.arange(0, 3, 1, { backend: x.backend }), o.full([3], 2, { backend: x.backend })) },
    { name: 'cast f32 → i32 → f32', kernels: ['cast'], inputs: [{ shape: [50], lo: -9, hi: 9 }], run: (x) => o.cast(o.cast(x, 'i32'), 'f32') },
    { name: 'matmul (auto variant)', kernels: ['matmul', 'matmul-subgroup'], inputs: [{ shape: [3, 37, 64] }, { shape: [64, 52] }], run: (a, b) => o.matmul(a, b), rtol: 1e-4 },
    { name: 'matmul registers, transposed', kernels: ['matmul'], inputs: [{ shape: [64, 37] }, { shape: [52, 64] }], run: (a, b) => withVariant(a, 'registers', () => o.matmul(a, b, { transA: true, transB: true })), rtol: 1e-4 },
    { name: 'matmul shared tiles', kernels: ['matmul'], inputs: [{ shape: [65, 36] }, { shape: [36, 40] }], run: (a, b) => withVariant(a, 'shared', () => o.matmul(a, b)), rtol: 1e-4 },
    { name: 'matmul odd sizes (scalar)', kernels: ['matmul-scalar'], inputs: [{ shape: [13, 7] }, { shape: [7, 5] }], run: (a, b) => o.matmul(a, b), rtol: 1e-4 },
    { name: 'permute / slice / concat', kernels: ['copy'], inputs: [{ shape: [3, 5, 7] }], run: (x) => o.concat([o.permute(x, [2, 0, 1]), o.permute(o.slice(x, [1, 0, 0], [2, 5, 7]), [2, 0, 1])], 1) },
    { name: 'gather', kernels: ['gather'], inputs: [{ shape: [11, 6] }, { shape: [4, 9], dtype: 'i32', int: 11 }], run: (t, ids) => o.gather(t, ids) },
    { name: 'gather backward (scatter-add)', kernels: ['gather-backward', 'fill'], inputs: [{ shape: [4, 9, 6] }, { shape: [4, 9], dtype: 'i32', int: 11 }], run: (g, ids) => o.gatherBackward(g, ids, 11) },
    { name: 'where', kernels: ['where'], inputs: [{ shape: [6, 7] }, { shape: [7] }], run: (x, y) => o.where(o.greater(x, 0), x, y) },
    { name: 'softmax + backward', kernels: ['softmax', 'softmax-backward'], inputs: [{ shape: [9, 33] }], run: gradOf((x) => o.softmax(x)) },
    { name: 'logSoftmax (axis 0)', kernels: ['softmax'], inputs: [{ shape: [9, 33] }], run: (x) => o.logSoftmax(x, 0) },
    { name: 'layer norm + backward', kernels: ['layer-norm', 'layer-norm-backward'], inputs: [{ shape: [7, 24] }], run: gradOf((x) => o.layerNorm(x, o.add(o.full([24], 1, { backend: x.backend }), o.sum(x, 0)), o.full([24], 0.1, { backend: x.backend }))), rtol: 1e-3, atol: 1e-4 },
    { name: 'cross-entropy + backward', kernels: ['cross-entropy', 'cross-entropy-backward'], inputs: [{ shape: [10, 17] }, { shape: [10], dtype: 'i32', int: 17 }], run: (x, y) => valueAndGrad((a: { x: Tensor }) => o.crossEntropy(a.x, y), ['x'])({ x })[1].x },
    { name: 'dropout (counter RNG)', kernels: ['random'], inputs: [{ shape: [300] }], run: (x) => o.add(o.dropout(o.key(7), x, 0.3), o.randomUniform(o.key(3), [300], { backend: x.backend })) },
    { name: 'linear: bias epilogue (auto variant)', kernels: ['matmul', 'matmul-subgroup'], inputs: [{ shape: [3, 13, 64] }, { shape: [52, 64] }, { shape: [52] }], run: (x, w, b) => o.linear(x, w, b), rtol: 1e-4 },
    { name: 'linear: bias + GELU epilogue (registers)', kernels: ['matmul'], inputs: [{ shape: [37, 64] }, { shape: [20, 64] }, { shape: [20] }], run: (x, w, b) => withVariant(x, 'registers', () => o.linear(x, w, b, { act: 'gelu' })), rtol: 1e-4, atol: 1e-5 },
    { name: 'linear: GELU epilogue, odd sizes (scalar)', kernels: ['matmul-scalar'], inputs: [{ shape: [13, 7] }, { shape: [5, 7] }, { shape: [5] }], run: (x, w, b) => o.linear(x, w, b, { act: 'gelu' }), rtol: 1e-4, atol: 1e-5 },
    { name: 'linear + GELU backward (geluBackward)', kernels: ['unary', 'random'], inputs: [{ shape: [9, 16] }], run: gradOf((x) => o.linear(x, o.randomUniform(o.key(2), [16, 16], { backend: x.backend, low: -1, high: 1 }), o.randomUniform(o.key(4), [16], { backend: x.backend }), { act: 'gelu' })), rtol: 1e-4, atol: 1e-5 },
    { name: 'attention + backward (mask, dropout, gates)', kernels: ['attention', 'attention-backward', 'matmul-scalar'], inputs: [{ shape: [2, 13, 48] }, { shape: [2, 13], lo: -3, hi: 0 }, { shape: [2, 2], lo: 0.5, hi: 1.5 }], run: attentionGrads, rtol: 1e-3, atol: 1e-5 },
    { name: 'residual add + layer norm + backward', kernels: ['layer-norm', 'layer-norm-backward'], inputs: [{ shape: [7, 24] }, { shape: [24] }], run: (x, r) => valueAndGrad((a: { x: Tensor; r: Tensor }) => o.sum(o.mul(o.addLayerNorm(a.x, a.r, o.add(o.full([24], 1, { backend: x.backend }), a.r), a.r), o.tanh(a.x))), ['x', 'r'])({ x, r })[1].x, rtol: 1e-3, atol: 1e-4 },
    { name: 'fused AdamW', kernels: ['adamw'], inputs: [{ shape: [200] }, { shape: [200] }, { shape: [200] }, { shape: [200], lo: 0, hi: 1 }], run: (p, g, m, v) => o.adamwUpdate(p, g, m, v, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, step: 3 })[0] },
  ];
}
