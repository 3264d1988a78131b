// Reverse mode over the tape: vjp, grad and valueAndGrad over trees, differentiating with respect to
// named keys of one record argument (JAX's argnums, typed).
import { onesLike, zerosLike } from '../ops/creation.js';
import { add } from '../ops/binary.js';
import { sumTo } from '../ops/reduce.js';
import { isFloat } from '../tensor/dtype.js';
import { tidy } from '../tensor/scope.js';
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import { type Tensor, alias } from '../tensor/tensor.js';
import { treeLeaves, treeMap } from '../tensor/tree.js';
import { type Tape, disposeTape, popTape, pushTape } from '../ops/tape.js';

/** Walks the tape backwards from `out` seeded with `seed`; returns gradients by value id. */
function backward(tape: Tape, out: Tensor, seed: Tensor): Map<number, Tensor> {
  const grads = new Map<number, Tensor>([[out.vid, seed]]);
  tape.paused = true;
  try {
    for (let n = tape.nodes.length - 1; n >= 0; n--) {
      const node = tape.nodes[n];
      const cts = node.outputs.map((o) => grads.get(o.vid) ?? null);
      if (cts.every((g) => g === null)) continue;
      const needs = node.inputs.map((t) => tape.tracked.has(t.vid) && isFloat(t.dtype));
      if (!needs.some(Boolean)) continue;
      const inGrads = tidy(() => node.op.vjp!({ inputs: node.inputs, outputs: node.outputs, params: node.params, needs }, cts)
        .map((g, i) => (needs[i] && g !== null ? sumTo(g, node.inputs[i].shape) : null)));
      for (const o of node.outputs) { grads.get(o.vid)?.dispose(); grads.delete(o.vid); }
      inGrads.forEach((g, i) => {
        if (g === null || g === undefined) return;
        const x = node.inputs[i];
        if (!sameShape(g.shape, x.shape)) throw new ShapeError(node.op.name, `VJP returned ${fmt(g.shape)} for an input of shape ${fmt(x.shape)}`);
        const prev = grads.get(x.vid);
        if (prev === undefined) grads.set(x.vid, alias(g));
        else { grads.set(x.vid, add(prev, g)); prev.dispose(); }
        g.dispose();
      });
    }
  } finally {
    tape.paused = false;
  }
  return grads;
}

type Wrt<A> = readonly (keyof A & string)[];
export type Grads<A, K extends keyof A> = { [P in K]: A[P] };
type Output = Tensor | readonly [Tensor, unknown];
/**
 * The argument record assumed when `f`'s parameter is not annotated: the differentiated keys are
 * tensors, any other key is unknown. `valueAndGrad(({ w }) => …, ['w'])` thus types `w` (and the
 * gradient `g.w`) as Tensor; annotate `f`'s parameter for trees (`{ params: Params; batch: Batch }`).
 */
export type DefaultArgs<K extends string> = { readonly [P in K]: Tensor } & Readonly<Record<string, unknown>>;

function gradTree<A extends Record<string, unknown>, K extends keyof A & string>(args: A, wrt: Wrt<A>, grads: Map<number, Tensor>): Grads<A, K> {
  const out: Record<string, unknown> = {};
  for (const k of wrt) {
    out[k] = treeMap(args[k], (leaf) => {
      const g = grads.get(leaf.vid);
      return g === undefined ? zerosLike(leaf) : alias(g);
    });
  }
  return out as Grads<A, K>;
}

function checkScalar(v: Tensor): void {
  if (v.size !== 1 || !isFloat(v.dtype)) throw new ShapeError('grad', `the function must return a float scalar, got ${v.dtype} ${fmt(v.shape)}`);
}

/**
 * `valueAndGrad(f, ['params'])(args)` → [f(args), { params: ∂f/∂params }]. f returns a scalar, or
 * [scalar, aux] with `hasAux`. Only the keys in `wrt` are differentiated; work for the rest is skipped.
 */
export function valueAndGrad<K extends keyof A & string, O extends Output = Tensor, A extends Record<string, unknown> = DefaultArgs<K>>(
  f: (args: A) => O, wrt: readonly K[],
): (args: A) => [O, Grads<A, K>] {
  return (args) => tidy(() => {
    for (const k of wrt) if (!(k in args)) throw new Error(`valueAndGrad: argument has no key '${k}'`);
    const leaves = wrt.flatMap((k) => treeLeaves(args[k]));
    const tape = pushTape(leaves);
    try {
      let out: O;
      try { out = f(args); } finally { popTape(tape); }
      const value = (Array.isArray(out) ? out[0] : out) as Tensor;
      checkScalar(value);
      const grads = backward(tape, value, onesLike(value));
      return [out, gradTree<A, K>(args, wrt, grads)] as [O, Grads<A, K>];
    } finally {
      disposeTape(tape);
    }
  });
}

/** Gradient only: `grad(f, ['gates'])(args)` → { gates: ∂f/∂gates }. */
export function grad<K extends keyof A & string, A extends Record<string, unknown> = DefaultArgs<K>>(f: (args: A) => Output, wrt: readonly K[]): (args: A) => Grads<A, K> {
  const vg = valueAndGrad(f, wrt);
  return (args) => tidy(() => vg(args)[1]);
}

/**
 * `vjp(f, wrt)(args)` → [y, pullback]. The pullback maps a cotangent shaped like y to gradients for
 * the `wrt` keys; it may be called once and then releases the tape. y is any tensor (not only scalars).
 */
export function vjp<K extends keyof A & string, A extends Record<string, unknown> = DefaultArgs<K>>(
  f: (args: A) => Tensor, wrt: readonly K[],
): (args: A) => [Tensor, (cotangent: Tensor) => Grads<A, K>] {
  return (args) => {
    const tape = pushTape(wrt.flatMap((k) => treeLeaves(args[k])));
    let y: Tensor;
    try { y = f(args); } catch (e) { popTape(tape); disposeTape(tape); throw e; }
    popTape(tape);
    let used = false;
    const pullback = (ct: Tensor): Grads<A, K> => {
      if (used) throw new Error('vjp: the pullback was already used (it releases the tape)');
      used = true;
      if (!sameShape(ct.shape, y.shape)) { disposeTape(tape); throw new ShapeError('vjp', `cotangent ${fmt(ct.shape)} does not match output ${fmt(y.shape)}`); }
      try {
        return tidy(() => gradTree<A, K>(args, wrt, backward(tape, y, alias(ct))));
      } finally {
        disposeTape(tape);
      }
    };
    return [y, pullback];
  };
}

/** The same value, cut off from differentiation. */
export const stopGradient = (x: Tensor): Tensor => alias(x, x.shape, false);
