// Held-out MLM loss (src/eval/mlm-eval.ts, evalMlm in src/train/mlm-step.ts): evalMlm's per-batch losses
// and token counts agree with its mean; heldOutLosses caches them next to the losses, readHeldOutBatches
// reads them back, and a cache file written before per-batch losses were recorded is still reused (then
// without them).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E } from '../../src/fp.js';
import { type HeldOut, heldOutLosses, heldOutSets, readHeldOut, readHeldOutBatches } from '../../src/eval/mlm-eval.js';
import { clusterStderr, weightedLoss } from '../../src/eval/stderr.js';
import { loadCheckpoint } from '../../src/io/hf-roberta.js';
import { loadTokenizer } from '../../src/io/tokenizer/index.js';
import { release } from '../../src/tensor/scope.js';
import { evalMlm } from '../../src/train/mlm-step.js';
import { cpuBackend as be } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-mlm-eval-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld, sets: HeldOut[];
beforeAll(async () => {
  w = await makeTinyWorld(work);
  const tok = await loadTokenizer(w.model);
  if (E.isLeft(tok)) throw tok.left;
  const ck = await loadCheckpoint(w.model, be);
  if (E.isLeft(ck)) throw ck.left;
  const domains = w.domains.map((name) => ({ name, train: join(w.dir, name, 'train.txt') }));
  sets = heldOutSets(join(w.dir, 'farm/train.txt'), domains, tok.right, ck.right.cfg.vocabSize, { seqLen: 16, batchSize: 4, maxChunks: 12 });
  release(ck.right.params);
});

describe('held-out MLM loss per batch', () => {
  it('evalMlm returns each batch\'s mean loss and token count, consistent with its mean', async () => {
    const ck = await loadCheckpoint(w.model, be);
    if (E.isLeft(ck)) throw ck.left;
    try {
      for (const s of sets) {
        expect(s.batches.length).toBeGreaterThan(1);
        const r = await evalMlm(ck.right.cfg, ck.right.params, s.batches, be);
        expect(r.batches.length).toBe(s.batches.length);
        expect(r.batches.every((b) => b.tokens > 0 && Number.isFinite(b.loss))).toBe(true);
        expect(r.batches.reduce((a, b) => a + b.tokens, 0)).toBe(r.tokens);
        expect(weightedLoss(r.batches)).toBeCloseTo(r.loss, 12);
        expect(r.batches.reduce((a, b) => a + b.tokens * b.loss, 0) / r.tokens).toBeCloseTo(r.loss, 12);
        expect(r.perplexity).toBeCloseTo(Math.exp(r.loss), 9);
        // one batch at a time gives the same numbers
        const one = await evalMlm(ck.right.cfg, ck.right.params, [s.batches[1]], be);
        expect(one.loss).toBe(r.batches[1].loss);
        expect(one.tokens).toBe(r.batches[1].tokens);
        expect(clusterStderr(r.batches)).toBeGreaterThan(0);
      }
      // a batch without labelled tokens is skipped (as the mean always did)
      const hb = sets[0].batches[0];
      const none = { ...hb, labels: new Int32Array(hb.labels!.length).fill(-100) };
      const r = await evalMlm(ck.right.cfg, ck.right.params, [none, sets[0].batches[1]], be);
      expect(r.batches.length).toBe(1);
      expect(r.loss).toBe(r.batches[0].loss);
    } finally {
      release(ck.right.params);
    }
  });

  it('heldOutLosses caches the per-batch losses; an older cache without them is reused and gives none', async () => {
    const file = join(work, 'cache', 'mlm-eval.json');
    const losses = await heldOutLosses(w.model, sets, file, be);
    const batches = readHeldOutBatches(file)!;
    expect(Object.keys(batches).sort()).toEqual(['farm', 'general', 'sea']);
    for (const s of sets) {
      expect(batches[s.name].length).toBe(s.batches.length);
      expect(weightedLoss(batches[s.name])).toBeCloseTo(losses[s.name], 12);
    }
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { batches: Record<string, [number, number][]>; chunks: Record<string, number> };
    expect(raw.batches.farm[0]).toEqual([batches.farm[0].loss, batches.farm[0].tokens]);
    expect(raw.chunks.farm).toBe(sets.find((s) => s.name === 'farm')!.chunks);
    // an older file: no batches; still reused as it covers the same sets and chunk counts
    const old = join(work, 'old.json');
    const marked = Object.fromEntries(Object.keys(losses).map((k) => [k, 1.25]));
    writeFileSync(old, JSON.stringify({ model: w.model, chunks: raw.chunks, losses: marked }));
    expect(await heldOutLosses(w.model, sets, old, be)).toEqual(marked);
    expect(readHeldOut(old)).toEqual(marked);
    expect(readHeldOutBatches(old)).toBeNull();
    expect(readHeldOutBatches(join(work, 'absent.json'))).toBeNull();
  });
});
