// End-task fine-tuning (docs/method.md §2.5, §7.2): a tiny random model learns a trivially separable task
// (which cue word the text contains) far above chance; truncation keeps </s>; same seed, same result;
// CPU and WebGPU agree; bad labels fail clearly; `das finetune` prints the JSON result.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeExample, finetune, finetuneFiles, padBatch } from '../../src/eval/finetune.js';
import { main } from '../../src/cli/main.js';
import { orThrow, readLabels, readTask } from '../../src/data/validate.js';
import { E } from '../../src/fp.js';
import { loadTokenizer } from '../../src/io/tokenizer/index.js';
import { counters } from '../../src/tensor/tensor.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-finetune-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => { w = await makeTinyWorld(work, { trainExamples: 64, testExamples: 32 }); });

const files = () => ({ taskTrain: join(work, 'farm/task-train.jsonl'), taskTest: join(work, 'farm/task-test.jsonl'), labels: join(work, 'farm/labels.json') });
const hyper = { epochs: 20, lr: 3e-3, batchSize: 8, seqLen: 32, seed: 5 };

describe('finetune', () => {
  it('learns a trivially separable task far above chance (cpu), deterministically', async () => {
    const r = await finetuneFiles({ model: w.model, ...files(), ...hyper, backend: cpuBackend, quiet: true });
    expect(r.test).toBe(32);
    expect(r.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(r.macroF1).toBeGreaterThanOrEqual(0.85);
    expect(r.trainLoss[r.trainLoss.length - 1]).toBeLessThan(r.trainLoss[0] - 0.3);
    expect(r.steps).toBe(20 * 8);
    const short = () => finetuneFiles({ model: w.model, ...files(), ...hyper, epochs: 2, backend: cpuBackend, quiet: true });
    const [a, b] = [await short(), await short()];
    expect(b.predictions).toEqual(a.predictions);
    expect(b.trainLoss).toEqual(a.trainLoss);
  });

  it('pads each batch to its longest example and truncates to seqLen keeping </s>', async () => {
    const tok = await loadTokenizer(w.model);
    if (E.isLeft(tok)) throw tok.left;
    const long = encodeExample(tok.right, 'cow barn field tractor hay goat fence harvest seed plough sheep mud', 6);
    expect(long).toHaveLength(6);
    expect(long[0]).toBe(tok.right.specials.bos);
    expect(long[5]).toBe(tok.right.specials.eos);
    const hb = padBatch([[0, 5, 2], [0, 2]], 1);
    expect([hb.B, hb.T]).toEqual([2, 3]);
    expect(Array.from(hb.ids)).toEqual([0, 5, 2, 0, 2, 1]);
    expect(Array.from(hb.attention!)).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it.runIf(gpu !== null)('gives the same training losses on WebGPU as on the CPU', async () => {
    const labels = orThrow(readLabels(files().labels));
    const o = { model: w.model, train: orThrow(readTask(files().taskTrain, labels)).slice(0, 16), test: orThrow(readTask(files().taskTest, labels)), labels, ...hyper, epochs: 2, quiet: true };
    const a = await finetune({ ...o, backend: cpuBackend });
    const b = await finetune({ ...o, backend: gpu! });
    b.trainLoss.forEach((l, i) => expect(l).toBeCloseTo(a.trainLoss[i], 3));
  });

  it('mean pooling learns the task too; a non-finite loss stops with a clear error and leaks nothing', async () => {
    const r = await finetuneFiles({ model: w.model, ...files(), ...hyper, pool: 'mean', backend: cpuBackend, quiet: true });
    expect(r.accuracy).toBeGreaterThanOrEqual(0.85);
    const live = counters.liveTensors;
    await expect(finetuneFiles({ model: w.model, ...files(), ...hyper, lr: 1e30, epochs: 2, backend: cpuBackend, quiet: true }))
      .rejects.toThrow(/training loss became (NaN|Infinity|-Infinity) at step \d+; lower the learning rate/);
    expect(counters.liveTensors).toBe(live);
  });

  it('names an unknown label before training', async () => {
    const bad = join(work, 'bad-test.jsonl');
    writeFileSync(bad, `${JSON.stringify({ text: 'cow apple barn', label: 'apple' })}\n${JSON.stringify({ text: 'cow pear', label: 'pear' })}\n`);
    await expect(finetuneFiles({ model: w.model, ...files(), taskTest: bad, ...hyper, backend: cpuBackend, quiet: true })).rejects.toThrow(/bad-test\.jsonl:2: unknown label "pear"/);
    const labels = orThrow(readLabels(files().labels));
    await expect(finetune({ model: w.model, train: [{ text: 'x', label: 'nope' }], test: [{ text: 'y', label: 'apple' }], labels, ...hyper, backend: cpuBackend, quiet: true }))
      .rejects.toThrow(/training example 0: unknown label "nope"/);
  });

  it('das finetune prints macro-F1 and accuracy as JSON', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
    let code: number;
    try {
      code = await main(['finetune', '--model', w.model, '--task-train', files().taskTrain, '--task-test', files().taskTest, '--labels', files().labels,
        '--epochs', '2', '--lr', '3e-3', '--batch-size', '16', '--seq-len', '32', '--max-test', '8', '--backend', 'cpu', '--quiet']);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const r = JSON.parse(out.join('').trim()) as Record<string, unknown>;
    expect(r).toMatchObject({ backend: 'cpu', test: 8, epochs: 2, classes: 2 });
    expect(typeof r.macroF1).toBe('number');
    expect(r.predictions).toBeUndefined();
  });
});
