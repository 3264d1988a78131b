// Evaluation metrics of the continual protocol (docs/method.md §8): accuracy, macro-F1 with scikit-learn's
// semantics, the progressive matrix A[t][k] averaged over seeds, forgetting rate (§8.3) and transfer.
// Matrices are lower-triangular: A[t][k] is defined for k ≤ t (null elsewhere, or never filled).

export type Matrix = (number | null)[][];

const checkPair = (yTrue: readonly number[], yPred: readonly number[], who: string): void => {
  if (yTrue.length !== yPred.length) throw new Error(`${who}: ${yTrue.length} true labels but ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new Error(`${who}: no examples`);
};

/** Fraction of predictions equal to the true label. */
export function accuracy(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair(yTrue, yPred, 'accuracy');
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return hit / yTrue.length;
}

/** Per-class F1 = 2·tp / (2·tp + fp + fn) (0 when the denominator is 0: sklearn's zero_division=0), by class. */
export function perClassF1(yTrue: readonly number[], yPred: readonly number[]): Map<number, number> {
  checkPair(yTrue, yPred, 'perClassF1');
  const tp = new Map<number, number>(), fp = new Map<number, number>(), fn = new Map<number, number>();
  const inc = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === yPred[i]) inc(tp, yTrue[i]);
    else { inc(fn, yTrue[i]); inc(fp, yPred[i]); }
  }
  const classes = [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  const out = new Map<number, number>();
  for (const c of classes) {
    const t = tp.get(c) ?? 0, d = 2 * t + (fp.get(c) ?? 0) + (fn.get(c) ?? 0);
    out.set(c, d === 0 ? 0 : (2 * t) / d);
  }
  return out;
}

/**
 * scikit-learn `f1_score(average='macro')`: the unweighted mean of per-class F1 over the classes that
 * occur in y_true ∪ y_pred (a class never seen nor predicted does not count).
 */
export function macroF1(yTrue: readonly number[], yPred: readonly number[]): number {
  const f = [...perClassF1(yTrue, yPred).values()];
  return f.reduce((a, b) => a + b, 0) / f.length;
}

/** Confusion matrix C[true][predicted] over `classes` classes (counts). */
export function confusionMatrix(yTrue: readonly number[], yPred: readonly number[], classes: number): number[][] {
  checkPair(yTrue, yPred, 'confusionMatrix');
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    if (!(yTrue[i] >= 0 && yTrue[i] < classes && yPred[i] >= 0 && yPred[i] < classes)) throw new Error(`confusionMatrix: label ${yTrue[i]} or prediction ${yPred[i]} outside 0..${classes - 1}`);
    m[yTrue[i]][yPred[i]]++;
  }
  return m;
}

export interface ClassScore { precision: number; recall: number; f1: number; support: number; predicted: number }

/** Precision, recall and F1 per class from a confusion matrix (0 where undefined: sklearn's zero_division=0). */
export function perClassScores(confusion: readonly (readonly number[])[]): ClassScore[] {
  return confusion.map((row, c) => {
    const tp = row[c], support = row.reduce((a, b) => a + b, 0), predicted = confusion.reduce((a, r) => a + r[c], 0);
    const precision = predicted === 0 ? 0 : tp / predicted, recall = support === 0 ? 0 : tp / support;
    const f1 = support + predicted === 0 ? 0 : (2 * tp) / (support + predicted);
    return { precision, recall, f1, support, predicted };
  });
}

/** Micro-F1 of single-label multi-class data equals accuracy (the reference's ChemProt "MF1", §8.2). */
export const microF1 = accuracy;

/** Element-wise mean over seeds of equally shaped matrices; an entry is null unless every seed has it. */
export function averageMatrices(ms: readonly Matrix[]): Matrix {
  if (ms.length === 0) throw new Error('averageMatrices: no matrices');
  const rows = ms[0].length;
  for (const m of ms) if (m.length !== rows) throw new Error(`averageMatrices: ${m.length} rows vs ${rows}`);
  return ms[0].map((row, t) => row.map((_, k) => {
    const vals = ms.map((m) => m[t]?.[k]);
    return vals.every((v): v is number => typeof v === 'number' && Number.isFinite(v)) ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  }));
}

const entry = (a: Matrix, t: number, k: number, who: string): number => {
  const v = a[t]?.[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${who}: A[${t}][${k}] is missing`);
  return v;
};

/**
 * Forgetting rate (docs/method.md §8.3, ContinualLM tools/forgetting_rate.py) of a T×T matrix (already
 * averaged over seeds): FR = 1/(T−1) · Σ_{k=0}^{T−2} (A[k][k] − A[T−1][k]). Positive = forgetting,
 * negative = backward transfer. Null for a single domain (no earlier task to forget).
 */
export function forgettingRate(a: Matrix): number | null {
  const T = a.length;
  if (T < 2) return null;
  let s = 0;
  for (let k = 0; k <= T - 2; k++) s += entry(a, k, k, 'forgettingRate') - entry(a, T - 1, k, 'forgettingRate');
  return s / (T - 1);
}

/** The last row A[T−1][·] (main-table numbers, §8.2). */
export const finalRow = (a: Matrix): number[] => a[a.length - 1].map((_, k) => entry(a, a.length - 1, k, 'finalRow'));

/** The diagonal A[k][k] (ONE: a separate model per domain, §8.2). */
export const diagonal = (a: Matrix): number[] => a.map((_, k) => entry(a, k, k, 'diagonal'));

export const mean = (xs: readonly number[]): number => {
  if (xs.length === 0) throw new Error('mean: empty');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};

/**
 * Transfer of a method relative to a reference, per end task and on average: scores[k] − reference[k]
 * (e.g. the final row of DAS minus ONE's diagonal, or minus the base model fine-tuned directly).
 * Positive = the continual model beats the reference on that task.
 */
export function transfer(scores: readonly number[], reference: readonly number[]): { perTask: number[]; average: number } {
  if (scores.length !== reference.length) throw new Error(`transfer: ${scores.length} scores vs ${reference.length} reference scores`);
  const perTask = scores.map((s, k) => s - reference[k]);
  return { perTask, average: mean(perTask) };
}
