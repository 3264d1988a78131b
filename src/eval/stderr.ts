// Standard errors of held-out MLM losses (src/eval/mlm-eval.ts). A held-out loss is a token-weighted
// mean over masked batches, L = Σ_b n_b l_b / Σ_b n_b, where l_b is batch b's mean loss over its n_b
// labelled tokens. Tokens of one batch are not independent (same texts, same model), so the batches are
// the sampling units (clusters) and L is a ratio estimator; its standard error, with the usual
// small-sample factor B/(B − 1), is
//
//   SE(L) = sqrt( B/(B − 1) · Σ_b n_b² (l_b − L)² ) / Σ_b n_b.
//
// Every model is evaluated on the same masked batches (the masking is fixed per held-out text), so a
// difference of two losses on one text (model A − model B, or one method's loss after the last domain
// − after domain k) is paired: d_b = l_b^A − l_b^B with the shared n_b, whose weighted mean is L^A − L^B
// exactly, and the same formula on d_b gives its standard error (much smaller than either loss's when
// the two models agree on which batches are hard). Likewise a mean over models evaluated on the same
// batches (seeds) is the weighted mean of the per-batch means, and its standard error comes from those.
// Estimates on different held-out texts (different domains) are independent: the mean of K of them has
// SE sqrt(Σ_k se_k²) / K.
//
// Pure functions over plain numbers; batches without labelled tokens carry no weight and are skipped.

/** One batch's mean MLM loss over its `tokens` labelled tokens. */
export interface BatchLoss { loss: number; tokens: number }

const scored = (bs: readonly BatchLoss[]): BatchLoss[] => bs.filter((b) => b.tokens > 0);

/** Σ n_b l_b / Σ n_b over the batches with tokens; NaN when none has any. */
export function weightedLoss(bs: readonly BatchLoss[]): number {
  let s = 0, n = 0;
  for (const b of scored(bs)) { s += b.tokens * b.loss; n += b.tokens; }
  return n > 0 ? s / n : NaN;
}

/**
 * Standard error of weightedLoss(bs), batches as clusters (ratio estimator):
 * sqrt(B/(B − 1) · Σ_b n_b² (l_b − L)²) / Σ_b n_b over the B batches with tokens. NaN with fewer than two
 * such batches (one cluster says nothing about the spread).
 */
export function clusterStderr(bs: readonly BatchLoss[]): number {
  const xs = scored(bs), B = xs.length;
  if (B < 2) return NaN;
  const L = weightedLoss(xs);
  let ss = 0, n = 0;
  for (const b of xs) { ss += (b.tokens * (b.loss - L)) ** 2; n += b.tokens; }
  return Math.sqrt((B / (B - 1)) * ss) / n;
}

/** Throws unless `a` and `b` are the same batches (same number, same token counts in order). */
function checkSame(a: readonly BatchLoss[], b: readonly BatchLoss[], who: string): void {
  if (a.length !== b.length) throw new Error(`${who}: ${a.length} batches vs ${b.length}: not the same held-out batches`);
  for (let i = 0; i < a.length; i++) {
    if (a[i].tokens !== b[i].tokens) throw new Error(`${who}: batch ${i} has ${a[i].tokens} tokens vs ${b[i].tokens}: not the same held-out batches`);
  }
}

/** Per-batch differences d_b = a_b − b_b with the shared token counts (a paired difference; throws unless the batches are the same). */
export function pairedBatches(a: readonly BatchLoss[], b: readonly BatchLoss[]): BatchLoss[] {
  checkSame(a, b, 'pairedBatches');
  return a.map((x, i) => ({ loss: x.loss - b[i].loss, tokens: x.tokens }));
}

/** L^A − L^B and its paired standard error (clusterStderr of the per-batch differences). */
export function pairedDifference(a: readonly BatchLoss[], b: readonly BatchLoss[]): { mean: number; stderr: number } {
  const d = pairedBatches(a, b);
  return { mean: weightedLoss(d), stderr: clusterStderr(d) };
}

/**
 * Per-batch mean over several models evaluated on the same batches (e.g. the seeds of a method): its
 * weighted mean is the mean of the models' losses, and its clusterStderr the standard error of that
 * mean (the models share the batches, so their errors are not independent). Throws unless the batch
 * lists match.
 */
export function meanBatches(xs: readonly (readonly BatchLoss[])[]): BatchLoss[] {
  if (xs.length === 0) throw new Error('meanBatches: no batch lists');
  for (const x of xs) checkSame(xs[0], x, 'meanBatches');
  return xs[0].map((b, i) => ({ loss: xs.reduce((s, x) => s + x[i].loss, 0) / xs.length, tokens: b.tokens }));
}

/** Standard error of the mean of K independent estimates with standard errors `ses`: sqrt(Σ se²) / K. */
export function independentMeanStderr(ses: readonly number[]): number {
  if (ses.length === 0) throw new Error('independentMeanStderr: no estimates');
  return Math.sqrt(ses.reduce((s, x) => s + x * x, 0)) / ses.length;
}
