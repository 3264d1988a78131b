// MLM data pipeline: chunking (group_texts), the seeded 80/10/10 collator, JSON-lines replay, and
// resumable batch streams. The tokenizer is a 2k-vocabulary BPE trained on the committed Brown text.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { E } from '../../src/fp.js';
import { trainBpe } from '../../src/io/tokenizer/index.js';
import { IGNORE } from '../../src/nn/mlm.js';
import { foldIn, key, type Key } from '../../src/ops/random.js';
import { BatchStream, chunkCorpus, mlmCollate, permutation, splitValid, stepKey, type MlmBatch } from '../../src/data/mlm-data.js';
import { batchesOf, parseJsonl, readJsonl, readJsonlBatches, readJsonlExamples } from '../../src/data/mlm-jsonl.js';

const lines = readFileSync('data/general/train.txt', 'utf8').split('\n');
const tok = trainBpe(lines, { vocabSize: 2000 });
const { bos, eos, pad, mask } = tok.specials;
const T = 164;
const V = tok.vocabSize;
const collate = (rows: readonly Int32Array[], k: Key, prob?: number): MlmBatch => mlmCollate(rows, tok, V, k, { prob }).batch;
const chunks = chunkCorpus(lines, tok, { seqLen: T });

/** group_texts written the obvious way: per group, concatenate everything, keep whole chunks. */
function oracleChunks(text: string[], seqLen: number, groupSize: number): number[][] {
  const kept = text.filter((l) => l.trim() !== '');
  const out: number[][] = [];
  for (let g = 0; g < kept.length; g += groupSize) {
    const flat = kept.slice(g, g + groupSize).flatMap((l) => tok.encode(l));
    for (let c = 0; c + seqLen <= flat.length; c += seqLen) out.push(flat.slice(c, c + seqLen));
  }
  return out;
}

const arbLine = fc.oneof(fc.constantFrom(...lines.slice(0, 50)), fc.constantFrom('', '   '), fc.string({ maxLength: 20 }));

describe('chunkCorpus', () => {
  it('agrees with the obvious group_texts on random corpora', () => {
    fc.assert(fc.property(fc.array(arbLine, { maxLength: 30 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), (text, seqLen, groupSize) => {
      const got = chunkCorpus(text, tok, { seqLen, groupSize });
      expect(got.every((c) => c.length === seqLen)).toBe(true);
      expect(got.map((c) => [...c])).toEqual(oracleChunks(text, seqLen, groupSize));
    }));
  });

  it('drops the remainder of each group, so a new group starts with <s>', () => {
    const text = ['one two three', 'four five', 'six seven eight nine', 'ten'];
    const n = text.map((l) => tok.encode(l).length);
    const seqLen = 3;
    const got = chunkCorpus(text, tok, { seqLen, groupSize: 2 });
    const first = Math.floor((n[0] + n[1]) / seqLen);
    expect(got.length).toBe(first + Math.floor((n[2] + n[3]) / seqLen));
    expect(got[first][0]).toBe(bos);
    expect([...got[first]]).toEqual(tok.encode(text[2]).slice(0, seqLen));
  });

  it('cuts Brown into 164-token chunks with interior </s> <s> pairs and no padding', () => {
    expect(chunks.length).toBeGreaterThan(1000);
    expect(chunks.every((c) => c.length === T && !c.includes(pad))).toBe(true);
    const pairs = (c: Int32Array) => c.findIndex((id, t) => t > 0 && id === bos && c[t - 1] === eos);
    expect(chunks.filter((c) => pairs(c) > 0).length).toBeGreaterThan(chunks.length / 2);
    expect(chunks.some((c) => c[0] !== bos)).toBe(true);
  });

  it('skips blank lines without counting them towards a group', () => {
    const text = lines.slice(0, 40);
    const blanks = text.flatMap((l) => [l, '', '  \t']);
    const plain = chunkCorpus(text, tok, { seqLen: 16, groupSize: 7 });
    expect(chunkCorpus(blanks, tok, { seqLen: 16, groupSize: 7 })).toEqual(plain);
  });

  it('rejects a non-positive sequence length or group size', () => {
    expect(() => chunkCorpus(['a'], tok, { seqLen: 0 })).toThrow(/seqLen/);
    expect(() => chunkCorpus(['a'], tok, { seqLen: 4, groupSize: 1.5 })).toThrow(/groupSize/);
  });
});

describe('splitValid', () => {
  it('takes the first round(5 % of n) lines, rounding half to even like datasets', () => {
    const n = (k: number) => Array.from({ length: k }, (_, i) => i);
    expect(splitValid(n(100)).valid).toEqual(n(5));
    expect(splitValid(n(10)).valid).toEqual([]); // 0.5 → 0
    expect(splitValid(n(30)).valid).toEqual([0, 1]); // 1.5 → 2
    expect(splitValid(n(2640)).train.length).toBe(2640 - 132);
  });
});

/** Per-position classes of a collated batch. */
function tally(hb: MlmBatch) {
  let tokens = 0, selected = 0, masked = 0, random = 0, kept = 0;
  for (let i = 0; i < hb.ids.length; i++) {
    const o = hb.originalIds[i];
    if (o === bos || o === eos || o === pad) continue;
    tokens++;
    if (hb.labels[i] === IGNORE) continue;
    selected++;
    if (hb.ids[i] === mask) masked++;
    else if (hb.ids[i] === o) kept++;
    else random++;
  }
  return { tokens, selected, masked, random, kept };
}

describe('mlmCollate', () => {
  it('selects ≈ 15 % of non-special tokens and splits them ≈ 80/10/10', () => {
    const hb = collate(chunks, key(7));
    const s = tally(hb);
    expect(s.tokens).toBeGreaterThan(250_000);
    expect(s.selected / s.tokens).toBeCloseTo(0.15, 2);
    expect(s.masked / s.selected).toBeGreaterThan(0.79);
    expect(s.masked / s.selected).toBeLessThan(0.81);
    // a random draw equal to the original (1 in 2000) counts as kept
    expect(Math.abs(s.random / s.selected - 0.1)).toBeLessThan(0.007);
    expect(Math.abs(s.kept / s.selected - 0.1)).toBeLessThan(0.007);
  });

  it('draws random replacements uniformly over the whole vocabulary, specials included', () => {
    const hb = collate(chunks, key(8));
    const drawn: number[] = [];
    hb.ids.forEach((id, i) => { if (hb.labels[i] !== IGNORE && id !== mask && id !== hb.originalIds[i]) drawn.push(id); });
    const mean = drawn.reduce((a, b) => a + b, 0) / drawn.length;
    expect(mean / tok.vocabSize).toBeCloseTo(0.5, 1);
    expect(Math.min(...drawn)).toBeLessThan(40);
    expect(Math.max(...drawn)).toBeGreaterThan(tok.vocabSize - 40);
  });

  it('never selects <s>, </s> or <pad>; labels are the original id where selected, −100 elsewhere', () => {
    const arbId = fc.oneof(fc.constantFrom(bos, eos, pad), fc.integer({ min: 0, max: tok.vocabSize - 1 }));
    const arbRows = fc.integer({ min: 1, max: 30 }).chain((len) => fc.array(fc.array(arbId, { minLength: len, maxLength: len }), { minLength: 1, maxLength: 6 }));
    fc.assert(fc.property(arbRows, fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), (ids, seed, prob) => {
      const rows = ids.map((r) => Int32Array.from(r));
      const hb = collate(rows, key(seed), prob);
      expect([hb.B, hb.T]).toEqual([rows.length, rows[0].length]);
      expect(hb.originalIds).toEqual(Int32Array.from(rows.flatMap((r) => [...r])));
      hb.originalIds.forEach((o, i) => {
        if (o === bos || o === eos || o === pad) expect(hb.labels[i]).toBe(IGNORE);
        if (hb.labels[i] === IGNORE) expect(hb.ids[i]).toBe(o);
        else expect(hb.labels[i]).toBe(o);
        expect(hb.attention[i]).toBe(o === pad ? 0 : 1);
      });
    }), { numRuns: 30 });
  });

  it('selects nothing at prob 0 and every non-special token at prob 1', () => {
    const few = chunks.slice(0, 20);
    expect(tally(collate(few, key(1), 0)).selected).toBe(0);
    const all = tally(collate(few, key(1), 1));
    expect(all.selected).toBe(all.tokens);
  });

  it('is a pure function of the key', () => {
    const few = chunks.slice(0, 50);
    expect(collate(few, foldIn(key(3), 9))).toEqual(collate(few, foldIn(key(3), 9)));
    expect(collate(few, foldIn(key(3), 9)).labels).not.toEqual(collate(few, foldIn(key(3), 10)).labels);
  });

  it('rejects chunks of different lengths', () => {
    expect(() => mlmCollate([new Int32Array(4), new Int32Array(5)], tok, V, key(0))).toThrow(/chunk 1 has 5 tokens/);
  });

  it('returns the uncorrupted ids beside the batch', () => {
    const r = mlmCollate(chunks.slice(0, 3), tok, V, key(2));
    expect(r.originalIds).toBe(r.batch.originalIds);
    expect(r.originalIds).toEqual(Int32Array.from(chunks.slice(0, 3).flatMap((c) => [...c])));
  });
});

describe('JSON lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlm-jsonl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const fileWith = (text: string): string => {
    const path = join(dir, `f${files++}.jsonl`);
    writeFileSync(path, text);
    return path;
  };
  const row = (a: Int32Array, T: number, b: number) => [...a.subarray(b * T, (b + 1) * T)];
  const toLine = (hb: MlmBatch, b: number) =>
    JSON.stringify({ input_ids: row(hb.ids, hb.T, b), attention_mask: row(hb.attention, hb.T, b), labels: row(hb.labels, hb.T, b) });

  it('replays collated batches exactly, original ids rebuilt from the labels', () => {
    const hb = collate(chunks.slice(0, 10), key(11));
    const path = fileWith(Array.from({ length: 10 }, (_, b) => toLine(hb, b)).join('\n') + '\n');
    expect(readJsonlBatches(path, 10, pad, { vocabSize: V })).toEqual(E.right([hb]));
    const split = readJsonlBatches(path, 4);
    expect(E.isRight(split) && split.right.map((x) => x.B)).toEqual([4, 4, 2]);
  });

  it('defaults attention to ones and labels to −100, and pads each batch to its longest example', () => {
    const r = parseJsonl('{"input_ids": [0, 5, 2]}\n\n{"input_ids": [0, 7, 8, 9, 2], "labels": [-100, 7, -100, -100, -100]}\n{"input_ids": [0, 2]}', 'x.jsonl');
    if (E.isLeft(r)) throw r.left;
    const [a, b] = r.right;
    expect([...a.attention]).toEqual([1, 1, 1]);
    expect(a.labels).toBeUndefined();
    const [hb, last] = batchesOf(r.right, 2, pad);
    expect([hb.B, hb.T, last.B, last.T]).toEqual([2, 5, 1, 2]);
    expect([...hb.ids]).toEqual([0, 5, 2, pad, pad, ...b.ids]);
    expect([...hb.attention]).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect([...hb.labels]).toEqual([...Array(5).fill(IGNORE), IGNORE, 7, IGNORE, IGNORE, IGNORE]);
    expect([...hb.originalIds]).toEqual([...hb.ids]);
  });

  it('keeps original ids given as inputs_ori_ids', () => {
    const ex = readJsonlExamples(fileWith('{"input_ids": [0, 4, 2], "inputs_ori_ids": [0, 9, 2]}'));
    expect([...batchesOf(ex, 1)[0].originalIds]).toEqual([0, 9, 2]);
  });

  const errors: [string, string, RegExp][] = [
    ['malformed JSON', '{"input_ids": [0, 1]}\n{"input_ids": [0, 1\n', /line 2: malformed JSON/],
    ['not an object', '[0, 1, 2]', /line 1: a line must hold a JSON object/],
    ['missing input_ids', '{"labels": [1]}', /line 1: missing "input_ids"/],
    ['empty input_ids', '{"input_ids": []}', /line 1: "input_ids" is empty/],
    ['non-integer id', '{"input_ids": [0, 1.5, 2]}', /line 1: input_ids\[1\] = 1.5 is not an integer/],
    ['string id', '{"input_ids": [0, "7"]}', /input_ids\[1\] = "7" is not an integer/],
    ['id outside the vocabulary', '\n{"input_ids": [0, 2000]}', /line 2: input_ids\[1\] = 2000 is outside the vocabulary of 2000/],
    ['negative id', '{"input_ids": [-1]}', /input_ids\[0\] = -1 is negative/],
    ['label outside the vocabulary', '{"input_ids": [0, 1], "labels": [-100, 5000]}', /labels\[1\] = 5000 is outside/],
    ['attention not 0/1', '{"input_ids": [0, 1], "attention_mask": [1, 2]}', /attention_mask\[1\] = 2 is not 0 or 1/],
    ['length mismatch', '{"input_ids": [0, 1, 2], "attention_mask": [1, 1]}', /"attention_mask" has 2 entries, "input_ids" has 3/],
    ['labels length mismatch', '{"input_ids": [0, 1], "labels": [1, 1, 1]}', /"labels" has 3 entries/],
    ['no examples', '\n\n', /no examples/],
  ];
  for (const [what, text, message] of errors) {
    it(`names the file and line for: ${what}`, () => {
      const path = fileWith(text);
      const r = readJsonl(path, { vocabSize: V });
      expect(E.isLeft(r)).toBe(true);
      if (E.isLeft(r)) {
        expect(r.left.message).toContain(path);
        expect(r.left.message).toMatch(message);
      }
      expect(() => readJsonlExamples(path, { vocabSize: V })).toThrow(message);
    });
  }

  it('reports a missing file as an IoError', () => {
    const r = readJsonlBatches(join(dir, 'absent.jsonl'), 4);
    expect(E.isLeft(r) && r.left.message).toMatch(/absent\.jsonl: cannot read file \(ENOENT\)/);
  });
});

describe('BatchStream', () => {
  const few = chunks.slice(0, 103);
  const seed = 5;
  /** A training loop's batch of step s: chunk order from the stream, masks from (seed, s). */
  const batchAt = (stream: BatchStream, s: number): MlmBatch => collate(stream.indicesAt(s).map((i) => few[i]), stepKey(seed, s));

  it('a resumed run sees exactly the batches of an uninterrupted one', () => {
    const straight = new BatchStream(few.length, 10, seed);
    const batches = Array.from({ length: 30 }, (_, s) => batchAt(straight, s));
    const resumed = new BatchStream(few.length, 10, seed);
    for (let s = 17; s < 30; s++) expect(batchAt(resumed, s)).toEqual(batches[s]);
    fc.assert(fc.property(fc.array(fc.nat({ max: 200 }), { maxLength: 20 }), (steps) => {
      const fresh = new BatchStream(few.length, 10, seed);
      for (const s of steps) expect(fresh.indicesAt(s)).toEqual(new BatchStream(few.length, 10, seed).indicesAt(s));
    }));
  });

  it('visits every chunk once per epoch, in a new order each epoch, the last batch partial', () => {
    const stream = new BatchStream(few.length, 10, seed);
    expect(stream.stepsPerEpoch).toBe(11);
    const epoch = (e: number) => Array.from({ length: 11 }, (_, j) => stream.indicesAt(e * 11 + j)).flat();
    const all = few.map((_, i) => i);
    const [e0, e1] = [epoch(0), epoch(1)];
    expect([...e0].sort((a, b) => a - b)).toEqual(all);
    expect([...e1].sort((a, b) => a - b)).toEqual(all);
    expect(e0).not.toEqual(e1);
    expect(e0).not.toEqual(all);
    expect(stream.indicesAt(10)).toHaveLength(3);
    expect([stream.epochOf(10), stream.epochOf(11)]).toEqual([0, 1]);
  });

  it('drops the partial batch when asked', () => {
    const stream = new BatchStream(few.length, 10, seed, { dropLast: true });
    expect(stream.stepsPerEpoch).toBe(10);
    expect(stream.indicesAt(10)).toHaveLength(10);
  });

  it('orders by seed, and masks afresh at every step', () => {
    expect(new BatchStream(few.length, 10, 5).indicesAt(0)).not.toEqual(new BatchStream(few.length, 10, 6).indicesAt(0));
    const one = new BatchStream(10, 10, seed); // one batch per epoch: same chunks, new masks
    expect(batchAt(one, 0).labels).not.toEqual(batchAt(one, 1).labels);
  });

  it('rejects too few chunks and bad steps', () => {
    expect(() => new BatchStream(5, 10, 0, { dropLast: true })).toThrow(/no batch/);
    expect(() => new BatchStream(5, 2, 0).indicesAt(-1)).toThrow(/step/);
  });
});

describe('permutation', () => {
  it('is a permutation of 0..n−1', () => {
    fc.assert(fc.property(fc.nat({ max: 300 }), fc.nat(), (n, seed) => {
      expect([...permutation(n, key(seed))].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }));
  });
});
