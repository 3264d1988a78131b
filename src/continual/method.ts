// What a continual-learning method is: a record of data and functions (docs/method.md §1). The
// training loop, post-training of a domain and `das run` know no method by name; a method says
//   - where each domain starts and which end tasks are evaluated after it (the sequence);
//   - what it needs before the first domain (`prepare`) and from earlier domains (`priors`);
//   - for one domain: its extra state (loaded once), its loss and its gradient transformations
//     around AdamW (`domain`);
//   - what it does once a domain is trained (`afterDomain`).
// Adding a baseline is a new record (plus its maths), with no edit to the loop.
import type { Backend } from '../backend/backend.js';
import type { SequenceDomain } from '../data/validate.js';
import type { RobertaConfig } from '../nn/config.js';
import type { MlmTargets } from '../nn/mlm.js';
import type { Batch } from '../nn/roberta.js';
import type { Params } from '../nn/params.js';
import type { Key } from '../ops/random.js';
import type { EmptyState, GradientTransformation } from '../optim/transform.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ProgressFactory } from '../train/progress.js';
import type { SoftMaskTarget } from '../das/soft-mask.js';
import type { Share } from '../train/accumulate.js';

/** Post-training hyper-parameters of a run (one value for every domain). */
export interface PosttrainHyper {
  steps: number;
  /** Chunks per micro-batch (the whole batch without gradient accumulation). */
  batchSize: number;
  /** Micro-batches per optimizer step (default 1; train/accumulate.ts): a step trains on gradAccum × batchSize chunks. */
  gradAccum?: number;
  seqLen: number;
  lr: number;
  warmup?: number;
  contrastWeight?: number;
  referenceCompat?: boolean;
  softMaskTarget?: SoftMaskTarget;
  saveEvery?: number;
  importanceSubset: number;
  importanceBatchSize: number;
}

/**
 * One training batch of a domain on the device: the MLM-corrupted ids, the original ids and the MLM
 * targets. With gradient accumulation it is a micro-batch, and `share` is its part of the optimizer
 * step: the loss (and each logged part) must then be the micro-batch's contribution to the whole
 * batch's value, token-mean terms × share.tokens and sequence-mean terms × share.rows, so that the
 * sums over micro-batches are the whole batch's. Absent: the whole batch.
 */
export interface DomainBatch { corrupted: Batch; original: Batch; targets: MlmTargets; share?: Share }

/** What a method's per-domain set-up gets: the model's shape and the domain's settings. */
export interface DomainEnv {
  cfg: RobertaConfig;
  backend: Backend;
  /** Prior outputs this domain builds on (e.g. DAS: importance directories), from `priors` or the command line. */
  priors: readonly string[];
  hyper: Omit<PosttrainHyper, 'importanceSubset' | 'importanceBatchSize'> & { seed: number; dropout: boolean };
}

/** A stateless gradient transformation (its state is EmptyState): soft masks, scalings, … */
export type Stateless = GradientTransformation<EmptyState, Params>;

/** A method's training of one domain: loss, transformations around AdamW, and its state's release. */
export interface DomainTraining {
  /** The loss of one step: the scalar to differentiate and named parts to log (e.g. DAS: mlm, contrast). */
  loss(params: Params, batch: DomainBatch, dropoutKey: Key | undefined): [Tensor, Record<string, Tensor>];
  /**
   * The optimizer is `chain(...before, adamw, ...after)` (HF AdamW, docs/method.md §7.1): `before`
   * acts on the gradient, `after` on AdamW's update (e.g. DAS's soft mask, by its target).
   */
  before?: readonly Stateless[];
  after?: readonly Stateless[];
  /** Releases the state loaded for the domain. */
  release(): void;
}

/** What `afterDomain` gets: the trained model and the domain's settings. */
export interface AfterDomainEnv {
  /** The trained model (Hugging Face directory). */
  model: string;
  /** The domain's post-training output directory. */
  out: string;
  corpus: string;
  backend: Backend;
  hyper: PosttrainHyper & { seed: number; dropout: boolean };
  log: (s: string) => void;
}

/** Work done, counted across invocations (a resumed run must not redo finished steps). */
export interface Counters { posttrain: number; importance: number; finetune: number }

/** Everything a method needs for one seed of one run. */
export interface SeedContext {
  /** The base model (Hugging Face directory). */
  base: string;
  domains: readonly SequenceDomain[];
  seed: number;
  /** <out>/<method>/seed-<seed> */
  dir: string;
  hyper: PosttrainHyper;
  backend: Backend;
  counters: Counters;
  quiet?: boolean;
  progress?: ProgressFactory;
  log: (s: string) => void;
  signal?: AbortSignal;
  /** Called after every post-training step of domain t. */
  onStep?: (t: number, step: number, loss: number) => void;
}

export interface Method {
  readonly name: string;
  /**
   * The name its post-training is recorded under (settings, checkpoints, model metadata); default
   * `name`. ONE trains every domain exactly as NCL does, from another start: 'ncl'.
   */
  readonly trainsAs?: string;
  /** Starting model of domain t: the model after domain t−1 (continual) or the base model (ONE). */
  startsFrom(ctx: SeedContext, t: number): string;
  /** End tasks fine-tuned after domain t: every domain seen so far (progressive matrix), or only t (ONE). */
  evaluates(t: number): number[];
  /** Before the first domain (DAS: the KL-proxy importance of the base model). */
  prepare(ctx: SeedContext): Promise<void>;
  /** Earlier outputs domain t builds on (DAS: the KL-proxy and earlier MLM importance directories). */
  priors?(ctx: SeedContext, t: number): string[];
  /** Domains need priors (post-training without them is refused, with `priorsHint` as the reason). */
  readonly needsPriors?: boolean;
  readonly priorsHint?: string;
  /** Set-up of one domain's training (loads the method's extra state). */
  domain(env: DomainEnv): Promise<DomainTraining>;
  /** After a domain is trained (DAS: the MLM importance of the trained model); returns whether it did work. */
  afterDomain?(env: AfterDomainEnv): Promise<boolean>;
  /** The directory afterDomain writes under a domain's output (recorded in the result), if any. */
  readonly afterDomainOutput?: string;
  /** Settings beyond the common ones that decide this method's output (recorded in settings.json). */
  settings?(hyper: PosttrainHyper): Record<string, unknown>;
  /**
   * A method whose domain-t output is bit-identical to this one's (same starting model, same
   * training, same seed): `das run` copies that finished domain instead of training it again.
   */
  sameDomainAs?(t: number): string | undefined;
}

/** The name a method's post-training is recorded under. */
export const trainsAs = (m: Method): string => m.trainsAs ?? m.name;
