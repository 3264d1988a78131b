// Comparison helpers: all-close with per-op tolerances, and JAX's one-direction VJP check.
import { expect } from 'vitest';
import {
  type Backend, type HostArray, type Tensor, cpu, cpuRead, fromArray, read, tidy, vjp,
} from '../../src/index.js';

export interface Tol { rtol?: number; atol?: number }

/** |a − e| ≤ atol + rtol·|e| elementwise; NaN must match NaN. Reports the worst element. */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { rtol = 1e-5, atol = 1e-6 }: Tol = {}): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) { if (Number.isNaN(e) !== Number.isNaN(a)) { worst = i; worstErr = Infinity; break; } continue; }
    if (a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (err > worstErr || Number.isNaN(err)) { worstErr = Number.isNaN(err) ? Infinity : err; worst = i; }
  }
  if (worst >= 0) expect.fail(`element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol}, n=${actual.length})`);
}

/** Compares relative to the largest magnitude of the expected tensor (parity tests). */
export function expectCloseToScale(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  expectAllClose(actual, expected, { rtol: 0, atol: rel * Math.max(scale, 1e-30) });
}

/** A tensor on `backend` from host values. */
export const on = (backend: Backend, values: ArrayLike<number>, shape: readonly number[], dtype: 'f32' | 'i32' | 'f64' = 'f32'): Tensor =>
  fromArray(values, shape, { backend, dtype });

/** Runs f on a backend and reads every output back, releasing everything. */
export async function runOn(backend: Backend, f: (...xs: Tensor[]) => Tensor, inputs: { values: ArrayLike<number>; shape: readonly number[]; dtype?: 'f32' | 'i32' }[]): Promise<HostArray> {
  const xs = inputs.map((i) => on(backend, i.values, i.shape, i.dtype ?? 'f32'));
  const y = tidy(() => f(...xs));
  const out = await read(y);
  y.dispose();
  for (const x of xs) x.dispose();
  return out;
}

/** Deterministic pseudo-random values in [lo, hi) from a seed (test data, not the library RNG). */
export function seededValues(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

/**
 * Directional VJP check in f64 on the CPU: ⟨u, (f(x+εv) − f(x−εv))/2ε⟩ ≈ ⟨vjp(u), v⟩ for random u, v.
 * `inputs` are host values; `f` maps f64 CPU tensors to one tensor.
 */
export function checkVjp(
  f: (...xs: Tensor[]) => Tensor,
  inputs: { values: ArrayLike<number>; shape: readonly number[] }[],
  { eps = 1e-6, rtol = 1e-5, atol = 1e-8, seed = 7, wrt }: { eps?: number; rtol?: number; atol?: number; seed?: number; wrt?: number[] } = {},
): void {
  const be = cpu();
  const which = wrt ?? inputs.map((_, i) => i);
  const dirs = inputs.map((x, i) => (which.includes(i) ? seededValues(x.values.length, seed + 31 * i) : new Array<number>(x.values.length).fill(0)));
  const evalAt = (sgn: number): Float64Array => tidy(() => {
    const xs = inputs.map((x, i) => fromArray(Array.from(x.values, (v, k) => v + sgn * eps * dirs[i][k]), x.shape, { backend: be, dtype: 'f64' }));
    return Float64Array.from(cpuRead(f(...xs)));
  });
  const yp = evalAt(1), ym = evalAt(-1);
  const u = seededValues(yp.length, seed + 1000);
  let numeric = 0;
  for (let i = 0; i < yp.length; i++) numeric += u[i] * (yp[i] - ym[i]) / (2 * eps);
  const analytic = tidy(() => {
    const args: Record<string, Tensor> = {};
    inputs.forEach((x, i) => { args[`x${i}`] = fromArray(x.values, x.shape, { backend: be, dtype: 'f64' }); });
    const keys = which.map((i) => `x${i}`);
    const [y, pull] = vjp((a: Record<string, Tensor>) => f(...inputs.map((_, i) => a[`x${i}`])), keys)(args);
    const g = pull(fromArray(u, y.shape, { backend: be, dtype: 'f64' })) as Record<string, Tensor>;
    let dot = 0;
    for (const i of which) { const gi = cpuRead(g[`x${i}`]); for (let k = 0; k < gi.length; k++) dot += gi[k] * dirs[i][k]; }
    return dot;
  });
  const tol = atol + rtol * Math.max(Math.abs(numeric), Math.abs(analytic));
  if (!(Math.abs(numeric - analytic) <= tol)) expect.fail(`VJP check: numeric ${numeric}, analytic ${analytic} (diff ${Math.abs(numeric - analytic)}, tol ${tol})`);
}
