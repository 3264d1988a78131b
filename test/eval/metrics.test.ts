// Evaluation metrics (docs/method.md §8): accuracy, macro-F1 with scikit-learn's semantics, seed averaging,
// the forgetting rate of §8.3 on the hand-made matrix of §11.8, and transfer. Hand-computed values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Matrix, accuracy, averageMatrices, diagonal, finalRow, forgettingRate, macroF1, microF1, perClassF1, transfer,
} from '../../src/eval/metrics.js';

describe('accuracy and macro-F1', () => {
  it('match hand-computed values', () => {
    // class 0: tp 1 → F1 1; class 1: fn 1 → 0; class 2: tp 2, fp 1 → 4/5
    expect(accuracy([0, 1, 2, 2], [0, 2, 2, 2])).toBe(0.75);
    expect(macroF1([0, 1, 2, 2], [0, 2, 2, 2])).toBeCloseTo((1 + 0 + 0.8) / 3, 15);
    expect([...perClassF1([0, 1, 2, 2], [0, 2, 2, 2])]).toEqual([[0, 1], [1, 0], [2, 0.8]]);
  });

  it('reproduce the scikit-learn documentation example (f1_score average="macro" = 0.2666…)', () => {
    expect(macroF1([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1])).toBeCloseTo(0.26666666666666666, 15);
    expect(accuracy([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1])).toBeCloseTo(1 / 3, 15);
  });

  it('average over the classes in y_true ∪ y_pred only', () => {
    // a class only predicted counts (F1 0): (2/3 + 1 + 0) / 3
    expect(macroF1([0, 0, 1, 1], [0, 2, 1, 1])).toBeCloseTo(5 / 9, 15);
    // a class in neither does not count (labels 0 and 2 never occur)
    expect(macroF1([1, 1, 1], [1, 1, 1])).toBe(1);
    // always predicting the majority class: F1 of the other class is 0
    expect(macroF1([0, 0, 0, 1], [0, 0, 0, 0])).toBeCloseTo((6 / 7 + 0) / 2, 15);
  });

  it('micro-F1 equals accuracy for single-label data (the ChemProt "MF1" of the reference)', () => {
    expect(microF1([0, 1, 2, 2], [0, 2, 2, 2])).toBe(0.75);
  });

  it('reject mismatched or empty inputs', () => {
    expect(() => accuracy([0, 1], [0])).toThrow(/2 true labels but 1 predictions/);
    expect(() => macroF1([], [])).toThrow(/no examples/);
  });

  it('properties: in [0, 1], 1 exactly for perfect predictions, invariant under renaming classes', () => {
    const pairs = fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(fc.array(fc.nat(4), { minLength: n, maxLength: n }), fc.array(fc.nat(4), { minLength: n, maxLength: n })));
    fc.assert(fc.property(pairs, fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), ([y, p], shuffleKeys) => {
      const f = macroF1(y, p);
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(1);
      expect(macroF1(y, y)).toBe(1);
      const perm = [0, 1, 2, 3, 4].sort((a, b) => shuffleKeys[a] - shuffleKeys[b] || a - b);
      expect(macroF1(y.map((c) => perm[c]), p.map((c) => perm[c]))).toBeCloseTo(f, 12);
      expect(accuracy(y, p) === 1).toBe(y.every((c, i) => c === p[i]));
    }));
  });
});

describe('forgetting rate (docs/method.md §8.3, §11.8)', () => {
  // 6×6, lower triangle; diagonal 0.80 0.70 0.60 0.90 0.50 0.75; last row 0.70 0.72 0.50 0.85 0.50 0.75
  const A: Matrix = [
    [0.8, null, null, null, null, null],
    [0.78, 0.7, null, null, null, null],
    [0.77, 0.71, 0.6, null, null, null],
    [0.75, 0.7, 0.58, 0.9, null, null],
    [0.72, 0.73, 0.55, 0.88, 0.5, null],
    [0.7, 0.72, 0.5, 0.85, 0.5, 0.75],
  ];

  it('is the mean over k = 0..4 of A[k][k] − A[5][k]', () => {
    // 0.10 − 0.02 + 0.10 + 0.05 + 0.00 = 0.23; / 5
    expect(forgettingRate(A)).toBeCloseTo(0.046, 12);
    expect(diagonal(A)).toEqual([0.8, 0.7, 0.6, 0.9, 0.5, 0.75]);
    expect(finalRow(A)).toEqual([0.7, 0.72, 0.5, 0.85, 0.5, 0.75]);
  });

  it('is negative under backward transfer, null for one domain, and names a missing entry', () => {
    expect(forgettingRate([[0.5, null], [0.6, 0.7]])).toBeCloseTo(-0.1, 12);
    expect(forgettingRate([[0.9]])).toBeNull();
    expect(() => forgettingRate([[0.5, null], [null, 0.7]])).toThrow(/A\[1\]\[0\] is missing/);
  });

  it('is computed on the matrices averaged over seeds first', () => {
    const s1: Matrix = [[0.8, null], [0.6, 0.9]], s2: Matrix = [[0.6, null], [0.6, 0.7]];
    const avg = averageMatrices([s1, s2]);
    expect(avg[0][0]).toBeCloseTo(0.7, 12);
    expect(avg[0][1]).toBeNull();
    expect(avg[1]).toEqual([0.6, expect.closeTo(0.8, 12)]);
    expect(forgettingRate(avg)).toBeCloseTo(0.1, 12);
    // an entry missing in one seed is missing in the average
    expect(averageMatrices([s1, [[0.6, null], [null, 0.7]]])[1][0]).toBeNull();
  });
});

describe('transfer', () => {
  it('is the per-task difference to the reference and its mean', () => {
    const t = transfer([0.8, 0.9], [0.7, 0.95]);
    expect(t.perTask[0]).toBeCloseTo(0.1, 12);
    expect(t.perTask[1]).toBeCloseTo(-0.05, 12);
    expect(t.average).toBeCloseTo(0.025, 12);
    expect(() => transfer([0.8], [0.7, 0.9])).toThrow(/1 scores vs 2/);
  });
});
