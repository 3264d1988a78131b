// Hugging Face checkpoints (src/io/hf-roberta.ts): exact save/load round trips, the files a
// checkpoint directory holds, config.json as transformers reads it, every malformed input as a Left
// naming the tensor or field (fuzzed at the byte level), half-precision files, and interrupted saves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, counters, read, release } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { type RobertaConfig, configToJson, tinyTestConfig } from '../../src/nn/config.js';
import type { Params } from '../../src/nn/params.js';
import { type Checkpoint, hfNames, loadCheckpoint, paramsFromHf, saveCheckpoint } from '../../src/io/hf-roberta.js';
import { isAtomicLeftover } from '../../src/io/atomic.js';
import type { IoError } from '../../src/io/io-error.js';
import { type HostArray as StArray, serializeSafetensors } from '../../src/io/safetensors.js';
import { treeLeavesWithPaths } from '../../src/tensor/tree.js';
import { backends, cpuBackend } from '../support/devices.js';
import { seededValues } from '../support/oracle.js';

type HostParams = Map<string, StArray>;
type Heads = { mlm: boolean; classes?: number };

let root = '';
let dirCount = 0;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'checkpoint-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });
/** A fresh, empty directory under the test root. */
const freshDir = async (): Promise<string> => { const d = join(root, `case-${dirCount++}`); await mkdir(d); return d; };

/** A smaller config than tinyTestConfig for the fuzzers: D 4, H 2, F 3, L 1, V 6. */
const micro: RobertaConfig = { ...tinyTestConfig, vocabSize: 6, width: 4, heads: 2, headDim: 2, intermediate: 3, layers: 1, maxPositions: 5 };

/** Random f32 parameters under Hugging Face names; the word embeddings carry −0, a subnormal and extremes. */
function hostParams(cfg: RobertaConfig, heads: Heads, seed: number): HostParams {
  const out: HostParams = new Map();
  let n = 0;
  for (const [, [hf, shape]] of hfNames(cfg, heads)) {
    const data = Float32Array.from(seededValues(shape.reduce((a, b) => a * b, 1), seed * 1000 + n++, -2, 2));
    out.set(hf, { dtype: 'f32', shape: [...shape], data });
  }
  const word = out.get('roberta.embeddings.word_embeddings.weight')!.data;
  word.set([-0, 1e-40, -1e-45, 3.4e38, -3.4e38, 1 / 3, 1.1754944e-38], 0);
  return out;
}

const toParams = (cfg: RobertaConfig, host: HostParams, be: Backend): Params => {
  const p = paramsFromHf(cfg, host, be);
  if (E.isLeft(p)) throw p.left;
  return p.right;
};

/** Every f32 as its bit pattern, so −0, subnormals and NaN payloads count. */
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

/** Loaded parameters, read back under Hugging Face names. */
async function hostOf(cfg: RobertaConfig, params: Params, heads: Heads): Promise<Map<string, Float32Array>> {
  const names = hfNames(cfg, heads);
  const out = new Map<string, Float32Array>();
  for (const [path, t] of treeLeavesWithPaths(params)) {
    const spec = names.get(path);
    if (spec === undefined) throw new Error(`loaded parameter ${path} has no Hugging Face name`);
    expect(t.shape, path).toEqual(spec[1]);
    out.set(spec[0], Float32Array.from(await read(t)));
  }
  expect([...out.keys()].sort()).toEqual([...names.values()].map(([hf]) => hf).sort());
  return out;
}

const loaded = (r: E.Either<IoError, Checkpoint>): Checkpoint => {
  if (E.isLeft(r)) throw r.left;
  return r.right;
};
const failure = (r: E.Either<IoError, Checkpoint>): IoError => {
  if (E.isRight(r)) { release(r.right.params); expect.fail('expected a Left, the checkpoint loaded'); }
  return r.left;
};

/** Writes a checkpoint directory by hand: config.json from an object, model.safetensors from bytes or tensors. */
async function writeDir(dir: string, config: unknown, model: Uint8Array | HostParams): Promise<void> {
  await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), model instanceof Uint8Array ? model : serializeSafetensors(model, { format: 'pt' }));
}

/** Every file under `dir` (relative path → bytes). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) { const p = join(e.parentPath, e.name); out.set(p.slice(dir.length), (await readFile(p)).toString('base64')); }
  }
  return out;
}
async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((n) => isAtomicLeftover(n));
}

// ---- round trips ---------------------------------------------------------------------------------

describe('saveCheckpoint → loadCheckpoint', () => {
  const cases: [string, Heads][] = [['MLM head', { mlm: true }], ['classifier head (3 classes)', { mlm: false, classes: 3 }], ['both heads', { mlm: true, classes: 2 }]];
  for (const be of backends) {
    for (const [label, heads] of cases) {
      it(`${be.name} ${label}: every tensor comes back bit-identical, with the same config and metadata`, async () => {
        const host = hostParams(tinyTestConfig, heads, 5);
        const params = toParams(tinyTestConfig, host, be);
        const dir = join(await freshDir(), 'ckpt');
        await saveCheckpoint(dir, tinyTestConfig, params, {}, { steps: '17' });
        const ck = loaded(await loadCheckpoint(dir, be));
        expect(ck.cfg).toEqual(tinyTestConfig);
        expect(ck.metadata).toEqual({ format: 'pt', steps: '17' });
        expect(ck.params.lmHead !== undefined).toBe(heads.mlm);
        expect(ck.params.classifier?.out.weight.shape[0]).toBe(heads.classes);
        const back = await hostOf(tinyTestConfig, ck.params, heads);
        for (const [name, t] of host) expect(bits(back.get(name)!), name).toEqual(bits(t.data));
        release(params, ck.params);
      });
    }
  }

  it('the directory holds exactly config.json, model.safetensors and the extra files', async () => {
    const params = toParams(tinyTestConfig, hostParams(tinyTestConfig, { mlm: true }, 6), cpuBackend);
    const base = await freshDir();
    const dir = join(base, 'ckpt');
    await saveCheckpoint(dir, tinyTestConfig, params);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    const blob = Uint8Array.from([0, 255, 7]);
    await saveCheckpoint(dir, tinyTestConfig, params, { 'vocab.json': '{"<s>": 0}', 'state.bin': blob });
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors', 'state.bin', 'vocab.json']);
    expect(await readFile(join(dir, 'vocab.json'), 'utf8')).toBe('{"<s>": 0}');
    expect([...(await readFile(join(dir, 'state.bin')))]).toEqual([0, 255, 7]);
    expect(await readdir(base)).toEqual(['ckpt']);
    release(params);
  });

  it('writes a config.json and a safetensors file that transformers accepts for RobertaForMaskedLM', async () => {
    const cfg = tinyTestConfig;
    const params = toParams(cfg, hostParams(cfg, { mlm: true }, 7), cpuBackend);
    const dir = join(await freshDir(), 'ckpt');
    await saveCheckpoint(dir, cfg, params);
    const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({
      model_type: 'roberta', architectures: ['RobertaForMaskedLM'], hidden_act: 'gelu', position_embedding_type: 'absolute',
      vocab_size: cfg.vocabSize, hidden_size: cfg.width, num_hidden_layers: cfg.layers, num_attention_heads: cfg.heads,
      intermediate_size: cfg.intermediate, max_position_embeddings: cfg.maxPositions, type_vocab_size: cfg.typeVocabSize,
      layer_norm_eps: cfg.layerNormEps, pad_token_id: cfg.padId, bos_token_id: cfg.bosId, eos_token_id: cfg.eosId,
      hidden_dropout_prob: cfg.hiddenDropout, attention_probs_dropout_prob: cfg.attentionDropout, initializer_range: cfg.initializerRange,
      torch_dtype: 'float32',
    });
    // Only names RobertaConfig / PretrainedConfig know (no camelCase leaking from our RobertaConfig).
    const known = new Set(['architectures', 'model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
      'hidden_act', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'max_position_embeddings', 'type_vocab_size', 'initializer_range',
      'layer_norm_eps', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'position_embedding_type', 'torch_dtype', 'use_cache', 'classifier_dropout',
      'transformers_version', 'num_labels', 'id2label', 'label2id']);
    for (const k of Object.keys(json)) expect(known.has(k), `unknown config.json key ${k}`).toBe(true);
    for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size']) {
      expect(Number.isInteger(json[k]), k).toBe(true);
    }
    expect((json.hidden_size as number) % (json.num_attention_heads as number)).toBe(0);
    // safetensors: u64 LE header length, a JSON object starting with '{', metadata format "pt"
    // (transformers refuses other formats), F32 tensors under exactly the Hugging Face names.
    const bytes = await readFile(join(dir, 'model.safetensors'));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLen = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
    expect(header[0]).toBe('{');
    const entries = JSON.parse(header) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(entries.__metadata__).toEqual({ format: 'pt' });
    const names = [...hfNames(cfg, { mlm: true }).values()];
    expect(Object.keys(entries).filter((k) => k !== '__metadata__').sort()).toEqual(names.map(([hf]) => hf).sort());
    for (const [hf, shape] of names) expect(entries[hf], hf).toMatchObject({ dtype: 'F32', shape });
    release(params);
  });

  it('loads the tensors Hugging Face files carry that the model does not use (tied decoder, pooler, position_ids)', async () => {
    const cfg = micro;
    const host = hostParams(cfg, { mlm: true }, 8);
    const withExtras: HostParams = new Map(host);
    withExtras.set('lm_head.decoder.weight', host.get('roberta.embeddings.word_embeddings.weight')!);
    withExtras.set('lm_head.decoder.bias', host.get('lm_head.bias')!);
    withExtras.set('roberta.pooler.dense.weight', { dtype: 'f32', shape: [cfg.width, cfg.width], data: new Float32Array(cfg.width * cfg.width) });
    withExtras.set('roberta.pooler.dense.bias', { dtype: 'f32', shape: [cfg.width], data: new Float32Array(cfg.width) });
    withExtras.set('roberta.embeddings.position_ids', { dtype: 'i64', shape: [1, cfg.maxPositions], data: Int32Array.from({ length: cfg.maxPositions }, (_, i) => i) });
    const dir = await freshDir();
    await writeDir(dir, configToJson(cfg), withExtras);
    const ck = loaded(await loadCheckpoint(dir, cpuBackend));
    const back = await hostOf(cfg, ck.params, { mlm: true });
    for (const [name, t] of host) expect(bits(back.get(name)!), name).toEqual(bits(t.data));
    release(ck.params);
  });
});

// ---- malformed checkpoints -------------------------------------------------------------------------

describe('loadCheckpoint rejects malformed checkpoints with a Left naming the tensor or field', () => {
  const cfg = tinyTestConfig;
  const heads: Heads = { mlm: true };
  const host = hostParams(cfg, heads, 9);
  const edit = (f: (m: HostParams) => void): HostParams => { const m = new Map([...host].map(([k, v]) => [k, { ...v, data: v.data.slice() } as StArray])); f(m); return m; };

  /** Loads a hand-written directory and returns the Left; no tensor may be left alive. */
  async function rejects(config: unknown, model: Uint8Array | HostParams | undefined): Promise<IoError> {
    const dir = await freshDir();
    if (model === undefined) await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    else await writeDir(dir, config, model);
    const live = counters.liveTensors;
    const err = failure(await loadCheckpoint(dir, cpuBackend));
    expect(counters.liveTensors).toBe(live);
    expect(err.message.length).toBeGreaterThan(0);
    return err;
  }

  const tensorCases: [string, string, (m: HostParams) => void, RegExp][] = [
    ['a missing tensor', 'roberta.encoder.layer.1.attention.self.key.bias', (m) => m.delete('roberta.encoder.layer.1.attention.self.key.bias'), /missing/],
    ['a missing lm_head.bias', 'lm_head.bias', (m) => m.delete('lm_head.bias'), /missing/],
    ['an extra tensor from a third layer', 'roberta.encoder.layer.2.output.dense.bias',
      (m) => m.set('roberta.encoder.layer.2.output.dense.bias', { dtype: 'f32', shape: [cfg.width], data: new Float32Array(cfg.width) }), /unexpected/],
    ['an unknown tensor', 'foo', (m) => m.set('foo', { dtype: 'f32', shape: [1], data: new Float32Array(1) }), /unexpected/],
    ['a transposed tensor', 'roberta.encoder.layer.0.intermediate.dense.weight',
      (m) => { const t = m.get('roberta.encoder.layer.0.intermediate.dense.weight')!; t.shape = [t.shape[1], t.shape[0]]; }, /shape \[24, 40\] does not match the config's \[40, 24\]/],
    ['a flattened tensor', 'roberta.embeddings.LayerNorm.weight', (m) => { m.get('roberta.embeddings.LayerNorm.weight')!.shape = [4, 6]; }, /shape/],
    ['a NaN value', 'roberta.encoder.layer.1.output.LayerNorm.bias', (m) => { m.get('roberta.encoder.layer.1.output.LayerNorm.bias')!.data[3] = NaN; }, /non-finite value NaN at element 3/],
    ['an infinite value', 'lm_head.dense.weight', (m) => { m.get('lm_head.dense.weight')!.data[0] = -Infinity; }, /non-finite/],
    ['an integer tensor for a float parameter', 'roberta.embeddings.token_type_embeddings.weight',
      (m) => m.set('roberta.embeddings.token_type_embeddings.weight', { dtype: 'i32', shape: [1, cfg.width], data: new Int32Array(cfg.width) }), /integer dtype/],
  ];
  for (const [label, tensor, f, problem] of tensorCases) {
    it(`${label}: names ${tensor}`, async () => {
      const err = await rejects(configToJson(cfg), edit(f));
      expect(err.tensor).toBe(tensor);
      expect(err.message).toContain(`tensor "${tensor}"`);
      expect(err.message).toContain('model.safetensors');
      expect(err.message).toMatch(problem);
    });
  }

  it('a config whose sizes disagree with the tensors: names the first mismatching tensor', async () => {
    const err = await rejects({ ...configToJson(cfg), intermediate_size: 41 }, host);
    expect(err.tensor).toBe('roberta.encoder.layer.0.intermediate.dense.weight');
    expect(err.message).toMatch(/\[40, 24\] does not match the config's \[41, 24\]/);
  });

  it('a truncated model.safetensors (inside the data, inside the header, inside the length)', async () => {
    const bytes = serializeSafetensors(host, { format: 'pt' });
    for (const len of [bytes.length - 1, bytes.length - 1000, 200, 7, 0]) {
      const err = await rejects(configToJson(cfg), bytes.subarray(0, len));
      expect(err.message).toContain('model.safetensors');
      expect(err.message).toMatch(/truncated|past the end|fewer than/);
    }
  });

  it('a bad header: length past the end, not JSON, not an object, an unsupported dtype, overlapping offsets', async () => {
    const good = serializeSafetensors(host, { format: 'pt' });
    const headerLen = new DataView(good.buffer).getUint32(0, true);
    const withHeader = (json: string): Uint8Array => {
      const head = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + head.length + good.length - 8 - headerLen);
      new DataView(out.buffer).setUint32(0, head.length, true);
      out.set(head, 8);
      out.set(good.subarray(8 + headerLen), 8 + head.length);
      return out;
    };
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLen))) as Record<string, Record<string, unknown>>;
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(0, good.length, true);
    expect((await rejects(configToJson(cfg), huge)).message).toMatch(/header length .* runs past the end/);
    const hugeHigh = good.slice();
    new DataView(hugeHigh.buffer).setUint32(4, 1, true);
    expect((await rejects(configToJson(cfg), hugeHigh)).message).toMatch(/exceeds/);
    expect((await rejects(configToJson(cfg), withHeader('{"a": '))).message).toMatch(/not valid UTF-8 JSON/);
    expect((await rejects(configToJson(cfg), withHeader('[1, 2]'))).message).toMatch(/not a JSON object/);
    const name = 'roberta.encoder.layer.0.attention.self.query.weight';
    const f8 = { ...header, [name]: { ...header[name], dtype: 'F8_E4M3' } };
    const err = await rejects(configToJson(cfg), withHeader(JSON.stringify(f8)));
    expect(err.tensor).toBe(name);
    expect(err.message).toMatch(/unsupported dtype "F8_E4M3"/);
    const other = 'roberta.encoder.layer.0.attention.self.key.weight';
    const overlap = { ...header, [other]: { ...header[other], data_offsets: header[name].data_offsets } };
    expect((await rejects(configToJson(cfg), withHeader(JSON.stringify(overlap)))).message).toMatch(/overlap|belong to no tensor/);
  });

  it('a missing model.safetensors or config.json', async () => {
    expect((await rejects(configToJson(cfg), undefined)).message).toMatch(/model\.safetensors: cannot read file \(ENOENT\)/);
    const dir = await freshDir();
    const err = failure(await loadCheckpoint(dir, cpuBackend));
    expect(err.message).toMatch(/config\.json: cannot read config/);
  });

  const configCases: [string, (c: Record<string, unknown>) => unknown, string, RegExp][] = [
    ['hidden_size as a string', (c) => ({ ...c, hidden_size: '24' }), 'hidden_size', /expected a positive integer, got "24"/],
    ['a fractional head count', (c) => ({ ...c, num_attention_heads: 2.5 }), 'num_attention_heads', /positive integer/],
    ['heads that do not divide hidden_size', (c) => ({ ...c, num_attention_heads: 5 }), 'num_attention_heads', /5 heads do not divide hidden_size 24/],
    ['a negative layer norm eps', (c) => ({ ...c, layer_norm_eps: -1 }), 'layer_norm_eps', /positive/],
    ['a dropout of 1', (c) => ({ ...c, hidden_dropout_prob: 1 }), 'hidden_dropout_prob', /\[0, 1\)/],
    ['a missing vocab_size', (c) => { const { vocab_size: _, ...rest } = c; return rest; }, 'vocab_size', /missing/],
    ['another model type', (c) => ({ ...c, model_type: 'bert' }), 'model_type', /"roberta"/],
    ['another activation', (c) => ({ ...c, hidden_act: 'gelu_new' }), 'hidden_act', /"gelu"/],
    ['architectures as a string', (c) => ({ ...c, architectures: 'RobertaForMaskedLM' }), 'architectures', /list of strings/],
    ['pad_token_id outside the vocabulary', (c) => ({ ...c, pad_token_id: 100 }), 'pad_token_id', /not below vocab_size/],
    ['a top-level array', () => [1], '(root)', /JSON object/],
  ];
  for (const [label, f, field, problem] of configCases) {
    it(`a malformed config.json (${label}): names ${field}`, async () => {
      const err = await rejects(f(configToJson(cfg) as Record<string, unknown>), host);
      expect(err.field).toBe(field);
      expect(err.message).toContain('config.json');
      expect(err.message).toContain(field);
      expect(err.message).toMatch(problem);
    });
  }

  it('a config.json that is not JSON', async () => {
    const err = await rejects('{"model_type": "roberta",', host);
    expect(err.message).toMatch(/config\.json: cannot read config/);
  });
});

// ---- fuzzing ---------------------------------------------------------------------------------------

describe('loadCheckpoint under byte-level corruption', () => {
  const cfg = micro;
  const heads: Heads = { mlm: true };
  const host = hostParams(cfg, heads, 10);
  const good = serializeSafetensors(host, { format: 'pt' });
  const dataStart = 8 + new DataView(good.buffer).getUint32(0, true);
  const layout = JSON.parse(new TextDecoder().decode(good.subarray(8, dataStart))) as Record<string, { data_offsets: [number, number] }>;
  delete layout.__metadata__;

  /** Each tensor decoded from `bytes` with the original file's layout. */
  const decodeWithLayout = (bytes: Uint8Array): Map<string, Float32Array> =>
    new Map(Object.entries(layout).map(([name, { data_offsets: [b, e] }]) => [name, new Float32Array(bytes.slice(dataStart + b, dataStart + e).buffer)]));

  let dir = '';
  beforeAll(async () => { dir = await freshDir(); await writeFile(join(dir, 'config.json'), JSON.stringify(configToJson(cfg))); });

  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...' \t\n\r0123456789",:[]{}ptF'.split('').map((c) => c.charCodeAt(0))));
  const edits = (lo: number, hi: number) => fc.array(fc.tuple(fc.integer({ min: lo, max: hi }), byte), { minLength: 1, maxLength: 4 });
  /** Sets the exponent of one f32 to all ones: an infinity or a NaN. */
  const poison = fc.tuple(fc.nat({ max: (good.length - dataStart) / 4 - 1 }), fc.integer({ min: 0x80, max: 0xff }), fc.boolean())
    .map(([k, b2, neg]): [number, number][] => [[dataStart + 4 * k + 2, b2], [dataStart + 4 * k + 3, neg ? 0xff : 0x7f]]);
  /** Edits inside the metadata value "pt": the file stays valid, only the metadata changes. */
  const pt = new TextDecoder().decode(good.subarray(0, dataStart)).indexOf('"pt"') + 1;
  const metadataEdit = fc.tuple(fc.integer({ min: pt, max: pt + 1 }), fc.integer({ min: 0x61, max: 0x7a })).map((e): [number, number][] => [e]);
  const arbEdit = fc.oneof(
    fc.nat({ max: good.length - 1 }).map((len) => ({ kind: 'truncate' as const, len, at: [] as [number, number][] })),
    ...[edits(0, dataStart - 1), edits(dataStart, good.length - 1), edits(0, good.length - 1), poison, metadataEdit]
      .map((a) => a.map((at) => ({ kind: 'mutate' as const, len: good.length, at }))),
  );

  it('always gives a Left with a message, or parameters equal to what the bytes say; never throws or hangs', async () => {
    await fc.assert(
      fc.asyncProperty(arbEdit, async ({ kind, len, at }) => {
        const bytes = good.slice(0, len);
        for (const [i, v] of at) bytes[i] = v;
        await writeFile(join(dir, 'model.safetensors'), bytes);
        const live = counters.liveTensors;
        const r = await loadCheckpoint(dir, cpuBackend);
        const dataOnly = kind === 'mutate' && at.every(([i, v]) => i >= dataStart || good[i] === v);
        if (kind === 'truncate') expect(E.isLeft(r)).toBe(true);
        if (E.isLeft(r)) {
          expect(r.left.message).toContain('model.safetensors');
          if (dataOnly) {
            // the file is well formed, so only a non-finite value may be refused, and it must be named
            const bad = decodeWithLayout(bytes).get(r.left.tensor ?? '');
            expect(bad?.some((x) => !Number.isFinite(x)), r.left.message).toBe(true);
          }
        } else {
          const want = decodeWithLayout(bytes);
          const back = await hostOf(cfg, r.right.params, heads);
          for (const [name, t] of want) expect(bits(back.get(name)!), name).toEqual(bits(t));
          release(r.right.params);
        }
        expect(counters.liveTensors).toBe(live);
      }),
      { numRuns: 300, timeout: 5000 },
    );
  });

  const fields: [string, keyof RobertaConfig | undefined][] = [
    ['vocab_size', 'vocabSize'], ['hidden_size', 'width'], ['num_attention_heads', 'heads'], ['num_hidden_layers', 'layers'],
    ['intermediate_size', 'intermediate'], ['max_position_embeddings', 'maxPositions'], ['type_vocab_size', 'typeVocabSize'],
    ['layer_norm_eps', 'layerNormEps'], ['pad_token_id', 'padId'], ['bos_token_id', 'bosId'], ['eos_token_id', 'eosId'],
    ['hidden_dropout_prob', 'hiddenDropout'], ['attention_probs_dropout_prob', 'attentionDropout'], ['initializer_range', 'initializerRange'],
    ['model_type', undefined], ['hidden_act', undefined], ['position_embedding_type', undefined], ['architectures', undefined],
  ];

  it('a config.json field set to any JSON value (or removed) loads with that value, or is a Left naming the field or a tensor', async () => {
    const cdir = await freshDir();
    await writeFile(join(cdir, 'model.safetensors'), good);
    const value = fc.oneof(fc.jsonValue(), fc.integer({ min: -3, max: 12 }), fc.double(), fc.constantFrom('roberta', 'gelu', 'absolute', null), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), value, async ([field, key], v) => {
        const json: Record<string, unknown> = { ...configToJson(cfg), [field]: v };
        if (v === undefined) delete json[field];
        await writeFile(join(cdir, 'config.json'), JSON.stringify(json));
        const r = await loadCheckpoint(cdir, cpuBackend);
        if (E.isLeft(r)) {
          expect(r.left.field ?? r.left.tensor, r.left.message).toBeDefined();
          expect(r.left.message.includes(field) || r.left.tensor !== undefined, r.left.message).toBe(true);
        } else {
          // JSON.stringify turns −0 into 0 and drops nothing else that parses as a valid value
          if (key !== undefined && v !== undefined) expect(r.right.cfg[key]).toBe(JSON.parse(JSON.stringify(v)));
          release(r.right.params);
        }
      }),
      { numRuns: 200, timeout: 5000 },
    );
  });
});

// ---- half precision --------------------------------------------------------------------------------

const roundHalfEven = (x: number): number => { const f = Math.floor(x), d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1; };

/** x (|x| < 65504) rounded to the nearest f16, ties to even: the value and its bits. */
function toF16(x: number): { value: number; bits: number } {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return { value: sign ? -0 : 0, bits: sign };
  const q = 2 ** (Math.max(Math.floor(Math.log2(a)), -14) - 10); // the spacing of f16 values near a
  const r = roundHalfEven(a / q) * q;
  let bits = 0;
  if (r < 2 ** -14) bits = r / 2 ** -24; // subnormal
  else { const e = Math.floor(Math.log2(r)); bits = ((e + 15) << 10) | (r / 2 ** e * 1024 - 1024); }
  return { value: sign && r === 0 ? -0 : sign ? -r : r, bits: sign | bits };
}

/** x rounded to the nearest bf16 (the top half of an f32), ties to even. */
function toBf16(x: number): { value: number; bits: number } {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  const hi = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  return { value: new Float32Array(Uint32Array.of(hi << 16).buffer)[0], bits: hi };
}

/** A safetensors file written by hand: 8-byte LE header length, JSON header, data. */
function halfFile(host: HostParams, dtypeOf: (name: string, i: number) => 'F16' | 'BF16'): { bytes: Uint8Array; want: Map<string, number[]> } {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Uint8Array[] = [];
  const want = new Map<string, number[]>();
  let at = 0;
  [...host].forEach(([name, t], i) => {
    const dtype = dtypeOf(name, i);
    const rounded = Array.from(t.data, (x) => (dtype === 'F16' ? toF16(x) : toBf16(x)));
    want.set(name, rounded.map((r) => r.value));
    const data = new Uint8Array(Uint16Array.from(rounded, (r) => r.bits).buffer);
    header[name] = { dtype, shape: t.shape, data_offsets: [at, at + data.length] };
    chunks.push(data);
    at += data.length;
  });
  const head = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + head.length + at);
  new DataView(bytes.buffer).setUint32(0, head.length, true);
  bytes.set(head, 8);
  chunks.reduce((o, c) => (bytes.set(c, o), o + c.length), 8 + head.length);
  return { bytes, want };
}

describe('half-precision checkpoints', () => {
  const cfg = tinyTestConfig;
  const heads: Heads = { mlm: true };
  const host = hostParams(cfg, heads, 12);
  // Values in f16 range, with ties, subnormals and signed zeros for both formats.
  const word = host.get('roberta.embeddings.word_embeddings.weight')!.data;
  word.set([-0, 0, 1e-6, -3e-8, 65504, -60000, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 2 ** -14, 2 ** -24, 2 ** -25, 1e-30], 0);

  it('the test encoders round correctly (spot checks)', () => {
    expect(toF16(1 + 2 ** -11)).toEqual({ value: 1, bits: 0x3c00 });
    expect(toF16(1 + 3 * 2 ** -11)).toEqual({ value: 1 + 2 ** -9, bits: 0x3c02 });
    expect(toF16(65504).bits).toBe(0x7bff);
    expect(toF16(2 ** -24).bits).toBe(0x0001);
    expect(toF16(2 ** -25).value).toBe(0); // a tie to even
    expect(toF16(-2).bits).toBe(0xc000);
    expect(toBf16(1 + 2 ** -8)).toEqual({ value: 1, bits: 0x3f80 });
    expect(toBf16(1 + 3 * 2 ** -8)).toEqual({ value: 1 + 2 ** -6, bits: 0x3f82 });
    expect(toBf16(-0).bits).toBe(0x8000);
  });

  const variants: [string, (name: string, i: number) => 'F16' | 'BF16'][] = [['F16', () => 'F16'], ['BF16', () => 'BF16'], ['mixed F16/BF16', (_, i) => (i % 2 ? 'BF16' : 'F16')]];
  for (const be of backends) {
    for (const [label, dtypeOf] of variants) {
      it(`${be.name} ${label}: loads with values equal to the rounded inputs`, async () => {
        const { bytes, want } = halfFile(host, dtypeOf);
        const dir = await freshDir();
        await writeDir(dir, { ...configToJson(cfg), torch_dtype: label === 'BF16' ? 'bfloat16' : 'float16' }, bytes);
        const ck = loaded(await loadCheckpoint(dir, be));
        expect(ck.cfg).toEqual(cfg);
        const back = await hostOf(cfg, ck.params, heads);
        for (const [name, w] of want) expect(bits(back.get(name)!), name).toEqual(bits(w));
        // rounding error within half a unit in the last place of each format
        const orig = host.get('roberta.encoder.layer.0.attention.self.query.weight')!.data;
        const got = back.get('roberta.encoder.layer.0.attention.self.query.weight')!;
        const relUlp = dtypeOf('roberta.encoder.layer.0.attention.self.query.weight', [...host.keys()].indexOf('roberta.encoder.layer.0.attention.self.query.weight')) === 'F16' ? 2 ** -11 : 2 ** -8;
        orig.forEach((x, i) => expect(Math.abs(got[i] - x)).toBeLessThanOrEqual(Math.abs(x) * relUlp + 2 ** -25));
        release(ck.params);
      });
    }
  }
});

// ---- interrupted saves -----------------------------------------------------------------------------

describe('an interrupted save', () => {
  it('leaves the existing checkpoint intact and no temporary files behind', async () => {
    const cfg = tinyTestConfig;
    const a = toParams(cfg, hostParams(cfg, { mlm: true }, 13), cpuBackend);
    const bHost = hostParams(cfg, { mlm: true }, 14);
    const b = toParams(cfg, bHost, cpuBackend);
    const base = await freshDir();
    const dir = join(base, 'ckpt');
    await saveCheckpoint(dir, cfg, a, { 'notes.txt': 'first' });
    const before = await snapshot(dir);

    const broken = toParams(cfg, bHost, cpuBackend);
    broken.layers[1].ffnOut.bias.dispose(); // reading it throws while the tensors are gathered
    const failures: [string, () => Promise<void>][] = [
      ['an extra file in a directory that does not exist', () => saveCheckpoint(dir, cfg, b, { 'missing/extra.txt': 'x' })],
      ['extra content that is neither text nor bytes', () => saveCheckpoint(dir, cfg, b, { 'bad.bin': 42 as unknown as string })],
      ['a released parameter', () => saveCheckpoint(dir, cfg, broken)],
    ];
    for (const [label, save] of failures) {
      await expect(save(), label).rejects.toThrow();
      expect(await snapshot(dir), label).toEqual(before);
      expect(await readdir(base), label).toEqual(['ckpt']);
      expect(await leftovers(base), label).toEqual([]);
    }
    const ck = loaded(await loadCheckpoint(dir, cpuBackend));
    const wantA = await hostOf(cfg, a, { mlm: true });
    const gotA = await hostOf(cfg, ck.params, { mlm: true });
    for (const [name, t] of wantA) expect(bits(gotA.get(name)!), name).toEqual(bits(t));

    // a completed save replaces the whole directory (the old extra file goes too)
    await saveCheckpoint(dir, cfg, b);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(await readdir(base)).toEqual(['ckpt']);
    const ckB = loaded(await loadCheckpoint(dir, cpuBackend));
    const gotB = await hostOf(cfg, ckB.params, { mlm: true });
    for (const [name, t] of bHost) expect(bits(gotB.get(name)!), name).toEqual(bits(t.data));
    release(a, b, broken, ck.params, ckB.params);
  });
});
