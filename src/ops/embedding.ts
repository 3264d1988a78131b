// Embedding lookup (gather rows of a [V, D] table by i32 ids), its deterministic backward, and
// oneHot. kernels/gather.wgsl, kernels/gather-backward.wgsl.
//
// Out-of-range ids: the CPU rule throws naming the id; the GPU rule checks `ids.hostMirror` when the
// ids came from host data, and otherwise the kernel writes a zero row for an id outside [0, V).
// The backward never uses float atomics: the host sorts token positions by id (counting sort, stable),
// and one GPU thread per (id, column) sums its tokens in ascending position order — the order of the
// CPU rule, so both give the same bits and repeated runs agree exactly.
import { ShapeError, fmt } from '../tensor/shape.js';
import { type Tensor, fromArray } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { type OpDef, apply1, defineOp, expectDtype, expectFloat } from './define.js';
import { WG, elementGroups } from './elementwise.js';
import { cast, arange } from './creation.js';
import { equal } from './binary.js';
import { expandDims } from './reshape.js';

export interface GatherOptions {
  /** Row that receives no gradient (PyTorch nn.Embedding padding_idx); negative counts from V. */
  paddingIdx?: number;
}

interface GatherParams { paddingIdx: number }
interface BackwardParams {
  vocab: number;
  paddingIdx: number;
  /** Distinct ids in the GPU plan (0 on the CPU, which needs no plan). */
  unique: number;
}

const NO_PADDING = -1;

function normalizePadding(op: string, vocab: number, p: number | undefined): number {
  if (p === undefined) return NO_PADDING;
  const q = p < 0 ? p + vocab : p;
  if (!Number.isInteger(q) || q < 0 || q >= vocab) throw new ShapeError(op, `paddingIdx ${p} is outside [−${vocab}, ${vocab})`);
  return q;
}

function badId(op: string, ids: ArrayLike<number>, vocab: number): void {
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < vocab)) throw new ShapeError(op, `id ${id} at position ${t} is outside the table's ${vocab} rows`);
  }
}

export const gatherOp: OpDef<GatherParams> = defineOp<GatherParams>({
  name: 'gather',
  shape: ([table, ids]) => {
    if (table.shape.length !== 2) throw new ShapeError('gather', `table must be [V, D], got ${fmt(table.shape)}`);
    expectDtype('gather', ids, 'i32');
    return [{ shape: [...ids.shape, table.shape[1]], dtype: table.dtype }];
  },
  cpu: ([table, ids], [y], { inputs: [t] }) => {
    const [vocab, D] = t.shape;
    badId('gather', ids, vocab);
    for (let k = 0; k < ids.length; k++) {
      const src = ids[k] * D;
      for (let d = 0; d < D; d++) y[k * D + d] = table[src + d];
    }
  },
  gpu: (ctx, [table, ids], [y]) => {
    const [vocab, D] = table.shape;
    if (ids.hostMirror !== undefined) badId('gather', ids.hostMirror, vocab);
    ctx.dispatch({
      kernel: 'gather', constants: { WG }, uniforms: [y.size, D, vocab],
      workgroups: elementGroups(y.size), bindings: [table, ids, y],
    });
  },
  vjp: ({ inputs: [table, ids], params: p, needs }, [g]) =>
    [needs[0] ? gatherBackward(g!, ids, table.shape[0], { paddingIdx: p.paddingIdx === NO_PADDING ? undefined : p.paddingIdx }) : null, null],
});

/**
 * Rows of `table` [V, D] at i32 `ids` of any shape → [...ids.shape, D]: y[t] = table[ids[t]].
 * Backward: dtable = gatherBackward(g, ids, V). `paddingIdx` still looks its row up, but gives it no gradient.
 */
export function gather(table: Tensor, ids: Tensor, o: GatherOptions = {}): Tensor {
  const vocab = table.shape.length === 2 ? table.shape[0] : 0;
  return apply1(gatherOp, [table, ids], { paddingIdx: normalizePadding('gather', vocab, o.paddingIdx) });
}

/**
 * Host plan for the GPU backward, one i32 array: U + 1 segment starts, then the token positions
 * sorted by id (a stable counting sort), padding tokens left out. Segment u holds one id's tokens.
 */
export function backwardPlan(ids: ArrayLike<number>, vocab: number, paddingIdx: number): { plan: Int32Array; unique: number } {
  badId('gatherBackward', ids, vocab);
  const counts = new Int32Array(vocab);
  let used = 0;
  for (let t = 0; t < ids.length; t++) if (ids[t] !== paddingIdx) { counts[ids[t]]++; used++; }
  let unique = 0;
  for (let v = 0; v < vocab; v++) if (counts[v] > 0) unique++;
  const plan = new Int32Array(unique + 1 + used);
  const next = new Int32Array(vocab); // where each id's next token goes in the positions section
  let u = 0, at = 0;
  for (let v = 0; v < vocab; v++) {
    if (counts[v] === 0) continue;
    plan[u++] = at; next[v] = at;
    at += counts[v];
  }
  plan[unique] = at;
  for (let t = 0; t < ids.length; t++) if (ids[t] !== paddingIdx) plan[unique + 1 + next[ids[t]]++] = t;
  return { plan, unique };
}

export const gatherBackwardOp: OpDef<BackwardParams> = defineOp<BackwardParams>({
  name: 'gatherBackward',
  shape: ([g, ids], p) => {
    expectDtype('gatherBackward', ids, 'i32');
    expectFloat('gatherBackward', g);
    const D = g.shape[g.shape.length - 1];
    if (g.shape.length !== ids.shape.length + 1 || ids.shape.some((d, i) => d !== g.shape[i])) {
      throw new ShapeError('gatherBackward', `cotangent ${fmt(g.shape)} does not match ids ${fmt(ids.shape)} + [D]`);
    }
    return [{ shape: [p.vocab, D], dtype: g.dtype }];
  },
  // Plain scatter-add in position order: the oracle the GPU plan must reproduce bit for bit.
  cpu: ([g, ids], [y], { outputs: [u], params: p }) => {
    const D = u.shape[1];
    badId('gatherBackward', ids, p.vocab);
    y.fill(0);
    for (let t = 0; t < ids.length; t++) {
      if (ids[t] === p.paddingIdx) continue;
      const dst = ids[t] * D;
      for (let d = 0; d < D; d++) y[dst + d] += g[t * D + d];
    }
  },
  gpu: (ctx, [g, ids, plan], [y], p) => {
    if (plan === undefined) throw new ShapeError('gatherBackward', 'the WebGPU rule needs the host plan (call gatherBackward)');
    const D = y.shape[1];
    if (p.unique < p.vocab) {
      ctx.dispatch({ kernel: 'fill', constants: { MODE: 0, IS_INT: 0, WG }, uniforms: [y.size, 0, 0], workgroups: elementGroups(y.size), bindings: [y] });
    }
    ctx.dispatch({
      kernel: 'gather-backward', constants: { WG }, uniforms: [p.unique * D, p.unique, D],
      workgroups: elementGroups(p.unique * D), bindings: [g, ids, plan, y],
    });
  },
});

/**
 * The gradient of `gather` with respect to the table: dtable[v] = Σ_{t: ids[t] = v} g[t] → [V, D];
 * the padding row gets none. On the GPU the ids must come from host data (`ids.hostMirror`).
 */
export function gatherBackward(g: Tensor, ids: Tensor, vocab: number, o: GatherOptions = {}): Tensor {
  const paddingIdx = normalizePadding('gatherBackward', vocab, o.paddingIdx);
  if (g.backend.name === 'cpu') return apply1(gatherBackwardOp, [g, ids], { vocab, paddingIdx, unique: 0 });
  if (ids.hostMirror === undefined) {
    throw new ShapeError('gatherBackward', `the WebGPU embedding backward sorts ids on the host, but ids ${fmt(ids.shape)} were not created from host data (fromArray)`);
  }
  const { plan: host, unique } = backwardPlan(ids.hostMirror, vocab, paddingIdx);
  const plan = fromArray(host, undefined, { backend: g.backend, dtype: 'i32' });
  try {
    return apply1(gatherBackwardOp, [g, ids, plan], { vocab, paddingIdx, unique });
  } finally {
    plan.dispose();
  }
}

/** One-hot rows: [...ids.shape] i32 → [...ids.shape, n] f32; ids outside [0, n) give a zero row. */
export function oneHot(ids: Tensor, n: number): Tensor {
  expectDtype('oneHot', ids, 'i32');
  if (!Number.isInteger(n) || n < 0) throw new ShapeError('oneHot', `class count ${n} must be a non-negative integer (ids ${fmt(ids.shape)})`);
  return tidy(() => equal(expandDims(cast(ids, 'f32'), -1), arange(0, n, 1, { backend: ids.backend })));
}
