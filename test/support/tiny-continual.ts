// A tiny continual-learning world for tests: two synthetic domains (corpus + a trivially separable end
// task each), a sequence.json naming them, and a tiny random RoBERTa with its own BPE tokenizer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpu } from '../../src/backend/cpu.js';
import { E } from '../../src/fp.js';
import { saveCheckpoint } from '../../src/io/hf-roberta.js';
import { trainBpe } from '../../src/io/tokenizer/index.js';
import { parseConfig } from '../../src/nn/config.js';
import { initParams } from '../../src/nn/params.js';
import { key } from '../../src/ops/random.js';
import { release } from '../../src/tensor/scope.js';
import { tokenizerFiles } from '../../src/train/checkpointing.js';

/** Deterministic LCG in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const WORDS = {
  farm: ['cow', 'barn', 'field', 'tractor', 'hay', 'goat', 'fence', 'harvest', 'seed', 'plough', 'sheep', 'mud'],
  sea: ['boat', 'wave', 'sail', 'harbour', 'fish', 'anchor', 'tide', 'shell', 'reef', 'gull', 'salt', 'deck'],
};
/** End-task cue words: label = which cue the text contains. */
export const CUES = { farm: ['apple', 'zebra'], sea: ['north', 'south'] } as const;

const sentence = (r: () => number, words: readonly string[], n: number): string => Array.from({ length: n }, () => words[Math.floor(r() * words.length)]).join(' ');

export interface TinyWorld { dir: string; sequence: string; model: string; domains: string[] }

/** Writes corpora, tasks, labels and sequence.json for two domains, plus a tiny model, under `dir`. */
export async function makeTinyWorld(dir: string, o: { lines?: number; trainExamples?: number; testExamples?: number } = {}): Promise<TinyWorld> {
  const r = rng(7);
  const lines = o.lines ?? 120, nTrain = o.trainExamples ?? 32, nTest = o.testExamples ?? 16;
  const corpora: Record<string, string[]> = {};
  for (const [name, words] of Object.entries(WORDS)) {
    mkdirSync(join(dir, name), { recursive: true });
    corpora[name] = Array.from({ length: lines }, () => sentence(r, words, 8 + Math.floor(r() * 8)));
    writeFileSync(join(dir, name, 'train.txt'), `${corpora[name].join('\n')}\n`);
    const cues = CUES[name as keyof typeof CUES];
    const task = (n: number) => Array.from({ length: n }, (_, i) => {
      const y = i % 2;
      const a = sentence(r, words, 2 + Math.floor(r() * 3)), b = sentence(r, words, 2 + Math.floor(r() * 3));
      return JSON.stringify({ text: `${a} ${cues[y]} ${b}`, label: cues[y] });
    }).join('\n');
    writeFileSync(join(dir, name, 'task-train.jsonl'), `${task(nTrain)}\n`);
    writeFileSync(join(dir, name, 'task-test.jsonl'), `${task(nTest)}\n`);
    writeFileSync(join(dir, name, 'labels.json'), JSON.stringify(cues));
  }
  const domains = Object.keys(WORDS);
  const seq = {
    general: { train: 'farm/train.txt', valid: 'farm/train.txt' },
    domains: domains.map((name) => ({ name, train: `${name}/train.txt`, taskTrain: `${name}/task-train.jsonl`, taskTest: `${name}/task-test.jsonl`, labels: `${name}/labels.json` })),
  };
  const sequence = join(dir, 'sequence.json');
  writeFileSync(sequence, JSON.stringify(seq, null, 2));
  const model = join(dir, 'base');
  const allText = [...Object.values(corpora).flat(), ...Object.values(CUES).flat()];
  await writeTinyModel(model, allText);
  return { dir, sequence, model, domains };
}

/** A random tiny RoBERTa (width 16, 2 heads, 1 layer, FFN 32, 66 positions) with a BPE tokenizer trained on `text`. */
export async function writeTinyModel(dir: string, text: readonly string[], seed = 3): Promise<void> {
  const tok = trainBpe(text, { vocabSize: 320, minFrequency: 1 });
  const c = parseConfig({
    model_type: 'roberta', vocab_size: tok.vocabSize, hidden_size: 16, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 32,
    max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2,
  });
  if (E.isLeft(c)) throw c.left;
  const params = initParams(c.right, key(seed), cpu(), { mlm: true });
  await saveCheckpoint(dir, c.right, params, tokenizerFiles(tok));
  release(params);
}
