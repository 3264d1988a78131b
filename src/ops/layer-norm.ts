// Layer norm over the last axis with saved statistics, and its fused backward.
// kernels/layer-norm.wgsl (forward), kernels/layer-norm-backward.wgsl (dx per row; dweight, dbias per column).
import type { HostArray } from '../tensor/dtype.js';
import { ShapeError, fmt } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { apply, defineOp, expectFloat, sameDtype } from './define.js';
import { rowLaunch } from './softmax.js';

interface LayerNormParams { eps: number }

function onlyF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(op, `the WebGPU kernel takes f32, got ${t.dtype}`);
}

const cols = (x: Tensor): number => x.shape[x.shape.length - 1];

function checkRows(op: string, x: Tensor, ...vecs: Tensor[]): void {
  expectFloat(op, x, ...vecs);
  if (x.shape.length === 0 || cols(x) === 0) throw new ShapeError(op, `needs a non-empty last axis, got ${fmt(x.shape)}`);
  for (const v of vecs) {
    sameDtype(op, x, v);
    if (v.shape.length !== 1 || v.shape[0] !== cols(x)) throw new ShapeError(op, `weight and bias must be [${cols(x)}] for x ${fmt(x.shape)}, got ${fmt(v.shape)}`);
  }
}

function layerNormCpu(x: HostArray, w: HostArray, b: HostArray, y: HostArray, mean: HostArray, rstd: HostArray, n: number, eps: number): void {
  for (let row = 0; row < mean.length; row++) {
    const base = row * n;
    let s = 0;
    for (let k = 0; k < n; k++) s += x[base + k];
    const m = s / n;
    let q = 0;
    for (let k = 0; k < n; k++) q += (x[base + k] - m) ** 2;
    const r = 1 / Math.sqrt(q / n + eps);
    for (let k = 0; k < n; k++) y[base + k] = (x[base + k] - m) * r * w[k] + b[k];
    mean[row] = m;
    rstd[row] = r;
  }
}

/** Forward: outputs y, then the residuals mean and rstd (shape x.shape[:-1]). */
export const layerNormOp = defineOp<LayerNormParams>({
  name: 'layerNorm',
  visible: 1,
  shape: ([x, w, b]) => {
    checkRows('layerNorm', x, w, b);
    const stats = { shape: x.shape.slice(0, -1), dtype: x.dtype };
    return [{ shape: x.shape, dtype: x.dtype }, stats, stats];
  },
  cpu: ([x, w, b], [y, mean, rstd], { inputs: [t], params: { eps } }) => layerNormCpu(x, w, b, y, mean, rstd, cols(t), eps),
  gpu: (ctx, [x, w, b], [y, mean, rstd], { eps }) => {
    onlyF32('layerNorm', x);
    const { MODE, WG, groups } = rowLaunch(mean.size, ctx);
    ctx.dispatch({
      kernel: 'layer-norm', constants: { MODE, WG }, uniforms: [mean.size, cols(x), { f32: eps }, 0],
      workgroups: groups, bindings: [x, x, w, b, y, mean, rstd, ctx.scratch([1], 'f32')],
    });
  },
  vjp: ({ inputs: [x, w], outputs: [, mean, rstd], needs }, [g]) => {
    if (g === null) return [null, null, null];
    const paramGrads = needs[1] || needs[2];
    const [dx, dw, db] = layerNormBackward(x, w, mean, rstd, g, { paramGrads });
    return [needs[0] ? dx : null, needs[1] ? dw : null, needs[2] ? db : null];
  },
});

/**
 * Layer norm over the last axis: y = (x − mean) / √(var + eps) · weight + bias, with the biased
 * variance and f32 statistics. x [..., D], weight and bias [D]. VJP: layerNormBackward.
 */
export const layerNorm = (x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor =>
  apply(layerNormOp, [x, weight, bias], { eps })[0];

// ---- residual add + layer norm ------------------------------------------------------------------

/**
 * Forward of layerNorm(x + res): outputs y, then the residuals mean, rstd and s = x + res. res is x's
 * shape or [D] (added to every row). One dispatch (layer-norm.wgsl, RES 1); the VJP is layerNorm's on s.
 */
export const addLayerNormOp = defineOp<LayerNormParams>({
  name: 'addLayerNorm',
  visible: 1,
  shape: ([x, r, w, b]) => {
    checkRows('addLayerNorm', x, w, b);
    sameDtype('addLayerNorm', x, r);
    if (r.size !== x.size && !(r.shape.length === 1 && r.shape[0] === cols(x))) {
      throw new ShapeError('addLayerNorm', `residual ${fmt(r.shape)} must be x's shape ${fmt(x.shape)} or [${cols(x)}]`);
    }
    const stats = { shape: x.shape.slice(0, -1), dtype: x.dtype };
    return [{ shape: x.shape, dtype: x.dtype }, stats, stats, { shape: x.shape, dtype: x.dtype }];
  },
  cpu: ([x, r, w, b], [y, mean, rstd, s], { inputs: [t, tr], params: { eps } }) => {
    const n = cols(t), rb = tr.size !== t.size;
    for (let i = 0; i < s.length; i++) s[i] = x[i] + r[rb ? i % n : i];
    layerNormCpu(s, w, b, y, mean, rstd, n, eps);
  },
  gpu: (ctx, [x, r, w, b], [y, mean, rstd, s], { eps }) => {
    onlyF32('addLayerNorm', x, r);
    const { MODE, WG, groups } = rowLaunch(mean.size, ctx);
    ctx.dispatch({
      kernel: 'layer-norm', constants: { MODE, WG, RES: 1 }, uniforms: [mean.size, cols(x), { f32: eps }, +(r.size !== x.size)],
      workgroups: groups, bindings: [x, r, w, b, y, mean, rstd, s],
    });
  },
  vjp: ({ inputs: [, , w], outputs: [, mean, rstd, s], needs }, [g]) => {
    if (g === null) return [null, null, null, null];
    const paramGrads = needs[2] || needs[3];
    const [dx, dw, db] = layerNormBackward(s, w, mean, rstd, g, { paramGrads });
    return [needs[0] ? dx : null, needs[1] ? alias(dx) : null, needs[2] ? dw : null, needs[3] ? db : null];
  },
});

/** layerNorm(x + res) in one dispatch; res is x's shape or [D]. Equal to the composition to the last bit. */
export const addLayerNorm = (x: Tensor, res: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor =>
  apply(addLayerNormOp, [x, res, weight, bias], { eps })[0];

// ---- backward ---------------------------------------------------------------------------------

interface BackwardParams { paramGrads: boolean }

/** Rows per chunk for the column sums: ≤ 64 chunks, each summed serially; the chunks are then summed in order. */
const chunking = (rows: number): [number, number] => {
  const chunks = Math.max(1, Math.min(64, Math.ceil(rows / 128)));
  return [chunks, Math.ceil(rows / chunks)];
};

/**
 * Fused layer-norm VJP from the saved statistics, x̂ = (x − mean) · rstd:
 * dx = rstd · (g⊙w − mean(g⊙w) − x̂ · mean(g⊙w⊙x̂)); dweight = Σ_rows g⊙x̂; dbias = Σ_rows g.
 * Inputs [x, weight, mean, rstd, g]; outputs [dx] or [dx, dweight, dbias]. First order only.
 */
export const layerNormBackwardOp = defineOp<BackwardParams>({
  name: 'layerNormBackward',
  shape: ([x, w, mean, rstd, g], { paramGrads }) => {
    checkRows('layerNormBackward', x, w);
    sameDtype('layerNormBackward', x, g);
    if (g.size !== x.size || mean.size * cols(x) !== x.size || rstd.size !== mean.size) {
      throw new ShapeError('layerNormBackward', `inconsistent shapes: x ${fmt(x.shape)}, g ${fmt(g.shape)}, mean ${fmt(mean.shape)}, rstd ${fmt(rstd.shape)}`);
    }
    const dx = { shape: x.shape, dtype: x.dtype };
    return paramGrads ? [dx, { shape: w.shape, dtype: w.dtype }, { shape: w.shape, dtype: w.dtype }] : [dx];
  },
  cpu: ([x, w, mean, rstd, g], [dx, dw, db], { inputs: [t] }) => {
    const n = cols(t);
    dw?.fill(0);
    db?.fill(0);
    for (let row = 0; row < mean.length; row++) {
      const base = row * n, m = mean[row], r = rstd[row];
      let a = 0, b = 0;
      for (let k = 0; k < n; k++) { const gw = g[base + k] * w[k]; a += gw; b += gw * (x[base + k] - m) * r; }
      a /= n; b /= n;
      for (let k = 0; k < n; k++) {
        const xhat = (x[base + k] - m) * r;
        dx[base + k] = r * (g[base + k] * w[k] - a - xhat * b);
        if (dw !== undefined) { dw[k] += g[base + k] * xhat; db[k] += g[base + k]; }
      }
    }
  },
  gpu: (ctx, [x, w, mean, rstd, g], [dx, dw, db]) => {
    onlyF32('layerNormBackward', x);
    const rows = mean.size, n = cols(x);
    const { MODE, WG, groups } = rowLaunch(rows, ctx);
    // The row pass leaves dweight/dbias alone, but every binding must be bound: stand-ins when absent.
    const [pw, pb] = dw === undefined ? [ctx.scratch([1], 'f32'), ctx.scratch([1], 'f32')] : [dw, db];
    ctx.dispatch({ kernel: 'layer-norm-backward', constants: { MODE, WG }, uniforms: [rows, n, 0], workgroups: groups, bindings: [x, w, mean, rstd, g, dx, pw, pb] });
    if (dw === undefined) return;
    // One thread per row (software adapters): one chunk, no partial sums to reduce — two dispatches fewer.
    const [chunks, chunk] = MODE === 0 ? [1, rows] : chunking(rows);
    const [sw, sb] = chunks === 1 ? [dw, db] : [ctx.scratch([chunks, n], 'f32'), ctx.scratch([chunks, n], 'f32')];
    ctx.dispatch({
      kernel: 'layer-norm-backward', constants: { MODE: 2, WG: 64 }, uniforms: [rows, n, chunk],
      workgroups: [Math.ceil(n / 64), chunks, 1], bindings: [x, w, mean, rstd, g, dx, sw, sb],
    });
    if (chunks === 1) return;
    // reduce.wgsl sums the chunk partials in chunk order: the same bits on every run.
    for (const [part, out] of [[sw, dw], [sb, db]]) {
      ctx.dispatch({ kernel: 'reduce', constants: { OP: 0, MODE: 0, WG: 256 }, uniforms: [1, chunks, n, { f32: 1 }], workgroups: Math.ceil(n / 256), bindings: [part, out] });
    }
  },
});

export function layerNormBackward(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, g: Tensor, { paramGrads = true } = {}): Tensor[] {
  return apply(layerNormBackwardOp, [x, weight, mean, rstd, g], { paramGrads });
}

export const layerNormOps = { layerNorm: layerNormOp, addLayerNorm: addLayerNormOp, layerNormBackward: layerNormBackwardOp };
