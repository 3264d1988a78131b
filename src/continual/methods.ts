// The methods of `das run` as records (see method.ts for the shape): DAS, NCL (naive continual MLM)
// and ONE (each domain separately from the base model). A baseline is one more record here plus its
// maths (e.g. KD: a teacher loaded in `domain` and a KL term in `loss`; EWC: a Fisher computed in
// `afterDomain` and a penalty in `loss`; DER++: a replay buffer filled in `afterDomain`).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contrastDefaults, dasLoss } from '../das/contrastive.js';
import { accumulateDirs, writeDomainImportance } from '../das-files/domain-importance.js';
import { toLayerGates } from '../das/importance.js';
import { dasSettings } from '../das/settings.js';
import { softMask, softMaskScales } from '../das/soft-mask.js';
import { domainChunks } from '../data/mlm-data.js';
import { E } from '../fp.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { type Tokenizer, loadTokenizer } from '../io/tokenizer/index.js';
import type { Backend } from '../backend/backend.js';
import type { RobertaConfig } from '../nn/config.js';
import { mlmLoss } from '../nn/mlm.js';
import { scalarOp } from '../ops/binary.js';
import type { Params } from '../nn/params.js';
import { release } from '../tensor/scope.js';
import type { AfterDomainEnv, DomainEnv, DomainTraining, Method, SeedContext } from './method.js';

export const domainDir = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(ctx.dir, `${t}-${ctx.domains[t].name}`);
export const modelOf = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(domainDir(ctx, t), 'model');

const continual = (ctx: SeedContext, t: number) => (t === 0 ? ctx.base : modelOf(ctx, t - 1));
const seen = (t: number) => Array.from({ length: t + 1 }, (_, k) => k);
const nothing = async () => {};

/** Where the KL-proxy importance of the base model lives (computed once per seed, before domain 0). */
export const klDir = (ctx: Pick<SeedContext, 'dir'>): string => join(ctx.dir, 'kl-importance');

/** Plain MLM (dropout by the step's key): NCL's and ONE's loss. */
const mlmTraining = async (env: DomainEnv): Promise<DomainTraining> => ({
  loss: (params, b, dk) => {
    const l = mlmLoss(env.cfg, params, b.corrupted, b.targets, dk ? { dropout: { key: dk } } : {});
    return [b.share === undefined ? l : scalarOp('mul', l, b.share.tokens), {}];   // a micro-batch: its share of the step's tokens
  },
  release: () => {},
});

/** Runs `f` on a checkpoint and its tokenizer, releasing the parameters afterwards. */
async function withModel<T>(dir: string, backend: Backend, f: (m: { cfg: RobertaConfig; params: Params; tok: Tokenizer }) => Promise<T>): Promise<T> {
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) throw ck.left;
  try {
    const tok = await loadTokenizer(dir);
    if (E.isLeft(tok)) throw tok.left;
    return await f({ cfg: ck.right.cfg, params: ck.right.params, tok: tok.right });
  } finally {
    release(ck.right.params);
  }
}

/** I_KL: the KL-proxy importance of the base model on domain 0's importance subset (§1 step 1, §5). */
async function klImportance(ctx: SeedContext): Promise<void> {
  const out = klDir(ctx);
  if (existsSync(out)) return;
  await withModel(ctx.base, ctx.backend, async ({ cfg, params, tok }) => {
    const settings = dasSettings(ctx.hyper.referenceCompat);
    ctx.log(`das: KL-proxy importance of the base model on ${ctx.domains[0].name}`);
    await writeDomainImportance(cfg, params, domainChunks(ctx.domains[0].train, tok, ctx.hyper.seqLen), tok, out, {
      loss: 'kl', aggregation: settings.aggregation, dropout: settings.klDropout,
      subset: ctx.hyper.importanceSubset, batchSize: ctx.hyper.importanceBatchSize, seed: ctx.seed + 104729, meta: { model: ctx.base, data: ctx.domains[0].train },
    });
  });
  ctx.counters.importance++;
}

/** DAS's domain: Ī = EMax of the prior sets gates the previous-knowledge pass; the soft mask scales the gradient (or the update). */
async function dasTraining(env: DomainEnv): Promise<DomainTraining> {
  const settings = dasSettings(env.hyper.referenceCompat);
  const acc = await accumulateDirs(env.priors, env.cfg, env.backend);
  const importance = toLayerGates(acc);
  release(acc);
  const scales = softMaskScales(importance, env.cfg, settings.axes);
  const mask = softMask<Params>(scales);
  const onUpdate = (env.hyper.softMaskTarget ?? 'gradient') === 'update';
  return {
    loss: (params, b, dk) => {
      const [total, aux] = dasLoss(env.cfg, params, { corrupted: b.corrupted, original: b.original }, b.targets, {
        importance, dropoutKey: dk, pairing: settings.pairing, contrastWeight: env.hyper.contrastWeight ?? contrastDefaults.contrastWeight, share: b.share,
      });
      return [total, { mlm: aux.mlm, contrast: aux.contrast }];
    },
    // The soft mask's place in the chain is its target: before AdamW on the gradient, after it on the whole update.
    ...(onUpdate ? { after: [mask] } : { before: [mask] }),
    release: () => release(importance, [...scales.values()]),
  };
}

/** I_MLM of domain t: the MLM importance of the trained model on the domain's importance subset (§4.3), unless written already. */
async function mlmImportance(env: AfterDomainEnv): Promise<boolean> {
  const out = join(env.out, 'importance');
  if (existsSync(out)) return false;
  await withModel(env.model, env.backend, async ({ cfg, params, tok }) => {
    const settings = dasSettings(env.hyper.referenceCompat);
    env.log(`posttrain: MLM importance of ${env.model} on the first ${env.hyper.importanceSubset} chunks`);
    await writeDomainImportance(cfg, params, domainChunks(env.corpus, tok, env.hyper.seqLen), tok, out, {
      loss: 'mlm', aggregation: settings.aggregation, mlmInput: settings.mlmInput, dropout: env.hyper.dropout,
      subset: env.hyper.importanceSubset, batchSize: env.hyper.importanceBatchSize, seed: env.hyper.seed + 7919, meta: { model: env.model, data: env.corpus },
    });
  });
  return true;
}

/** DAS: KL importance first; domain t is soft-masked by EMax(I_KL, I_MLM^(0..t−1)); afterwards I_MLM^(t). */
export const das: Method = {
  name: 'das',
  startsFrom: continual,
  evaluates: seen,
  prepare: klImportance,
  priors: (ctx, t) => [klDir(ctx), ...Array.from({ length: t }, (_, k) => join(domainDir(ctx, k), 'importance'))],
  needsPriors: true,
  priorsHint: 'prior importance (--importance DIR…): before the first domain the KL-proxy importance of the base model (das importance --loss kl)',
  domain: dasTraining,
  afterDomain: mlmImportance,
  afterDomainOutput: 'importance',
  settings: (h) => ({ importanceSubset: h.importanceSubset, importanceBatchSize: h.importanceBatchSize }),
};

/** NCL: naive continual MLM post-training, one domain after another. */
export const ncl: Method = {
  name: 'ncl',
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  domain: mlmTraining,
  sameDomainAs: (t) => (t === 0 ? 'one' : undefined),
};

/** ONE: each domain post-trained separately from the base model, exactly as NCL trains it; only its own end task (the diagonal). */
export const one: Method = {
  name: 'one',
  trainsAs: 'ncl',
  startsFrom: (ctx) => ctx.base,
  evaluates: (t) => [t],
  prepare: nothing,
  domain: mlmTraining,
  sameDomainAs: (t) => (t === 0 ? 'ncl' : undefined),
};

export const METHODS: Readonly<Record<string, Method>> = { das, ncl, one };
export const methodNames = Object.keys(METHODS);

/** The method record of a name, or an error listing the names. */
export function methodByName(name: string): Method {
  const m = METHODS[name];
  if (m === undefined) throw new Error(`unknown method '${name}' (choose from ${methodNames.join(', ')})`);
  return m;
}
