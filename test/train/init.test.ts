// das init: a random RoBERTa checkpoint of any size from a config.json, initialised as transformers does
// (normal(0, initializer_range) weights, zero biases, unit LayerNorm gains, zero padding rows); a larger
// vocabulary than the tokenizer's works end to end (post-training runs on it), a smaller one and a
// hidden size not divisible by the heads are refused before anything is written; the output directory
// records its settings.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { posttrain } from '../../src/continual/posttrain.js';
import { E } from '../../src/fp.js';
import { loadCheckpoint } from '../../src/io/hf-roberta.js';
import { loadTokenizer } from '../../src/io/tokenizer/index.js';
import { release } from '../../src/tensor/scope.js';
import { read } from '../../src/tensor/tensor.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-init-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld, vocab: number;
beforeAll(async () => {
  w = await makeTinyWorld(work);
  const t = await loadTokenizer(w.model);
  if (E.isLeft(t)) throw t.left;
  vocab = t.right.vocabSize;
});

async function das(...args: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
  try { return { code: await main(args), text: out.join('') }; } finally { o.mockRestore(); e.mockRestore(); }
}

const config = (name: string, fields: Record<string, unknown> = {}): string => {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    model_type: 'roberta', vocab_size: vocab + 13, hidden_size: 32, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 64,
    max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, ...fields,
  }));
  return file;
};

const stats = (x: ArrayLike<number>) => {
  let s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) { s += x[i]; s2 += x[i] * x[i]; }
  const m = s / x.length;
  return { mean: m, std: Math.sqrt(s2 / x.length - m * m) };
};

describe('das init', () => {
  it("writes RoBERTa's initialisation, with a vocabulary larger than the tokenizer's", async () => {
    const out = join(work, 'big-vocab');
    const r = await das('init', '--config', config('big'), '--out', out, '--tokenizer', w.model, '--seed', '7');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.text.trim().split('\n').pop()!) as { parameters: number; vocabSize: number; tokenizerVocab: number; written: boolean };
    expect(res).toMatchObject({ vocabSize: vocab + 13, tokenizerVocab: vocab, written: true });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt', 'settings.json']) expect(existsSync(join(out, f))).toBe(true);
    const ck = await loadCheckpoint(out, cpuBackend);
    if (E.isLeft(ck)) throw ck.left;
    const { cfg, params } = ck.right;
    expect(cfg).toMatchObject({ vocabSize: vocab + 13, width: 32, heads: 4, headDim: 8, layers: 2, intermediate: 64 });
    const word = await read(params.embeddings.word), pos = await read(params.embeddings.position);
    expect([...word.subarray(32, 64)].every((x) => x === 0)).toBe(true);       // padding_idx rows are zero
    expect([...pos.subarray(32, 64)].every((x) => x === 0)).toBe(true);
    expect(stats(word).std).toBeGreaterThan(0.018);
    expect(stats(word).std).toBeLessThan(0.022);
    const ffn = stats(await read(params.layers[1].ffnIn.weight));
    expect(Math.abs(ffn.mean)).toBeLessThan(0.002);
    expect(ffn.std).toBeGreaterThan(0.018);
    expect(ffn.std).toBeLessThan(0.022);
    expect([...await read(params.layers[0].query.bias)].every((x) => x === 0)).toBe(true);
    expect([...await read(params.layers[0].attnNorm.weight)].every((x) => x === 1)).toBe(true);
    expect([...await read(params.lmHead!.bias)].every((x) => x === 0)).toBe(true);
    expect(res.parameters).toBe(word.length + pos.length + 32 /* token type */ + 64 + 2 * (4 * (32 * 32 + 32) + 64 + 64 * 32 + 64 + 32 * 64 + 32 + 64) + 32 * 32 + 32 + 64 + vocab + 13);
    release(params);
    // a post-training step runs on it (ids beyond the tokenizer's are never inputs)
    const p = await posttrain({ model: out, corpus: join(w.dir, 'farm/train.txt'), out: join(work, 'pt'), method: 'ncl', steps: 2, batchSize: 2, seqLen: 16, lr: 1e-3, seed: 1, backend: cpuBackend, quiet: true });
    expect(Number.isFinite(p.finalLoss)).toBe(true);
  });

  it('is deterministic in the seed, keeps a finished directory and refuses other settings in it', async () => {
    const a = join(work, 'a'), b = join(work, 'b');
    expect((await das('init', '--config', config('c'), '--out', a, '--tokenizer', w.model)).code).toBe(0);
    expect((await das('init', '--config', config('c'), '--out', b, '--tokenizer', w.model)).code).toBe(0);
    expect(Buffer.compare(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')))).toBe(0);
    const t = statSync(join(a, 'model.safetensors')).mtimeMs;
    const again = await das('init', '--config', config('c'), '--out', a, '--tokenizer', w.model);
    expect(JSON.parse(again.text.trim()).written).toBe(false);
    expect(statSync(join(a, 'model.safetensors')).mtimeMs).toBe(t);
    const other = await das('init', '--config', config('c'), '--out', a, '--tokenizer', w.model, '--seed', '8');
    expect(other.code).toBe(1);
    expect(other.text).toMatch(/other settings:\n {2}seed: 2023 in the directory, 8 now/);
    expect(statSync(join(a, 'model.safetensors')).mtimeMs).toBe(t);
  });

  it('refuses a vocabulary smaller than the tokenizer, heads that do not divide the width, and missing flags, writing nothing', async () => {
    const out = join(work, 'bad');
    const small = await das('init', '--config', config('small', { vocab_size: vocab - 1 }), '--out', out, '--tokenizer', w.model);
    expect(small.code).toBe(1);
    expect(small.text).toContain(`vocab_size ${vocab - 1} is smaller than the tokenizer's ${vocab} tokens`);
    const heads = await das('init', '--config', config('heads', { num_attention_heads: 5 }), '--out', out, '--tokenizer', w.model);
    expect(heads.code).toBe(1);
    expect(heads.text).toMatch(/num_attention_heads: 5 heads do not divide hidden_size 32/);
    const pad = await das('init', '--config', config('pad', { pad_token_id: 3 }), '--out', out, '--tokenizer', w.model);
    expect(pad.text).toMatch(/pad_token_id is 3, but the tokenizer's <pad> is 1/);
    expect((await das('init', '--out', out)).text).toMatch(/--config is required/);
    expect((await das('init', '--config', config('x'), '--out', out, '--seed', '1.5')).code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});
