// Continual-learning methods of `das run` behind one interface (docs/method.md §1, §8): DAS, NCL (naive
// continual MLM) and ONE (each domain separately from the base model). A method says where each
// domain starts, which end tasks are evaluated after it, and what it does before the sequence
// (prepare), for a domain (trainDomain) and after it (afterDomain). Baselines still to come fit as
// small additions: KD and EWC = NCL + `extraLoss` (a distillation term against the previous model,
// or the Fisher penalty whose Fisher afterDomain computes); DER++ = NCL + a replay buffer filled in
// afterDomain and mixed in by extraLoss; HAT = DAS-like gates learned per domain in afterDomain.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { release } from '../tensor/scope.js';
import type { SequenceDomain } from '../data/validate.js';
import { writeDomainImportance } from './domain-importance.js';
import { type ExtraLoss, type PosttrainMethod, type PosttrainResult, dasSettings, domainChunks, posttrain } from './posttrain.js';
import type { SoftMaskTarget } from './soft-mask.js';
import type { ProgressFactory } from '../train/progress.js';

export interface PosttrainHyper {
  steps: number;
  batchSize: number;
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
  /** Starting model of domain t: the model after domain t−1 (continual) or the base model (ONE). */
  startsFrom(ctx: SeedContext, t: number): string;
  /** End tasks fine-tuned after domain t: every domain seen so far (progressive matrix), or only t (ONE). */
  evaluates(t: number): number[];
  prepare(ctx: SeedContext): Promise<void>;
  trainDomain(ctx: SeedContext, t: number, from: string, out: string): Promise<PosttrainResult>;
  afterDomain(ctx: SeedContext, t: number, out: string): Promise<void>;
  /**
   * A method whose domain-t output is bit-identical to this one's (same starting model, same
   * training, same seed): `das run` copies that finished domain instead of training it again.
   */
  sameDomainAs?(t: number): string | undefined;
}

export const domainDir = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(ctx.dir, `${t}-${ctx.domains[t].name}`);
export const modelOf = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(domainDir(ctx, t), 'model');

/** Post-trains domain t with the run's hyper-parameters. */
export function posttrainDomain(ctx: SeedContext, t: number, from: string, out: string, method: PosttrainMethod, extra: { importance?: string[]; extraLoss?: ExtraLoss } = {}): Promise<PosttrainResult> {
  const h = ctx.hyper;
  return posttrain({
    model: from, corpus: ctx.domains[t].train, out, method, importance: extra.importance, extraLoss: extra.extraLoss,
    steps: h.steps, batchSize: h.batchSize, seqLen: h.seqLen, lr: h.lr, seed: ctx.seed, warmup: h.warmup, contrastWeight: h.contrastWeight,
    referenceCompat: h.referenceCompat, softMaskTarget: h.softMaskTarget, saveEvery: h.saveEvery,
    importanceSubset: h.importanceSubset, importanceBatchSize: h.importanceBatchSize, backend: ctx.backend, quiet: ctx.quiet, progress: ctx.progress, adoptExisting: true,
    signal: ctx.signal, onStep: ctx.onStep && ((step, loss) => ctx.onStep!(t, step, loss)),
  });
}

const continual = (ctx: SeedContext, t: number) => (t === 0 ? ctx.base : modelOf(ctx, t - 1));
const seen = (t: number) => Array.from({ length: t + 1 }, (_, k) => k);
const nothing = async () => {};

/** Where the KL-proxy importance of the base model lives (computed once per seed, before domain 0). */
export const klDir = (ctx: Pick<SeedContext, 'dir'>): string => join(ctx.dir, 'kl-importance');

/** I_KL: the KL-proxy importance of the base model on domain 0's importance subset (§1 step 1, §5). */
async function klImportance(ctx: SeedContext): Promise<void> {
  const out = klDir(ctx);
  if (existsSync(out)) return;
  const ck = await loadCheckpoint(ctx.base, ctx.backend);
  if (E.isLeft(ck)) throw ck.left;
  try {
    const tok = await loadTokenizer(ctx.base);
    if (E.isLeft(tok)) throw tok.left;
    const settings = dasSettings(ctx.hyper.referenceCompat);
    ctx.log(`das: KL-proxy importance of the base model on ${ctx.domains[0].name}`);
    await writeDomainImportance(ck.right.cfg, ck.right.params, domainChunks(ctx.domains[0].train, tok.right, ctx.hyper.seqLen), tok.right, out, {
      loss: 'kl', aggregation: settings.aggregation, dropout: settings.klDropout,
      subset: ctx.hyper.importanceSubset, batchSize: ctx.hyper.importanceBatchSize, seed: ctx.seed + 104729, meta: { model: ctx.base, data: ctx.domains[0].train },
    });
    ctx.counters.importance++;
  } finally {
    release(ck.right.params);
  }
}

/** DAS: KL importance first; domain t is soft-masked by EMax(I_KL, I_MLM^(0..t−1)); posttrain writes I_MLM^(t). */
export const das: Method = {
  name: 'das',
  startsFrom: continual,
  evaluates: seen,
  prepare: klImportance,
  trainDomain: (ctx, t, from, out) =>
    posttrainDomain(ctx, t, from, out, 'das', { importance: [klDir(ctx), ...Array.from({ length: t }, (_, k) => join(domainDir(ctx, k), 'importance'))] }),
  afterDomain: nothing,
};

/** NCL: naive continual MLM post-training, one domain after another. */
export const ncl: Method = {
  name: 'ncl',
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  trainDomain: (ctx, t, from, out) => posttrainDomain(ctx, t, from, out, 'ncl'),
  afterDomain: nothing,
  sameDomainAs: (t) => (t === 0 ? 'one' : undefined),
};

/** ONE: each domain post-trained separately from the base model; only its own end task (the diagonal). */
export const one: Method = {
  name: 'one',
  startsFrom: (ctx) => ctx.base,
  evaluates: (t) => [t],
  prepare: nothing,
  trainDomain: (ctx, t, from, out) => posttrainDomain(ctx, t, from, out, 'ncl'),
  afterDomain: nothing,
  sameDomainAs: (t) => (t === 0 ? 'ncl' : undefined),
};

export const METHODS: Readonly<Record<string, Method>> = { das, ncl, one };
export const methodNames = Object.keys(METHODS);
