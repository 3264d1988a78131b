// The committed data is well-formed and leak-free; the validators reject bad files with clear errors.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { orThrow, readCorpus, readLabels, readSequence, readTask } from '../../src/data/validate.js';

const dataDir = fileURLToPath(new URL('../../data', import.meta.url));
const sequence = orThrow(readSequence(join(dataDir, 'sequence.json')));

describe('committed data', () => {
  it('lists the four default domains in order', () => {
    expect(sequence.domains.map((d) => d.name)).toEqual(['licences', 'bible', 'sotu', 'austen']);
  });

  it('has a non-empty UTF-8 general corpus with train and validation parts', () => {
    expect(orThrow(readCorpus(sequence.general.train)).length).toBeGreaterThan(1000);
    expect(orThrow(readCorpus(sequence.general.valid)).length).toBeGreaterThan(50);
  });

  it('matches the SHA-256 of every file recorded in the manifest', () => {
    const manifest = JSON.parse(readFileSync(join(dataDir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
    expect(Object.keys(manifest.files).length).toBeGreaterThan(15);
    for (const [rel, f] of Object.entries(manifest.files)) {
      expect(createHash('sha256').update(readFileSync(join(dataDir, rel))).digest('hex'), rel).toBe(f.sha256);
    }
  });

  describe.each(sequence.domains.map((d) => [d.name, d] as const))('%s', (_name, domain) => {
    const labels = orThrow(readLabels(domain.labels));
    const trainText = orThrow(readCorpus(domain.train));
    const taskTrain = orThrow(readTask(domain.taskTrain, labels));
    const taskTest = orThrow(readTask(domain.taskTest, labels));

    it('has labelled examples for every label on both sides', () => {
      for (const l of labels) {
        expect(taskTrain.filter((e) => e.label === l).length, `train ${l}`).toBeGreaterThanOrEqual(30);
        expect(taskTest.filter((e) => e.label === l).length, `test ${l}`).toBeGreaterThanOrEqual(30);
      }
    });

    it('keeps test passages out of the post-training text and the task train set', () => {
      const text = trainText.join('\n');
      const trainSet = new Set(taskTrain.map((e) => e.text));
      const leaked = taskTest.filter((e) => text.includes(e.text) || trainSet.has(e.text));
      expect(leaked.map((e) => e.text.slice(0, 80))).toEqual([]);
    });

    it('holds ~350 KB of post-training text', () => {
      const bytes = Buffer.byteLength(trainText.join('\n'));
      expect(bytes).toBeGreaterThan(250_000);
      expect(bytes).toBeLessThan(500_000);
    });
  });
});

describe('validators', () => {
  const dir = mkdtempSync(join(tmpdir(), 'das-validate-'));
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const errorOf = (r: { ok: boolean; error?: string }) => (r.ok ? 'ok' : r.error);
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

  it('rejects an empty or blank corpus', () => {
    expect(errorOf(readCorpus(file('empty.txt', '')))).toMatch(/empty\.txt: file is empty/);
    expect(errorOf(readCorpus(file('blank.txt', '\n \n')))).toMatch(/blank\.txt: file is empty/);
  });

  it('rejects invalid UTF-8 and names the line', () => {
    const bad = Buffer.concat([Buffer.from(`${words(200)}\nok line\n`), Buffer.from([0x61, 0xc3, 0x28, 0x0a])]);
    expect(errorOf(readCorpus(file('latin.txt', bad)))).toMatch(/latin\.txt:3: not valid UTF-8/);
  });

  it('rejects a corpus shorter than one chunk', () => {
    expect(errorOf(readCorpus(file('short.txt', 'just a few words\n')))).toMatch(/short\.txt: 4 words, shorter than one chunk/);
    expect(readCorpus(file('long.txt', `${words(200)}\n`)).ok).toBe(true);
  });

  it('reports a missing file', () => {
    expect(errorOf(readCorpus(join(dir, 'nope.txt')))).toMatch(/nope\.txt: cannot read/);
  });

  it('rejects unknown labels, missing fields and bad JSON in task files', () => {
    const good = '{"text":"a b c","label":"x"}';
    expect(errorOf(readTask(file('unknown.jsonl', `${good}\n{"text":"d","label":"z"}\n`), ['x', 'y']))).toMatch(
      /unknown\.jsonl:2: unknown label "z" \(expected one of: x, y\)/,
    );
    expect(errorOf(readTask(file('nolabel.jsonl', '{"text":"d"}\n')))).toMatch(/nolabel\.jsonl:1: missing field "label"/);
    expect(errorOf(readTask(file('notext.jsonl', `${good}\n\n{"label":"x"}\n`)))).toMatch(/notext\.jsonl:3: missing field "text"/);
    expect(errorOf(readTask(file('numlabel.jsonl', '{"text":"d","label":3}\n')))).toMatch(/field "label" must be a non-empty string/);
    expect(errorOf(readTask(file('json.jsonl', '{"text":\n')))).toMatch(/json\.jsonl:1: invalid JSON/);
    expect(errorOf(readTask(file('empty.jsonl', '')))).toMatch(/file is empty/);
    expect(readTask(file('good.jsonl', `${good}\n`), ['x']).ok).toBe(true);
  });

  it('rejects duplicate labels and duplicate domains', () => {
    expect(errorOf(readLabels(file('labels.json', '["a","b","a"]')))).toMatch(/duplicate label "a"/);
    const d = (name: string) => ({ name, train: 't', taskTrain: 'a', taskTest: 'b', labels: 'l' });
    const seq = { general: { train: 'g', valid: 'v' }, domains: [d('law'), d('bible'), d('law')] };
    expect(errorOf(readSequence(file('seq.json', JSON.stringify(seq))))).toMatch(/duplicate domain "law" \(domains\[0\] and domains\[2\]\)/);
    const missing = { general: { train: 'g', valid: 'v' }, domains: [{ name: 'x', train: 't' }] };
    expect(errorOf(readSequence(file('seq2.json', JSON.stringify(missing))))).toMatch(/domains\[0\] lacks a string field "taskTrain"/);
  });
});
