// What a new user hits first: output directories that hold other settings are refused (finished or
// not, for every command that writes one), naming the setting; logs hold each step once after a
// resume; flags are checked before any work; stray arguments are refused; data problems are named.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseFlags, usage, UsageError } from '../../src/cli/args.js';
import { main } from '../../src/cli/main.js';
import { finetuneFiles } from '../../src/eval/finetune.js';
import { type PosttrainOptions, posttrain } from '../../src/continual/posttrain.js';
import { runSequence } from '../../src/continual/run.js';
import { readCorpus, readSequence, taskReport } from '../../src/data/validate.js';
import { settingsDiff, truncateStepLog } from '../../src/io/out-dir.js';
import { pretrain, type PretrainOptions } from '../../src/train/pretrain.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-first-hour-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => { w = await makeTinyWorld(work, { trainExamples: 24, testExamples: 12 }); });

/** Runs the CLI in-process; returns the exit code and everything written to stdout and stderr. */
async function das(...args: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
  try { return { code: await main(args), text: out.join('') }; } finally { o.mockRestore(); e.mockRestore(); }
}

const steps = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);

describe('flags', () => {
  const specs = {
    lr: { kind: 'number', help: 'x', default: 1e-3, gt: 0 },
    warmup: { kind: 'number', help: 'x', default: 0.1, min: 0, max: 1 },
    model: { kind: 'string', help: 'x', required: true },
    method: { kind: 'string', help: 'x', default: 'das', choices: ['das', 'ncl'] },
    help: { kind: 'boolean', help: 'x' },
  } as const;
  const parse = (...a: string[]) => parseFlags(a, specs, 'demo');

  it('range, choices and required flags are checked by the parser and named', () => {
    expect(() => parse('--model', 'm', '--lr', '-1')).toThrow(/--lr must be positive, got -1/);
    expect(() => parse('--model', 'm', '--warmup', '-1')).toThrow(/--warmup must be ≥ 0 and ≤ 1, got -1/);
    expect(() => parse('--model', 'm', '--method', 'ewc')).toThrow(/--method must be das, ncl; got 'ewc'/);
    expect(() => parse('--lr', '0.1')).toThrow(/--model is required/);
    expect(parse('--help').help).toBe(true);                         // --help needs no required flag
    expect(parse('--model', 'm', '--lr=2e-3').lr).toBe(2e-3);
    expect(usage('demo', 's', specs)).toMatch(/--model <string> {3}\(required\)/);
    expect(usage('demo', 's', specs)).toMatch(/\(positive\)/);
  });

  it('refuses stray positional arguments and single-dash flags', () => {
    expect(() => parse('--model', 'm', 'extra')).toThrow(/unexpected argument 'extra'/);
    expect(() => parse('-model', 'm')).toThrow(/'-model' is not a flag: flags start with two dashes \(did you mean --model\?\)/);
    expect(() => parse('--model', 'm', '-h')).toThrow(UsageError);
  });

  it('every command rejects bad numbers before any work, exit code 2, nothing written', async () => {
    const out = join(work, 'never');
    const cases: [string[], RegExp][] = [
      [['pretrain', '--corpus', 'c', '--out', out, '--lr', '-1'], /--lr must be positive/],
      [['pretrain', '--corpus', 'c', '--out', out, '--weight-decay', '-1'], /--weight-decay must be ≥ 0/],
      [['pretrain', '--corpus', 'c', '--out', out, '--warmup', '-1'], /--warmup must be ≥ 0 and ≤ 1, got -1/],
      [['eval-mlm', '--model', 'm', '--corpus', 'c', '--batch-size', '0'], /--batch-size must be positive/],
      [['eval-mlm', '--model', 'm', '--corpus', 'c', '--max-batches', '-1'], /--max-batches must be ≥ 0/],
      [['run', '--model', 'm', '--out', out, '--held-out', '-1'], /--held-out must be ≥ 0/],
      [['run', '--model', 'm', '--out', out, '--seeds', '11'], /--seeds must be positive and ≤ 10/],
      [['posttrain', '--model', 'm', '--corpus', 'c', '--out', out, '--method', 'bogus'], /--method must be mtl, one, .*, das, das-update; got 'bogus'/],
      [['posttrain', '-model', 'm'], /'-model' is not a flag/],
      [['finetune', '--model', 'm', 'stray'], /unexpected argument 'stray'/],
      [['posttrain', '--corpus', 'c', '--out', out], /--model is required/],
      [['importance', '--model', 'm', '--data', 'd', '--out', out, '--loss', 'kl', '--dropout', '1'], /--dropout must be ≥ 0 and ≤ 0\.999999/],
    ];
    for (const [args, msg] of cases) {
      const r = await das(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.text).toMatch(msg);
      expect(r.text).not.toMatch(/\n\s+at /);   // no stack trace
    }
    expect(existsSync(out)).toBe(false);
  });

  it('das run --domains larger than the sequence is refused', async () => {
    await expect(runSequence({
      sequence: w.sequence, model: w.model, out: join(work, 'dom'), methods: ['ncl'], seeds: [1], domains: 5,
      posttrain: { steps: 1, batchSize: 4, seqLen: 32, lr: 1e-3, importanceSubset: 8, importanceBatchSize: 8 }, finetune: { epochs: 1, lr: 1e-3, batchSize: 8, seqLen: 32 }, backend: cpuBackend, quiet: true,
    })).rejects.toThrow(/--domains 5: .* has only 2 domains/);
    expect(existsSync(join(work, 'dom'))).toBe(false);
  });
});

describe('output directories that hold other settings', () => {
  const pt = (out: string, extra: Partial<PosttrainOptions> = {}): PosttrainOptions => ({
    model: w.model, corpus: join(w.dir, 'sea/train.txt'), out, method: 'ncl', steps: 4, batchSize: 4, seqLen: 32, lr: 1e-3, seed: 3, saveEvery: 2,
    backend: cpuBackend, quiet: true, ...extra,
  });

  it('posttrain: a finished output with other settings is refused, naming them; the same settings return the result', async () => {
    const out = join(work, 'pt');
    const first = await posttrain(pt(out));
    expect(first.trained).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'))).toMatchObject({ method: 'ncl', steps: 4, corpus: join(w.dir, 'sea/train.txt') });
    const model = readFileSync(join(out, 'model/model.safetensors'));
    await expect(posttrain(pt(out, { steps: 5, corpus: join(w.dir, 'farm/train.txt') }))).rejects.toThrow(/other settings:\n {2}corpus: ".*sea\/train.txt" in the directory, ".*farm\/train.txt" now\n {2}steps: 4 in the directory, 5 now/);
    const again = await posttrain(pt(out));
    expect(again).toMatchObject({ trained: false, finalLoss: first.finalLoss, steps: 4 });
    expect(Buffer.compare(readFileSync(join(out, 'model/model.safetensors')), model)).toBe(0);   // nothing lost
    // the CLI says the same, exit code 1, no JSON dump
    const r = await das('posttrain', '--model', w.model, '--corpus', join(w.dir, 'sea/train.txt'), '--out', out, '--method', 'ncl', '--steps', '3', '--batch-size', '4', '--seq-len', '32', '--seed', '3', '--lr', '1e-3', '--backend', 'cpu', '--quiet');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/steps: 4 in the directory, 3 now/);
  });

  it('posttrain: a bad input creates no --out; an --out that is a file is named', async () => {
    const out = join(work, 'pt-bad');
    await expect(posttrain(pt(out, { corpus: join(work, 'nowhere.txt') }))).rejects.toThrow(/cannot read/);
    expect(existsSync(out)).toBe(false);
    await expect(posttrain(pt(out, { seqLen: 500 }))).rejects.toThrow(/positions/);
    expect(existsSync(out)).toBe(false);
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(posttrain(pt(file))).rejects.toThrow(/--out .*a-file is a file, not a directory/);
    const stranger = join(work, 'stranger');
    mkdirSync(stranger);
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    await expect(posttrain(pt(stranger))).rejects.toThrow(/already holds files \(notes\.txt\) but no settings\.json/);
    expect(readFileSync(join(stranger, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('posttrain: after an interruption and a resume, log.jsonl holds every step exactly once', async () => {
    const out = join(work, 'pt-resume');
    const ctl = new AbortController();
    await expect(posttrain(pt(out, { steps: 8, signal: ctl.signal, onStep: (s) => { if (s === 5) ctl.abort(); } }))).rejects.toThrow(/abort/i);
    expect(steps(join(out, 'log.jsonl'))).toEqual([1, 2, 3, 4, 5]);   // checkpoint at 4, step 5 logged after it
    const r = await posttrain(pt(out, { steps: 8 }));
    expect(r.resumedAt).toBe(4);
    expect(steps(join(out, 'log.jsonl'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('pretrain: a finished output with other settings is refused; a bad flag value trains nothing', async () => {
    const o = (out: string, extra: Partial<PretrainOptions> = {}): PretrainOptions => ({
      corpus: join(w.dir, 'farm/train.txt'), out, model: w.model, steps: 2, batchSize: 4, seqLen: 32, lr: 1e-3, warmup: 0, weightDecay: 0.01, seed: 1,
      dropout: true, evalEvery: 2, saveEvery: 2, validBatches: 1, resume: true, backend: cpuBackend, quiet: true, ...extra,
    });
    const out = join(work, 'pre');
    await pretrain(o(out));
    await expect(pretrain(o(out, { weightDecay: 0.1 }))).rejects.toThrow(/weightDecay: 0.01 in the directory, 0.1 now/);
    await expect(pretrain(o(join(work, 'pre-bad'), { lr: -1 }))).rejects.toThrow(/lr must be positive, got -1/);
    expect(existsSync(join(work, 'pre-bad'))).toBe(false);
  });

  it('finetune --out: model, predictions, per-class scores and confusion matrix; other settings refused', async () => {
    const out = join(work, 'ft');
    const o = { model: w.model, taskTrain: join(w.dir, 'sea/task-train.jsonl'), taskTest: join(w.dir, 'sea/task-test.jsonl'), labels: join(w.dir, 'sea/labels.json'), epochs: 2, lr: 3e-3, batchSize: 8, seqLen: 32, seed: 1, backend: cpuBackend, quiet: true, out };
    const r = await finetuneFiles(o);
    for (const f of ['model/model.safetensors', 'model/config.json', 'model/tokenizer.json', 'predictions.jsonl', 'scores.json', 'result.json', 'settings.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const scores = JSON.parse(readFileSync(join(out, 'scores.json'), 'utf8')) as { confusion: { counts: number[][] }; perClass: Record<string, { support: number; f1: number }>; accuracy: number; classCounts: { test: Record<string, number> } };
    const c = scores.confusion.counts;
    expect(c.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect((c[0][0] + c[1][1]) / 12).toBeCloseTo(r.accuracy, 12);
    expect(scores.perClass.north.support).toBe(c[0][0] + c[0][1]);
    expect(scores.classCounts.test).toEqual({ north: 6, south: 6 });
    const preds = readFileSync(join(out, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { correct: boolean });
    expect(preds.filter((p) => p.correct).length / preds.length).toBeCloseTo(r.accuracy, 12);
    expect((await finetuneFiles(o)).accuracy).toBe(r.accuracy);          // finished: returned, not redone
    await expect(finetuneFiles({ ...o, epochs: 3 })).rejects.toThrow(/epochs: 2 in the directory, 3 now/);
  });

  it('das run names the settings that differ', async () => {
    const o = {
      sequence: w.sequence, model: w.model, out: join(work, 'run'), methods: ['ncl'], seeds: [1], domains: 1, matrix: 'full' as const,
      posttrain: { steps: 2, batchSize: 4, seqLen: 32, lr: 1e-3, importanceSubset: 8, importanceBatchSize: 8 }, finetune: { epochs: 1, lr: 1e-3, batchSize: 8, seqLen: 32 }, backend: cpuBackend, quiet: true,
    };
    await runSequence(o);
    const err = await runSequence({ ...o, posttrain: { ...o.posttrain, lr: 2e-3 } }).then(() => '', (e: Error) => e.message);
    expect(err).toMatch(/holds a run with other settings:\n {2}posttrain\.lr: 0\.001 in the directory, 0\.002 now\n/);
    expect(err.length).toBeLessThan(300);
    expect(readFileSync(join(work, 'run/log.txt'), 'utf8')).toMatch(/stage 3\/3 \(ncl farm→farm, seed 1: fine-tuning\) done; all stages done/);
    await runSequence(o);
    expect(readFileSync(join(work, 'run/log.txt'), 'utf8')).toMatch(/das run \(resumed: finished stages are kept, not redone\)/);
  });

  it('settingsDiff and truncateStepLog', async () => {
    expect(settingsDiff({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] }, d: 'x' })).toEqual(['b.c: [1,2] in the directory, [1,3] now', 'd: (not set) in the directory, "x" now']);
    const f = join(work, 'log.jsonl');
    writeFileSync(f, '{"step":1}\n{"step":2}\n{"step":3}\n{"ste');
    expect(await truncateStepLog(f, 2)).toBe(2);
    expect(readFileSync(f, 'utf8')).toBe('{"step":1}\n{"step":2}\n');
  });
});

describe('data a user brings', () => {
  it('a JSON corpus is refused as a text corpus, by extension or by content', () => {
    const j = join(work, 'c.jsonl');
    writeFileSync(j, Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `line ${i} ${'word '.repeat(10)}` })).join('\n'));
    expect(readCorpus(j)).toMatchObject({ ok: false, error: expect.stringMatching(/must be plain text.*\.json\/\.jsonl file/) });
    const t = join(work, 'c.txt');
    writeFileSync(t, readFileSync(j));
    expect(readCorpus(t)).toMatchObject({ ok: false, error: expect.stringMatching(/40 of its first 40 lines are JSON objects/) });
  });

  it('"general" is optional in sequence.json', () => {
    const seq = JSON.parse(readFileSync(w.sequence, 'utf8')) as { general?: unknown; domains: unknown[] };
    delete seq.general;
    const p = join(w.dir, 'no-general.json');
    writeFileSync(p, JSON.stringify(seq));
    const r = readSequence(p);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value.general).toBeUndefined();
    writeFileSync(p, JSON.stringify({ ...seq, general: { valid: 7 } }));
    expect(readSequence(p)).toMatchObject({ ok: false, error: expect.stringMatching(/"general\.valid" must be a non-empty path/) });
  });

  it('warns on labels without examples and on test passages found in the training text; counts classes', () => {
    const ex = (text: string, label: string) => ({ text, label });
    const corpus = ['the cat sat on the mat today in the sun', 'a line that is long enough to be searched inside of the corpus text', 'x'];
    const r = taskReport('pets', ['cat', 'dog', 'fish'], [ex('a', 'cat'), ex('b', 'dog')], [ex('the cat sat on the mat today in the sun', 'cat'), ex('that is long enough to be searched inside of the corpus', 'dog'), ex('new', 'dog')], corpus);
    expect(r.counts).toEqual({ train: { cat: 1, dog: 1, fish: 0 }, test: { cat: 1, dog: 2, fish: 0 } });
    expect(r.warnings).toEqual([
      'pets: label "fish" has no train example',
      'pets: label "fish" has no test example',
      'pets: 2 of 3 test passages also occur in the post-training corpus (leakage: the model reads them before it is tested)',
    ]);
  });
});
