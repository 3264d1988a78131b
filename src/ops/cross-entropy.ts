// Cross-entropy over logits with integer labels: fused log-softmax + NLL with an ignore index, and
// mean / sum / none reductions. kernels/cross-entropy.wgsl, kernels/cross-entropy-backward.wgsl.
import { tidy } from '../tensor/scope.js';
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { apply, apply1, defineOp, expectDtype, expectFloat, sameDtype } from './define.js';
import { WG, elementGroups } from './elementwise.js';
import { div, maximum } from './binary.js';
import { sum } from './reduce.js';
import { reshape } from './reshape.js';
import { rowLaunch } from './softmax.js';

interface CeParams { ignoreIndex: number }

function onlyF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(op, `the WebGPU kernel takes f32, got ${t.dtype}`);
}

const classes = (logits: Tensor): number => logits.shape[logits.shape.length - 1];

function checkInputs(op: string, logits: Tensor, labels: Tensor): void {
  expectFloat(op, logits);
  expectDtype(op, labels, 'i32');
  if (logits.shape.length === 0 || classes(logits) === 0) throw new ShapeError(op, `logits need a non-empty class axis, got ${fmt(logits.shape)}`);
  if (!sameShape(labels.shape, logits.shape.slice(0, -1))) throw new ShapeError(op, `labels ${fmt(labels.shape)} must be logits ${fmt(logits.shape)} without the class axis`);
}

/** Throws for a label that is neither the ignore index nor a class (a bug in the data pipeline). */
function checkLabels(labels: ArrayLike<number>, c: number, ignoreIndex: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l !== ignoreIndex && (l < 0 || l >= c)) {
      throw new RangeError(`crossEntropy: label ${l} at row ${i} is outside [0, ${c}) and is not the ignore index ${ignoreIndex}`);
    }
  }
}

/** Per row: loss = logsumexp − logit[label] (0 when ignored), valid (1 / 0), and the residual logsumexp. */
export const crossEntropyOp = defineOp<CeParams>({
  name: 'crossEntropy',
  visible: 2,
  shape: ([logits, labels], { ignoreIndex }) => {
    checkInputs('crossEntropy', logits, labels);
    if (labels.hostMirror !== undefined) checkLabels(labels.hostMirror, classes(logits), ignoreIndex);
    const rows = { shape: labels.shape, dtype: logits.dtype };
    return [rows, rows, rows];
  },
  cpu: ([x, labels], [loss, valid, lse], { inputs: [t], params: { ignoreIndex } }) => {
    const c = classes(t);
    checkLabels(labels, c, ignoreIndex);
    for (let row = 0; row < labels.length; row++) {
      const base = row * c;
      let m = -Infinity;
      for (let k = 0; k < c; k++) { const v = x[base + k]; if (v > m || Number.isNaN(v)) m = v; }
      let s = 0;
      for (let k = 0; k < c; k++) s += Math.exp(x[base + k] - m);
      const z = m + Math.log(s), ignored = labels[row] === ignoreIndex;
      loss[row] = ignored ? 0 : z - x[base + labels[row]];
      valid[row] = ignored ? 0 : 1;
      lse[row] = z;
    }
  },
  gpu: (ctx, [logits, labels], [loss, valid, lse], { ignoreIndex }) => {
    onlyF32('crossEntropy', logits);
    const { MODE, WG: wg, groups } = rowLaunch(labels.size, ctx);
    ctx.dispatch({
      kernel: 'cross-entropy', constants: { MODE, WG: wg }, uniforms: [labels.size, classes(logits), { i32: ignoreIndex }],
      workgroups: groups, bindings: [logits, labels, loss, valid, lse],
    });
  },
  vjp: ({ inputs: [logits, labels], outputs: [, , lse], params }, [g]) =>
    [g === null ? null : apply1(crossEntropyBackwardOp, [logits, labels, lse, g], params), null],
});

/** dlogits = (softmax − onehot(label)) · g per row, 0 on ignored rows. Inputs [logits, labels, lse, g]. First order only. */
export const crossEntropyBackwardOp = defineOp<CeParams>({
  name: 'crossEntropyBackward',
  shape: ([logits, labels, lse, g]) => {
    checkInputs('crossEntropyBackward', logits, labels);
    sameDtype('crossEntropyBackward', logits, g);
    if (lse.size !== labels.size || g.size !== labels.size) throw new ShapeError('crossEntropyBackward', `lse ${fmt(lse.shape)} and g ${fmt(g.shape)} must match labels ${fmt(labels.shape)}`);
    return [{ shape: logits.shape, dtype: logits.dtype }];
  },
  cpu: ([x, labels, lse, g], [dx], { inputs: [t], params: { ignoreIndex } }) => {
    const c = classes(t);
    for (let row = 0; row < labels.length; row++) {
      const l = labels[row], inRange = l >= 0 && l < c;
      for (let k = 0; k < c; k++) {
        const i = row * c + k;
        dx[i] = l === ignoreIndex ? 0 : inRange ? (Math.exp(x[i] - lse[row]) - (k === l ? 1 : 0)) * g[row] : NaN;
      }
    }
  },
  gpu: (ctx, [logits, labels, lse, g], [dx], { ignoreIndex }) => {
    onlyF32('crossEntropyBackward', logits, g);
    ctx.dispatch({
      kernel: 'cross-entropy-backward', constants: { WG }, uniforms: [labels.size, classes(logits), { i32: ignoreIndex }],
      workgroups: elementGroups(dx.size), bindings: [logits, labels, lse, g, dx],
    });
  },
});

export type Reduction = 'mean' | 'sum' | 'none';
export interface CrossEntropyOptions { ignoreIndex?: number; reduction?: Reduction }

/**
 * Cross-entropy of logits [..., C] against i32 labels [...]: per row logsumexp(z) − z[label].
 * Rows labelled `ignoreIndex` (default −100) contribute 0 and get zero gradient. 'mean' divides by the
 * number of non-ignored rows and gives 0 when every row is ignored (PyTorch gives NaN there).
 * A label outside [0, C) throws on the CPU, and on the GPU when the labels came from the host
 * (`hostMirror`); otherwise that row's loss is NaN. VJP: (softmax − onehot) · g, / count for 'mean'.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, { ignoreIndex = -100, reduction = 'mean' }: CrossEntropyOptions = {}): Tensor {
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new ShapeError('crossEntropy', `unknown reduction '${reduction}'`);
  if (!Number.isInteger(ignoreIndex)) throw new ShapeError('crossEntropy', `ignoreIndex must be an integer, got ${ignoreIndex}`);
  return tidy(() => {
    const [loss, valid] = apply(crossEntropyOp, [logits, labels], { ignoreIndex });
    if (reduction === 'none') return loss;
    const total = sum(reshape(loss, [loss.size]));
    if (reduction === 'sum') return total;
    // The count is data, not a function of the logits: a fresh value id keeps it off the tape.
    const count = sum(reshape(alias(valid, valid.shape, false), [valid.size]));
    return div(total, maximum(count, 1));
  });
}

export const crossEntropyOps = { crossEntropy: crossEntropyOp, crossEntropyBackward: crossEntropyBackwardOp };
