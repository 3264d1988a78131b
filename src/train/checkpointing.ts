// Resumable training checkpoints: a Hugging Face directory (config, weights, tokenizer) plus the
// AdamW moments and a trainer_state.json. Written atomically: a crash keeps the previous checkpoint.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { loadCheckpoint, paramsFromHf, paramsToHf, saveCheckpoint } from '../io/hf-roberta.js';
import { readSafetensors, serializeSafetensors, type HostArray as StArray } from '../io/safetensors.js';
import { type Tokenizer, mergesTxt, tokenizerJson, vocabJson } from '../io/tokenizer/index.js';
import type { RobertaConfig } from '../nn/config.js';
import type { Params } from '../nn/params.js';
import type { TrainerState } from './loop.js';
import type { TrainState } from './mlm-step.js';

export type { TrainerState } from './loop.js';

export const tokenizerFiles = (tok: Tokenizer): Record<string, string> => ({
  'tokenizer.json': tokenizerJson(tok), 'vocab.json': vocabJson(tok), 'merges.txt': mergesTxt(tok),
});

export async function saveTrainCheckpoint(dir: string, cfg: RobertaConfig, s: TrainState, tok: Tokenizer, state: TrainerState): Promise<void> {
  const moments = new Map<string, StArray>();
  for (const [k, v] of await paramsToHf(cfg, s.opt.m)) moments.set(`m.${k}`, v);
  for (const [k, v] of await paramsToHf(cfg, s.opt.v)) moments.set(`v.${k}`, v);
  await saveCheckpoint(dir, cfg, s.params, {
    ...tokenizerFiles(tok),
    'optimizer.safetensors': serializeSafetensors(moments, { step: String(s.opt.step) }),
    'trainer_state.json': `${JSON.stringify(state, null, 2)}\n`,
  });
}

export async function loadTrainCheckpoint(dir: string, backend: Backend): Promise<E.Either<Error, { cfg: RobertaConfig; s: TrainState; state: TrainerState }>> {
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) return ck;
  const { cfg, params } = ck.right;
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch (e) {
    return E.left(new Error(`${join(dir, 'trainer_state.json')}: ${(e as Error).message}`));
  }
  const opt = await readSafetensors(join(dir, 'optimizer.safetensors'));
  if (E.isLeft(opt)) return opt;
  const part = (prefix: string): E.Either<Error, Params> => {
    const m = new Map<string, StArray>();
    for (const [k, v] of opt.right.tensors) if (k.startsWith(prefix)) m.set(k.slice(prefix.length), v);
    return paramsFromHf(cfg, m, backend, join(dir, 'optimizer.safetensors'));
  };
  const m = part('m.'), v = part('v.');
  if (E.isLeft(m)) return m;
  if (E.isLeft(v)) return v;
  const step = Number(opt.right.metadata.step ?? state.step);
  return E.right({ cfg, s: { params: params as Params, opt: { step, m: m.right, v: v.right } }, state });
}
