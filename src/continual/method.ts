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
import type { ScoreKind } from '../eval/report.js';

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
  /**
   * Method-specific settings by flag name (e.g. 'kd-weight': 1), as given; absent ones take the
   * method's default (Method.options, read with `optionOf`). Absent when none is given, so runs
   * without them record the settings they always did.
   */
  options?: Readonly<Record<string, number | string>>;
}

/** A method's own setting: its flag (`--<name>`), type, default and help. */
export interface MethodOption {
  kind: 'number' | 'int' | 'string';
  default: number | string;
  help: string;
  choices?: readonly string[];
  /** Smallest allowed value (inclusive) / strictly greater than. */
  min?: number;
  gt?: number;
}

/**
 * One training batch of a domain on the device: the MLM-corrupted ids, the original ids and the MLM
 * targets. With gradient accumulation it is a micro-batch, and `share` is its part of the optimizer
 * step: the loss (and each logged part) must then be the micro-batch's contribution to the whole
 * batch's value, token-mean terms × share.tokens and sequence-mean terms × share.rows, so that the
 * sums over micro-batches are the whole batch's. Absent: the whole batch.
 */
export interface DomainBatch {
  corrupted: Batch; original: Batch; targets: MlmTargets; share?: Share;
  /** The optimizer step (0-based) and, with gradient accumulation, the micro-batch's index in it. */
  step: number;
  micro?: number;
}

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
  /** The prior outputs the domain was trained with (as DomainEnv.priors; EWC: the previous Fisher, DER++: the previous buffer). */
  priors?: readonly string[];
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
  /** One line for --help and the docs: what it trains and what it regularises. */
  readonly summary?: string;
  /** How its scores are read (default 'matrix'). */
  readonly scores?: ScoreKind;
  /** The common post-training flags it reads beyond steps, batch, lengths and lr (e.g. DAS: contrast-weight); any other given is refused. */
  readonly flags?: readonly string[];
  /** Its own settings (flags `--<name>`), read with optionOf. */
  readonly options?: Readonly<Record<string, MethodOption>>;
  /**
   * The name its post-training is recorded under (settings, checkpoints, model metadata); default
   * `name`. ONE trains every domain exactly as NCL does, from another start: 'ncl'.
   */
  readonly trainsAs?: string;
  /** Starting model of domain t: the model after domain t−1 (continual) or the base model (ONE). */
  startsFrom(ctx: SeedContext, t: number): string | Promise<string>;
  /** End tasks fine-tuned after domain t of `count`: every domain seen so far (progressive matrix), or only t (ONE). */
  evaluates(t: number, count: number): number[];
  /** Whether domain t of `count` is post-trained (default: every one; MTL trains once, on all text, at the last). */
  trainsDomain?(t: number, count: number): boolean;
  /** The text domain t trains on (default: the domain's own corpus; MTL: all domains' training text mixed). */
  corpus?(ctx: SeedContext, t: number): string | Promise<string>;
  /** Its `corpus` is training text already: no held-out lines are split off (MTL's mix holds each domain's training lines only). */
  readonly corpusIsTraining?: boolean;
  /** Optimizer steps of domain t (default: the run's steps per domain). */
  steps?(ctx: SeedContext, t: number): number;
  /** The model fine-tuned on end task k after domain t (default: the model after domain t; HAT: with task k's mask). */
  endTaskModel?(ctx: SeedContext, t: number, k: number): Promise<string>;
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

/** A method's own setting: the value given in the hyper-parameters, or its default. */
export function optionOf<T extends number | string>(m: Pick<Method, 'name' | 'options'>, hyper: Pick<PosttrainHyper, 'options'>, name: string): T {
  const spec = m.options?.[name];
  if (spec === undefined) throw new Error(`method ${m.name} has no setting '${name}'`);
  return (hyper.options?.[name] ?? spec.default) as T;
}

/** Every own setting of a method with its value (given or default): recorded in settings.json. */
export const optionValues = (m: Pick<Method, 'name' | 'options'>, hyper: Pick<PosttrainHyper, 'options'>): Record<string, number | string> =>
  Object.fromEntries(Object.keys(m.options ?? {}).map((k) => [k, optionOf(m, hyper, k)]));
