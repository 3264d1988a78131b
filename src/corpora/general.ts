// The general corpus: a category-stratified sample of Brown documents, split by document.
import { rngFor, shuffled } from './random.js';
import type { BrownDoc } from './sources/brown.js';

export interface GeneralBudget {
  readonly trainBytes: number;
  readonly validBytes: number;
}

export interface GeneralCorpus {
  readonly train: readonly string[];
  readonly valid: readonly string[];
  readonly trainDocs: readonly string[];
  readonly validDocs: readonly string[];
}

const bytesOf = (d: BrownDoc) => d.paragraphs.reduce((n, p) => n + Buffer.byteLength(p) + 1, 0);

/**
 * Documents are interleaved so that every prefix is close to proportional over the 15 genres
 * (doc j of a genre with n docs sits at position (j + 0.5) / n); validation takes the first
 * documents, training the next ones, until each budget is reached.
 */
export function sampleGeneral(docs: readonly BrownDoc[], budget: GeneralBudget, seed: number): GeneralCorpus {
  const byCategory = new Map<string, BrownDoc[]>();
  for (const d of docs) byCategory.set(d.category, [...(byCategory.get(d.category) ?? []), d]);
  const rng = rngFor(seed, 'general/order');
  const keyed = [...byCategory.keys()].sort().flatMap((c) => {
    const list = shuffled(byCategory.get(c) ?? [], rng);
    return list.map((d, j) => ({ d, key: (j + 0.5) / list.length, c }));
  });
  keyed.sort((a, b) => a.key - b.key || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0));
  const valid: BrownDoc[] = [];
  const train: BrownDoc[] = [];
  let validBytes = 0, trainBytes = 0;
  for (const { d } of keyed) {
    if (validBytes < budget.validBytes) { valid.push(d); validBytes += bytesOf(d); }
    else if (trainBytes < budget.trainBytes) { train.push(d); trainBytes += bytesOf(d); }
  }
  const inOrder = (list: BrownDoc[]) => list.slice().sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    train: inOrder(train).flatMap((d) => d.paragraphs),
    valid: inOrder(valid).flatMap((d) => d.paragraphs),
    trainDocs: inOrder(train).map((d) => d.id),
    validDocs: inOrder(valid).map((d) => d.id),
  };
}
