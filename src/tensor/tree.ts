// Trees of tensors: nested records and arrays (parameters, gradients, gates, optimizer state).
import { Tensor } from './tensor.js';

export type Tree<T = Tensor> = T | readonly Tree<T>[] | { readonly [k: string]: Tree<T> };

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor) && !ArrayBuffer.isView(x);

/** Every tensor in the tree, depth first, keys in insertion order. Non-tensor leaves are skipped. */
export function treeLeaves(tree: unknown, out: Tensor[] = []): Tensor[] {
  if (tree instanceof Tensor) out.push(tree);
  else if (Array.isArray(tree)) for (const x of tree) treeLeaves(x, out);
  else if (isRecord(tree)) for (const k of Object.keys(tree)) treeLeaves(tree[k], out);
  return out;
}

/** Maps every tensor leaf; other leaves (numbers, strings) are kept as they are. */
export function treeMap<T>(tree: T, f: (t: Tensor, path: string) => Tensor, path = ''): T {
  if (tree instanceof Tensor) return f(tree, path) as T;
  if (Array.isArray(tree)) return tree.map((x, i) => treeMap(x, f, `${path}[${i}]`)) as T;
  if (isRecord(tree)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree)) out[k] = treeMap(tree[k], f, path ? `${path}.${k}` : k);
    return out as T;
  }
  return tree;
}

/** Zips trees of the same structure leaf by leaf; throws naming the path where they differ. */
export function treeZip<T>(a: T, b: T, f: (x: Tensor, y: Tensor, path: string) => Tensor): T {
  const bs = treeLeavesWithPaths(b);
  let i = 0;
  return treeMap(a, (x, path) => {
    const other = bs[i++];
    if (!other || other[0] !== path) throw new Error(`treeZip: structures differ at ${path}`);
    return f(x, other[1], path);
  });
}

export function treeLeavesWithPaths(tree: unknown): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  treeMap(tree, (t, path) => { out.push([path, t]); return t; });
  return out;
}
