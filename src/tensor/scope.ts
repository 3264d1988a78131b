// Scopes own memory: every tensor belongs to the innermost open `tidy`, which releases all it
// allocated except what it returns. Outside any scope, the caller releases by hand.
// The lowest module of the tensor floor: tensor.ts reports allocations here; this file needs tensors
// only as a type (a returned outside tensor gets a fresh handle through its own method).
import type { Tensor } from './tensor.js';

const scopes: Tensor[][] = [];

export function onAllocate(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.push(t);
}

/**
 * Runs `fn` in a new scope. Tensors it allocated are released when it returns, except those in its
 * result (a tree), which move to the enclosing scope. A returned tensor from outside the scope comes
 * back as a fresh handle, so the caller may always release what it passed in. Synchronous only.
 */
export function tidy<T>(fn: () => T): T {
  const own: Tensor[] = [];
  scopes.push(own);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy: the function returned a Promise; scopes are synchronous (await outside tidy)');
  } catch (e) {
    scopes.pop();
    for (const t of own) t.dispose();
    throw e;
  }
  scopes.pop();
  const ownSet = new Set(own);
  const keep = new Set<Tensor>();
  const leaves = leavesOf(result);
  let needsAlias = false;
  for (const t of leaves) { if (ownSet.has(t)) keep.add(t); else needsAlias = true; }
  const parent = scopes[scopes.length - 1];
  for (const t of own) {
    if (keep.has(t)) parent?.push(t);
    else t.dispose();
  }
  if (!needsAlias) return result;
  return mapLeaves(result, (t) => (ownSet.has(t) ? t : t.newHandle()));
}

function mapLeaves<T>(x: T, f: (t: Tensor) => Tensor): T {
  if (x === null || typeof x !== 'object') return x;
  if (isTensorLike(x)) return f(x as unknown as Tensor) as T;
  if (Array.isArray(x)) return x.map((v) => mapLeaves(v, f)) as T;
  if (ArrayBuffer.isView(x)) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = mapLeaves(v, f);
  return out as T;
}
const isTensorLike = (x: object): boolean => 'vid' in x && 'dtype' in x && 'shape' in x && 'dispose' in x;

function leavesOf(x: unknown, out: Tensor[] = []): Tensor[] {
  if (x === null || typeof x !== 'object' || ArrayBuffer.isView(x)) return out;
  if (isTensorLike(x)) out.push(x as Tensor);
  else if (Array.isArray(x)) for (const v of x) leavesOf(v, out);
  else for (const v of Object.values(x)) leavesOf(v, out);
  return out;
}

/** Releases every tensor in a tree (idempotent). */
export function release(...trees: unknown[]): void {
  for (const tree of trees) for (const t of leavesOf(tree)) t.dispose();
}

/** Takes a tensor out of the current scope's ownership: the caller must release it. */
export function keep<T extends Tensor>(t: T): T {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) {
    const i = top.lastIndexOf(t);
    if (i >= 0) top.splice(i, 1);
  }
  return t;
}

export const scopeDepth = (): number => scopes.length;
