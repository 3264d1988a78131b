// `das init`: a randomly initialised Hugging Face checkpoint of any size, so that any shape (e.g.
// RoBERTa-base) can be tried without downloading weights. RoBERTa's initialisation as transformers'
// `_init_weights` does it: every weight normal(0, initializer_range), biases 0, LayerNorm gains 1 and
// offsets 0, and the padding rows of the word and position tables 0 (their `padding_idx`). The
// directory holds config.json, model.safetensors (with the MLM head), the tokenizer files and
// settings.json (config, tokenizer and seed: another --seed or config in the same --out is refused).
// A vocabulary larger than the tokenizer's is allowed (the extra rows are never an input id); a smaller
// one is refused. Nothing is written before everything is checked; the directory appears atomically.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpu } from '../backend/cpu.js';
import { E } from '../fp.js';
import { saveCheckpoint } from '../io/hf-roberta.js';
import { SETTINGS_FILE, checkOutDir } from '../io/out-dir.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { type RobertaConfig, configToJson, parseConfig } from '../nn/config.js';
import { initParams } from '../nn/params.js';
import { key } from '../ops/random.js';
import { release } from '../tensor/scope.js';
import { type Tensor, fromArray, read } from '../tensor/tensor.js';
import { treeLeaves } from '../tensor/tree.js';
import { tokenizerFiles } from './checkpointing.js';

export const initDefaults = { seed: 2023 } as const;

export interface InitOptions {
  /** A Hugging Face RoBERTa config.json (any size). */
  config: string;
  out: string;
  /** Tokenizer directory (tokenizer.json, or vocab.json + merges.txt). */
  tokenizer: string;
  seed?: number;
}

export interface InitResult { out: string; parameters: number; vocabSize: number; tokenizerVocab: number; written: boolean }

/** The config of `file`, checked (an Error naming the file and field otherwise). */
export function readInitConfig(file: string): RobertaConfig {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new Error(`--config ${file}: ${(e as Error).message}`); }
  const c = parseConfig(raw);
  if (E.isLeft(c)) throw new Error(`--config ${file}: ${c.left.field}: ${c.left.problem}`);
  return c.right;
}

/** A copy of table t [rows, D] with row `row` set to 0 (transformers zeroes `padding_idx` rows at initialisation). */
async function zeroRow(t: Tensor, row: number): Promise<Tensor> {
  const data = Float32Array.from(await read(t));
  data.fill(0, row * t.shape[1], (row + 1) * t.shape[1]);
  return fromArray(data, t.shape, { backend: t.backend });
}

/** Writes the checkpoint (see the file header); with the same settings an existing one is kept as it is. */
export async function initCheckpoint(o: InitOptions): Promise<InitResult> {
  const seed = o.seed ?? initDefaults.seed;
  if (!Number.isSafeInteger(seed)) throw new Error(`init: seed must be an integer, got ${seed}`);
  const cfg = readInitConfig(o.config);
  const tok = await loadTokenizer(o.tokenizer);
  if (E.isLeft(tok)) throw new Error(`--tokenizer ${o.tokenizer}: ${tok.left.message}`);
  const t = tok.right;
  if (cfg.vocabSize < t.vocabSize) {
    throw new Error(`--config ${o.config}: vocab_size ${cfg.vocabSize} is smaller than the tokenizer's ${t.vocabSize} tokens (${o.tokenizer}): ids ${cfg.vocabSize}–${t.vocabSize - 1} would have no embedding row; set vocab_size to at least ${t.vocabSize}`);
  }
  for (const [field, id, role] of [['pad_token_id', cfg.padId, 'pad'], ['bos_token_id', cfg.bosId, 'bos'], ['eos_token_id', cfg.eosId, 'eos']] as const) {
    if (id !== t.specials[role]) throw new Error(`--config ${o.config}: ${field} is ${id}, but the tokenizer's <${role === 'bos' ? 's' : role === 'eos' ? '/s' : 'pad'}> is ${t.specials[role]}`);
  }
  const settings = { config: configToJson(cfg), tokenizer: o.tokenizer, seed };
  const dir = checkOutDir(o.out, settings, 'an initialised model');
  const backend = cpu();   // the same bits on every machine: the checkpoint depends on config, tokenizer and seed only
  const params = initParams(cfg, key(seed), backend, { mlm: true });
  const count = treeLeaves(params).reduce((n, x) => n + x.size, 0);
  const result = { out: o.out, parameters: count, vocabSize: cfg.vocabSize, tokenizerVocab: t.vocabSize };
  if (dir.same && existsSync(join(o.out, 'model.safetensors'))) { release(params); return { ...result, written: false }; }
  try {
    const { word, position } = params.embeddings;
    params.embeddings.word = await zeroRow(word, cfg.padId);
    params.embeddings.position = await zeroRow(position, cfg.padId);
    release(word, position);
    await saveCheckpoint(o.out, cfg, params, { ...tokenizerFiles(t), [SETTINGS_FILE]: `${JSON.stringify(settings, null, 2)}\n` }, { seed: String(seed), init: 'das init' });
  } finally {
    release(params);
  }
  return { ...result, written: true };
}
