// Turns one domain's documents into post-training text and a labelled task, split by group.
import type { DomainBudget, DomainSource, Example, SourceDoc } from './domain.js';
import { rngFor, shuffled, type Rng } from './random.js';
import { dedupKey, overlap, shingles } from './text.js';

export interface DomainStats {
  readonly docs: { readonly train: number; readonly test: number };
  readonly groups: { readonly train: number; readonly test: number };
  /** Test passages dropped because ≥ half their 5-grams occur on the train side (near-copies). */
  readonly nearDuplicatesDropped: number;
  readonly perLabel: Readonly<Record<string, { readonly train: number; readonly test: number }>>;
  /** The groups (chapters, presidents, licence versions) held out for the test side, sorted. */
  readonly testGroups: readonly string[];
}

export interface AssembledDomain {
  readonly trainText: readonly string[];
  readonly taskTrain: readonly Example[];
  readonly taskTest: readonly Example[];
  readonly stats: DomainStats;
}

/** Units per post-training block: short runs keep some discourse while spreading over many documents. */
const blockUnits = 8;
/** A whole document is skipped from post-training when this share of its lines is already in. */
const maxDuplicateShare = 0.5;
const nearDuplicateOverlap = 0.5;

export function assembleDomain(src: DomainSource, budget: DomainBudget, seed: number): AssembledDomain {
  const rng = (purpose: string) => rngFor(seed, `${src.name}/${purpose}`);
  const testGroups = splitGroups(src, budget.testFraction, rng('split'));
  const trainDocs = src.docs.filter((d) => !testGroups.has(d.group));
  const testDocs = src.docs.filter((d) => testGroups.has(d.group));
  const trainText = selectText(trainDocs, budget.trainBytes, src.wholeDocs === true, rng('text'));

  // Train pool: every train-side passage once. Test pool: unseen on the train side, exactly or nearly.
  const trainKeys = new Set<string>();
  const trainPool = uniquePassages(trainDocs, trainKeys);
  const seenShingles = new Set<number>();
  for (const d of trainDocs) for (const t of [...d.units, ...d.passages.map((e) => e.text)]) for (const h of shingles(t)) seenShingles.add(h);
  const testPool = uniquePassages(testDocs, new Set(trainKeys));
  const keptTest = testPool.filter((e) => overlap(e.text, seenShingles) < nearDuplicateOverlap);

  const taskTrain = capPerLabel(trainPool, src.labels, budget.trainPerLabel, rng('task-train'));
  const taskTest = capPerLabel(keptTest, src.labels, budget.testPerLabel, rng('task-test'));
  const perLabel: Record<string, { train: number; test: number }> = {};
  for (const l of src.labels) {
    perLabel[l] = { train: taskTrain.filter((e) => e.label === l).length, test: taskTest.filter((e) => e.label === l).length };
  }
  const groupsOf = (docs: readonly SourceDoc[]) => new Set(docs.map((d) => d.group)).size;
  return {
    trainText,
    taskTrain,
    taskTest,
    stats: {
      docs: { train: trainDocs.length, test: testDocs.length },
      groups: { train: groupsOf(trainDocs), test: groupsOf(testDocs) },
      nearDuplicatesDropped: testPool.length - keptTest.length,
      perLabel,
      testGroups: [...testGroups].sort(),
    },
  };
}

/**
 * Groups for the test side: visit groups in seeded order and move one to test while its main
 * label has less than `fraction` of that label's passages on the test side — but never a
 * label's last train group.
 */
export function splitGroups(src: DomainSource, fraction: number, rng: Rng): Set<string> {
  const counts = new Map<string, Map<string, number>>();           // group -> label -> passages
  for (const d of src.docs) {
    if (d.passages.length === 0) continue;                           // text-only documents stay on train
    const byLabel = counts.get(d.group) ?? new Map<string, number>();
    for (const e of d.passages) byLabel.set(e.label, (byLabel.get(e.label) ?? 0) + 1);
    counts.set(d.group, byLabel);
  }
  const mainLabel = (g: string) => {
    const byLabel = counts.get(g) ?? new Map<string, number>();
    return src.labels.reduce((best, l) => ((byLabel.get(l) ?? 0) > (byLabel.get(best) ?? 0) ? l : best), src.labels[0]);
  };
  const total = new Map<string, number>();
  const trainGroupsLeft = new Map<string, number>();
  for (const [g, byLabel] of counts) {
    for (const [l, n] of byLabel) total.set(l, (total.get(l) ?? 0) + n);
    trainGroupsLeft.set(mainLabel(g), (trainGroupsLeft.get(mainLabel(g)) ?? 0) + 1);
  }
  const onTest = new Map<string, number>();
  const test = new Set<string>();
  for (const g of shuffled([...counts.keys()], rng)) {
    const l = mainLabel(g);
    if ((onTest.get(l) ?? 0) >= fraction * (total.get(l) ?? 0) || (trainGroupsLeft.get(l) ?? 0) <= 1) continue;
    test.add(g);
    trainGroupsLeft.set(l, (trainGroupsLeft.get(l) ?? 0) - 1);
    for (const [label, n] of counts.get(g) ?? []) onTest.set(label, (onTest.get(label) ?? 0) + n);
  }
  return test;
}

/**
 * Post-training lines from train documents up to `bytes`: seeded blocks of consecutive lines
 * (whole documents when `whole`), exact duplicates removed, written back in document order.
 */
export function selectText(docs: readonly SourceDoc[], bytes: number, whole: boolean, rng: Rng): string[] {
  const blocks: { doc: number; start: number; lines: readonly string[] }[] = [];
  docs.forEach((d, doc) => {
    const size = whole ? Math.max(1, d.units.length) : blockUnits;
    for (let start = 0; start < d.units.length; start += size) blocks.push({ doc, start, lines: d.units.slice(start, start + size) });
  });
  const seen = new Set<string>();
  const chosen: { doc: number; start: number; lines: string[] }[] = [];
  let total = 0;
  for (const block of shuffled(blocks, rng)) {
    if (total >= bytes) break;
    const keys = block.lines.map(dedupKey);
    const local = new Set<string>();
    const fresh = block.lines.filter((_, i) => {
      const isNew = keys[i] !== '' && !seen.has(keys[i]) && !local.has(keys[i]);
      local.add(keys[i]);
      return isNew;
    });
    if (whole && fresh.length < (1 - maxDuplicateShare) * block.lines.length) continue;
    const lines = whole ? block.lines.slice() : fresh;                // a licence text stays whole
    keys.forEach((k) => seen.add(k));
    if (lines.length === 0) continue;
    chosen.push({ doc: block.doc, start: block.start, lines });
    total += lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  }
  chosen.sort((a, b) => a.doc - b.doc || a.start - b.start);
  return chosen.flatMap((b) => b.lines);
}

function uniquePassages(docs: readonly SourceDoc[], seen: Set<string>): Example[] {
  const out: Example[] = [];
  for (const d of docs) {
    for (const e of d.passages) {
      const key = dedupKey(e.text);
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
  }
  return out;
}

/** At most `cap` examples per label, drawn without replacement; the result is shuffled. */
function capPerLabel(pool: readonly Example[], labels: readonly string[], cap: number, rng: Rng): Example[] {
  const picked = labels.flatMap((l) => shuffled(pool.filter((e) => e.label === l), rng).slice(0, cap));
  return shuffled(picked, rng);
}
