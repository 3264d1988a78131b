// Parameter trees of the RoBERTa encoder, the MLM head and the classification head (PyTorch layout:
// Linear.weight is [out, in]). Hugging Face names appear only in src/io/hf-roberta.ts.
import type { Backend } from '../backend/backend.js';
import { type Key, foldIn, randomNormal } from '../ops/random.js';
import { full, zeros } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RobertaConfig } from './config.js';

export interface Linear { weight: Tensor; bias: Tensor }
export interface Norm { weight: Tensor; bias: Tensor }

export interface LayerParams {
  query: Linear; key: Linear; value: Linear; attnOut: Linear; attnNorm: Norm;
  ffnIn: Linear; ffnOut: Linear; ffnNorm: Norm;
}

export interface Embeddings { word: Tensor; position: Tensor; tokenType: Tensor; norm: Norm }
export interface MlmHead { dense: Linear; norm: Norm; bias: Tensor }
export interface ClassifierHead { dense: Linear; out: Linear }

export interface EncoderParams { embeddings: Embeddings; layers: LayerParams[] }
export interface Params extends EncoderParams { lmHead?: MlmHead; classifier?: ClassifierHead }

/** Per-layer virtual gates (docs/method.md §2.3): head [H], intermediate [F], output [D]. */
export interface LayerGates { head: Tensor; intermediate: Tensor; output: Tensor }
export type Gates = LayerGates[];

interface InitCtx { backend: Backend; std: number; key: Key; n: number }
const normal = (c: InitCtx, shape: number[]): Tensor => randomNormal(foldIn(c.key, c.n++), shape, { std: c.std, backend: c.backend });
const linear = (c: InitCtx, out: number, inp: number): Linear => ({ weight: normal(c, [out, inp]), bias: zeros([out], { backend: c.backend }) });
const norm = (c: InitCtx, d: number): Norm => ({ weight: full([d], 1, { backend: c.backend }), bias: zeros([d], { backend: c.backend }) });

/** Fresh parameters as transformers initialises them: normal(0, initializerRange), zero biases, unit norms. */
export function initParams(cfg: RobertaConfig, key: Key, backend: Backend, heads: { mlm?: boolean; classes?: number } = { mlm: true }): Params {
  const c: InitCtx = { backend, std: cfg.initializerRange, key, n: 0 };
  const D = cfg.width;
  const embeddings: Embeddings = {
    word: normal(c, [cfg.vocabSize, D]), position: normal(c, [cfg.maxPositions, D]), tokenType: normal(c, [cfg.typeVocabSize, D]), norm: norm(c, D),
  };
  const layers = Array.from({ length: cfg.layers }, (): LayerParams => ({
    query: linear(c, D, D), key: linear(c, D, D), value: linear(c, D, D), attnOut: linear(c, D, D), attnNorm: norm(c, D),
    ffnIn: linear(c, cfg.intermediate, D), ffnOut: linear(c, D, cfg.intermediate), ffnNorm: norm(c, D),
  }));
  const p: Params = { embeddings, layers };
  if (heads.mlm) p.lmHead = { dense: linear(c, D, D), norm: norm(c, D), bias: zeros([cfg.vocabSize], { backend }) };
  if (heads.classes !== undefined) p.classifier = initClassifier(cfg, heads.classes, foldIn(key, 1 << 20), backend);
  return p;
}

export function initClassifier(cfg: RobertaConfig, classes: number, key: Key, backend: Backend): ClassifierHead {
  const c: InitCtx = { backend, std: cfg.initializerRange, key, n: 0 };
  return { dense: linear(c, cfg.width, cfg.width), out: linear(c, classes, cfg.width) };
}

/** Gates of ones: the plain model. */
export const onesGates = (cfg: RobertaConfig, backend: Backend): Gates =>
  Array.from({ length: cfg.layers }, () => ({
    head: full([cfg.heads], 1, { backend }), intermediate: full([cfg.intermediate], 1, { backend }), output: full([cfg.width], 1, { backend }),
  }));
