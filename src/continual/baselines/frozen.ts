// A frozen copy of a model for the regularising baselines: KD's teacher, EWC's anchor θ* (the model a
// domain starts from). Only the tree post-training trains (encoder + MLM head; no classifier), checked
// against the shape of the model being trained.
import type { Backend } from '../../backend/backend.js';
import { E } from '../../fp.js';
import { loadCheckpoint } from '../../io/hf-roberta.js';
import type { RobertaConfig } from '../../nn/config.js';
import type { Params } from '../../nn/params.js';
import { release } from '../../tensor/scope.js';

/** The trained part of a parameter tree: everything but the classification head (not released: the same tensors). */
export function trainable(p: Params): Params {
  const { classifier: _head, ...rest } = p;
  return rest;
}

const SHAPE: readonly (keyof RobertaConfig)[] = ['vocabSize', 'width', 'heads', 'layers', 'intermediate', 'maxPositions', 'typeVocabSize'];

/** Loads `dir` (a Hugging Face directory) as a constant tree of `cfg`'s shape with an MLM head; the caller releases it. */
export async function loadFrozen(dir: string, cfg: RobertaConfig, backend: Backend, what: string): Promise<Params> {
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) throw ck.left;
  const params = trainable(ck.right.params);
  release(ck.right.params.classifier);
  const differs = SHAPE.filter((k) => ck.right.cfg[k] !== cfg[k]);
  if (differs.length > 0) {
    release(params);
    throw new Error(`${what} ${dir} is not the shape of the model being trained (${differs.map((k) => `${k} ${ck.right.cfg[k]} ≠ ${cfg[k]}`).join(', ')})`);
  }
  if (params.lmHead === undefined) {
    release(params);
    throw new Error(`${what} ${dir} has no MLM head (lm_head.*)`);
  }
  return params;
}
