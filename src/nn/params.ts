// Parameter trees of the RoBERTa encoder, the MLM head and the classification head (PyTorch layout:
// Linear.weight is [out, in]). Hugging Face names appear only in src/io/hf-roberta.ts.
import type { Backend } from '../backend/backend.js';
import { type Key, foldIn, randomNormal, threefry2x32 } from '../ops/random.js';
import { full, zeros } from '../ops/creation.js';
import { gather } from '../ops/embedding.js';
import { tidy } from '../tensor/scope.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import type { RobertaConfig } from './config.js';

export interface Linear { weight: Tensor; bias: Tensor }
export interface Norm { weight: Tensor; bias: Tensor }

export interface LayerParams {
  query: Linear; key: Linear; value: Linear; attnOut: Linear; attnNorm: Norm;
  ffnIn: Linear; ffnOut: Linear; ffnNorm: Norm;
  /** Houlsby adapters after the attention and FFN sub-layers (docs/adapters.md); absent: the plain layer. */
  adapter?: LayerAdapters;
}

/** A bottleneck adapter x ↦ x + up(GELU(down(x))): down.weight [r, D], down.bias [r]; up.weight [D, r], up.bias [D]. */
export interface Adapter { down: Linear; up: Linear }
/** The two adapters of one layer: after the attention output (attn) and after the FFN output (ffn). */
export interface LayerAdapters { attn: Adapter; ffn: Adapter }

export interface Embeddings { word: Tensor; position: Tensor; tokenType: Tensor; norm: Norm }
export interface MlmHead { dense: Linear; norm: Norm; bias: Tensor }
export interface ClassifierHead { dense: Linear; out: Linear }

export interface EncoderParams {
  embeddings: Embeddings; layers: LayerParams[];
  /** Soft prompt [n, D]: n rows prepended to every embedded sequence (docs/adapters.md); absent: none. */
  prompt?: Tensor;
}
export interface Params extends EncoderParams {
  lmHead?: MlmHead; classifier?: ClassifierHead;
  /**
   * A method's own trained tensors outside the network, by name (letters, digits, _ and -; HAT's task
   * embeddings): trained and saved with the model (as `das.extra.<name>`), never read by the forward.
   */
  extra?: Record<string, Tensor>;
}

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

/** Houlsby et al.'s reduction factor: the adapter bottleneck has width / 16 units. */
export const ADAPTER_REDUCTION = 16;
/** Bottleneck units r of the adapters of a model: max(1, ⌊width / 16⌋). */
export function adapterUnits(cfg: Pick<RobertaConfig, 'width'>): number { return Math.max(1, Math.floor(cfg.width / ADAPTER_REDUCTION)); }

/**
 * Fresh adapters, one pair per layer: down.weight normal(0, initializerRange), up.weight and both biases
 * zero, so a fresh adapter is exactly the identity (the model's output is unchanged bit for bit).
 */
export function initAdapters(cfg: RobertaConfig, key: Key, backend: Backend, units: number = adapterUnits(cfg)): LayerAdapters[] {
  if (!Number.isSafeInteger(units) || units < 1) throw new Error(`initAdapters: units must be a positive integer, got ${units}`);
  const c: InitCtx = { backend, std: cfg.initializerRange, key, n: 0 };
  const D = cfg.width;
  const one = (): Adapter => ({
    down: { weight: normal(c, [units, D]), bias: zeros([units], { backend }) },
    up: { weight: zeros([D, units], { backend }), bias: zeros([D], { backend }) },
  });
  return Array.from({ length: cfg.layers }, () => ({ attn: one(), ffn: one() }));
}

/** The first token id a soft prompt may copy: 0–3 are RoBERTa's <s>, <pad>, </s>, <unk>. */
const FIRST_PROMPT_ID = 4;

/**
 * A soft prompt [n, D]: the word-embedding rows (word: [V, D]) of n token ids drawn uniformly, with
 * replacement, among ids ≥ 4 (special tokens skipped); deterministic from `key`. A new tensor.
 */
export function initPrompt(word: Tensor, n: number, key: Key): Tensor {
  if (word.shape.length !== 2) throw new Error(`initPrompt: word embeddings must be [V, D], got [${word.shape.join(', ')}]`);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`initPrompt: the prompt length must be a positive integer, got ${n}`);
  const V = word.shape[0];
  if (V <= FIRST_PROMPT_ID) throw new Error(`initPrompt: a vocabulary of ${V} has no token id ≥ ${FIRST_PROMPT_ID} to copy`);
  const ids = Int32Array.from({ length: n }, (_, i) => FIRST_PROMPT_ID + (threefry2x32(key, i, 3)[0] % (V - FIRST_PROMPT_ID)));
  return tidy(() => gather(word, fromArray(ids, [n], { dtype: 'i32', backend: word.backend })));
}

/** `p` with the given adapters on its layers (one per layer); shares every tensor. */
export function withAdapters<P extends EncoderParams>(p: P, a: readonly LayerAdapters[]): P {
  if (a.length !== p.layers.length) throw new Error(`withAdapters: ${a.length} adapter pairs given, the model has ${p.layers.length} layers`);
  return { ...p, layers: p.layers.map((layer, l) => ({ ...layer, adapter: a[l] })) };
}

/** The adapters of every layer, or undefined when the model has none (an adapter on only some layers is an error). */
export function adaptersOf(p: EncoderParams): LayerAdapters[] | undefined {
  const n = p.layers.filter((l) => l.adapter !== undefined).length;
  if (n === 0) return undefined;
  if (n !== p.layers.length) throw new Error(`adaptersOf: only ${n} of ${p.layers.length} layers have adapters`);
  return p.layers.map((l) => l.adapter!);
}
