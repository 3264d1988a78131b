// Shared pieces of pointwise kernels: workgroup count and the CPU erf used by both erf and GELU.
export const WG = 256;
/** Rounds as a tensor of `dtype` stores: CPU rules of fused ops round where the composition would (f32), so both give the same bits. */
export const rounding = (dtype: string): ((v: number) => number) => (dtype === 'f32' ? Math.fround : (v) => v);
export const elementGroups = (n: number, perThread = 1): number => Math.ceil(n / (WG * perThread));

/** erf in double precision: Taylor series near 0, continued fraction for erfc further out. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * 1.1283791670955126;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / 1.7724538509055159 / f;
  return Math.sign(x) * (1 - erfc);
}

export const stableTanh = (x: number): number => {
  const e = Math.exp(-2 * Math.abs(x));
  return Math.sign(x) * ((1 - e) / (1 + e));
};

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
export const geluDeriv = (x: number): number => 0.5 * (1 + erf(x * Math.SQRT1_2)) + x * 0.3989422804014327 * Math.exp(-0.5 * x * x);
