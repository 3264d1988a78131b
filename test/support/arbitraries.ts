// fast-check generators shared by all tests: shapes with awkward sizes, broadcast pairs, values.
import fc from 'fast-check';

/** Dimensions that break tiling assumptions: 1, primes, and off-by-one around powers of two. */
export const awkwardDim = fc.oneof(
  fc.constantFrom(1, 2, 3, 5, 7, 13, 17, 31, 33, 63, 65, 127, 129, 257),
  fc.integer({ min: 1, max: 40 }),
);

export function arbShape({ minRank = 0, maxRank = 4, maxSize = 4096 }: { minRank?: number; maxRank?: number; maxSize?: number } = {}): fc.Arbitrary<number[]> {
  return fc.array(awkwardDim, { minLength: minRank, maxLength: maxRank })
    .filter((s) => s.reduce((a, b) => a * b, 1) <= maxSize);
}

/** Two shapes that broadcast: the second drops leading axes and sets some axes to 1. */
export function arbBroadcastPair(o: { maxRank?: number; maxSize?: number } = {}): fc.Arbitrary<[number[], number[]]> {
  return arbShape({ minRank: 0, ...o }).chain((s) =>
    fc.tuple(fc.nat({ max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }), fc.boolean())
      .map(([drop, ones, swap]) => {
        const t = s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        return (swap ? [t, s] : [s, t]) as [number[], number[]];
      }));
}

export const sizeOfShape = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** f32-representable values in [-range, range], no NaN. */
export const arbValues = (n: number, range = 4): fc.Arbitrary<number[]> =>
  fc.array(fc.float({ min: Math.fround(-range), max: Math.fround(range), noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });

export const arbTensorData = (o: { minRank?: number; maxRank?: number; maxSize?: number; range?: number } = {}) =>
  arbShape(o).chain((shape) => arbValues(sizeOfShape(shape), o.range).map((values) => ({ shape, values })));
