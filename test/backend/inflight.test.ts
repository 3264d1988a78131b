// Work in flight on Dawn under Node. A loop that records training steps and awaits nothing for a
// thousand steps used to die with a bare segmentation fault after a few hundred steps on lavapipe: every
// dispatch created a bind group, which Dawn frees only after the event loop runs, and lavapipe maps memory
// for each, until vm.max_map_count (65,530) ran out (the segfault is in vkCreateDescriptorPool). Now bind
// groups are cached (pool.ts hands out buffers so that a steady loop rebinds the same ones; uniforms are
// dynamic offsets), and the backend waits, synchronously, for the oldest work once maxDispatchesInFlight
// are in flight, so Dawn's memory for unfinished work stays flat too.
//
// Cost on the 2-core lavapipe machine: the 10,000-step loop (bench's tiny model, batch 2 × 16 tokens,
// 111 dispatches a step, 1.1 M in all, ten stretches of 111,000 without an event-loop turn where ~65,000
// crashed before) takes 95–160 s (measured while other jobs shared the 2 cores; ~13 ms a step, nearly
// all lavapipe's per-dispatch cost, so a smaller model or batch saves little); DAS_INFLIGHT_STEPS=N runs
// N steps instead (the assertions need N >= 2,000).
import { describe, expect, it } from 'vitest';
import { add, fromArray, memoryStats, readScalar, release, toArray } from '../../src/index.js';
import type { HostBatch } from '../../src/nn/mlm.js';
import { parseConfig } from '../../src/nn/config.js';
import { initParams } from '../../src/nn/params.js';
import { adamwDefaults, adamwInit } from '../../src/optim/adamw.js';
import { key } from '../../src/ops/random.js';
import { type TrainState, mlmTrainStep } from '../../src/train/mlm-step.js';
import { gpu } from '../support/devices.js';

const STEPS = Number(process.env.DAS_INFLIGHT_STEPS ?? 10_000);
const SYNC_EVERY = 1000;

/** bench's tiny model (cases.ts TINY_MODEL): V 100, D 32, 2 heads, F 64, 1 layer; dropout off. */
function tinyModel() {
  const c = parseConfig({
    model_type: 'roberta', vocab_size: 100, hidden_size: 32, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 64,
    max_position_embeddings: 18, layer_norm_eps: 1e-5, type_vocab_size: 1, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
    hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  });
  if (c._tag === 'Left') throw c.left;
  return c.right;
}

/** B sequences of T tokens (<s> … </s>, no padding), every third inner token labelled. */
function batch(B: number, T: number, vocab: number): HostBatch {
  let s = 7;
  const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const ids = new Int32Array(B * T), labels = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      ids[i] = t === 0 ? 0 : t === T - 1 ? 2 : 5 + Math.floor(next() * (vocab - 5));
      if (t > 0 && t < T - 1 && t % 3 === 1) { labels[i] = ids[i]; ids[i] = 4; } // <mask>
    }
  }
  return { B, T, ids, attention: new Int32Array(B * T).fill(1), labels };
}

describe.skipIf(!gpu)('work in flight (Dawn under Node)', () => {
  it(`a ${STEPS.toLocaleString('en')}-step training loop that reads nothing, synced every ${SYNC_EVERY.toLocaleString('en')} steps: no crash, memory flat, loss finite`, async () => {
    const be = gpu!;
    const cfg = tinyModel();
    const hb = batch(2, 16, cfg.vocabSize);
    const params = initParams(cfg, key(1), be, { mlm: true });
    let s: TrainState = { params, opt: adamwInit(params) };
    await be.sync();
    const bound = be.maxDispatchesInFlight + be.maxDispatchesPerSubmit;
    let maxInFlight = 0;
    let first = NaN, last = NaN;
    const at: Record<number, { live: number; tensors: number; created: number; bindGroups: number }> = {};
    const waits0 = be.counters.waits;
    for (let i = 1; i <= STEPS; i++) {
      const [next, l] = mlmTrainStep(cfg, s, hb, 1e-3, adamwDefaults, null, be);
      release(s);
      s = next;
      if (i === 1) first = await readScalar(l); // the only reads: the first step's loss and the last's
      if (i === STEPS) last = await readScalar(l);
      release(l);
      maxInFlight = Math.max(maxInFlight, be.stats().dispatchesInFlight);
      if (i % SYNC_EVERY === 0) {
        await be.sync();
        const m = memoryStats(be);
        at[i] = { live: m.liveBytes, tensors: m.liveTensors, created: m.pool!.created, bindGroups: be.counters.bindGroups };
      }
    }
    release(s);
    const end = Math.floor(STEPS / SYNC_EVERY) * SYNC_EVERY;
    // Flat from the first sync to the last: tensors, bytes, GPU buffers, and no new bind groups.
    expect(at[end]).toEqual(at[SYNC_EVERY]);
    expect(maxInFlight).toBeLessThanOrEqual(bound);
    expect(be.counters.waits).toBeGreaterThan(waits0); // the bound was reached and waited on
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
  }, 600_000);

  it('50,000 one-dispatch ops recorded without awaiting: in flight stays bounded, the result is exact', async () => {
    const be = gpu!;
    const x = fromArray(new Array(64).fill(0), [64], { backend: be });
    await be.sync();
    const bound = be.maxDispatchesInFlight + be.maxDispatchesPerSubmit;
    const bindGroups0 = be.counters.bindGroups;
    let maxInFlight = 0;
    let y = x;
    for (let i = 0; i < 50_000; i++) {
      const z = add(y, 1);
      if (y !== x) y.dispose();
      y = z;
      if ((i & 63) === 0) maxInFlight = Math.max(maxInFlight, be.stats().dispatchesInFlight);
    }
    const out = await toArray(y);
    release(x, y);
    expect(out.every((v) => v === 50_000)).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(bound);
    // Two buffers alternate and the uniforms land at the same arena offsets: a few hundred bind groups, not 50,000.
    expect(be.counters.bindGroups - bindGroups0).toBeLessThan(1000);
  }, 300_000);
});
