// Standard errors of held-out MLM losses (src/eval/stderr.ts): the token-weighted mean and its cluster
// (batch) standard error against hand-computed values and two brute-force forms (token-level cluster
// sandwich; one token per batch = the plain standard error of a mean), paired differences, per-batch
// means over models on the same batches, and the mean of independent estimates.
import { describe, expect, it } from 'vitest';
import { type BatchLoss, clusterStderr, independentMeanStderr, meanBatches, pairedBatches, pairedDifference, weightedLoss } from '../../src/eval/stderr.js';
import { std } from '../../src/eval/report.js';
import { rng } from '../support/tiny-continual.js';

const bl = (xs: [number, number][]): BatchLoss[] => xs.map(([loss, tokens]) => ({ loss, tokens }));
const A = bl([[2.0, 10], [3.0, 30], [1.0, 20]]);
const B = bl([[1.5, 10], [2.9, 30], [1.2, 20]]);

describe('held-out standard errors', () => {
  it('weighted loss and its cluster standard error match hand-computed values', () => {
    // L = (20 + 90 + 20) / 60 = 13/6; n_b (l_b − L) = −10/6, 25, −140/6; Σ squares = 10550/9; · 3/2 = 5275/3
    expect(weightedLoss(A)).toBeCloseTo(13 / 6, 14);
    expect(clusterStderr(A)).toBeCloseTo(Math.sqrt(5275 / 3) / 60, 14);
    // a batch without labelled tokens carries no weight and is no cluster
    expect(clusterStderr([...A, { loss: 0, tokens: 0 }])).toBe(clusterStderr(A));
    expect(weightedLoss([...A, { loss: 0, tokens: 0 }])).toBe(weightedLoss(A));
    // one cluster: no estimate of the spread
    expect(clusterStderr(bl([[2, 10]]))).toBeNaN();
    expect(clusterStderr(bl([[2, 10], [5, 0]]))).toBeNaN();
    expect(weightedLoss([])).toBeNaN();
    // equal batch losses: no error
    expect(clusterStderr(bl([[2, 10], [2, 30]]))).toBe(0);
  });

  it('paired difference: per-batch differences with the shared token counts', () => {
    // d = 0.5, 0.1, −0.2; mean (5 + 3 − 4)/60 = 1/15; n_b (d_b − 1/15) = 13/3, 1, −16/3; Σ squares = 434/9; · 3/2 = 217/3
    const d = pairedDifference(A, B);
    expect(d.mean).toBeCloseTo(1 / 15, 14);
    expect(d.mean).toBeCloseTo(weightedLoss(A) - weightedLoss(B), 14);
    expect(d.stderr).toBeCloseTo(Math.sqrt(217 / 3) / 60, 14);
    expect(d.stderr).toBeLessThan(clusterStderr(A) / 4);   // the models agree on which batches are hard
    expect(pairedBatches(A, B).map((x) => x.tokens)).toEqual([10, 30, 20]);
    expect(() => pairedBatches(A, B.slice(1))).toThrow(/not the same held-out batches/);
    expect(() => pairedBatches(A, bl([[1.5, 10], [2.9, 31], [1.2, 20]]))).toThrow(/batch 1 has 30 tokens vs 31/);
  });

  it('agrees with a brute-force token-level cluster sandwich and, one token per batch, with sd/√B', () => {
    const r = rng(11);
    for (let trial = 0; trial < 5; trial++) {
      // token losses per batch; a batch's loss is their mean
      const tokens = Array.from({ length: 3 + trial }, () => Array.from({ length: 1 + Math.floor(r() * 40) }, () => 8 * r()));
      const batches = tokens.map((ts) => ({ loss: ts.reduce((a, x) => a + x, 0) / ts.length, tokens: ts.length }));
      const all = tokens.flat(), N = all.length, G = tokens.length;
      const L = all.reduce((a, x) => a + x, 0) / N;
      // V = G/(G − 1) · Σ_g (Σ_{i∈g} e_i)² / N², e_i = y_i − L
      const v = (G / (G - 1)) * tokens.reduce((a, ts) => a + ts.reduce((s, y) => s + (y - L), 0) ** 2, 0) / N ** 2;
      expect(weightedLoss(batches)).toBeCloseTo(L, 12);
      expect(clusterStderr(batches)).toBeCloseTo(Math.sqrt(v), 12);
    }
    const xs = [3.1, 2.4, 5.0, 4.2, 3.3];
    expect(clusterStderr(xs.map((loss) => ({ loss, tokens: 1 })))).toBeCloseTo(std(xs) / Math.sqrt(xs.length), 14);
  });

  it('means over models per batch, and the mean of independent estimates', () => {
    const m = meanBatches([A, B]);
    expect(m.map((x) => x.tokens)).toEqual([10, 30, 20]);
    [1.75, 2.95, 1.1].forEach((x, i) => expect(m[i].loss).toBeCloseTo(x, 14));
    expect(weightedLoss(m)).toBeCloseTo((weightedLoss(A) + weightedLoss(B)) / 2, 14);
    expect(meanBatches([A])).toEqual(A);
    expect(() => meanBatches([A, B.slice(0, 2)])).toThrow(/not the same held-out batches/);
    expect(() => meanBatches([])).toThrow();
    expect(independentMeanStderr([0.3, 0.4])).toBeCloseTo(0.25, 14);
    expect(independentMeanStderr([0.2])).toBe(0.2);
  });
});
