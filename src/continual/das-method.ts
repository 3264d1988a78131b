// DAS as a method record (docs/method.md §1): the KL-proxy importance of the base model first; each
// domain soft-masked by the EMax of the prior importance sets, with the contrastive loss; afterwards
// the MLM importance of the trained model. `das-update` is the same with the soft mask on AdamW's
// update instead of the gradient (§6.7).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contrastDefaults, dasLoss } from '../das/contrastive.js';
import { accumulateDirs, writeDomainImportance } from '../das-files/domain-importance.js';
import { toLayerGates } from '../das/importance.js';
import { dasSettings } from '../das/settings.js';
import { softMask, softMaskScales } from '../das/soft-mask.js';
import { domainChunks } from '../data/mlm-data.js';
import type { Params } from '../nn/params.js';
import { onesLike, zerosLike } from '../ops/creation.js';
import { release } from '../tensor/scope.js';
import { continual, domainDir, klDir, seen, withModel } from './common.js';
import type { AfterDomainEnv, DomainEnv, DomainTraining, Method, SeedContext } from './method.js';

/** I_KL: the KL-proxy importance of the base model on domain 0's importance subset (§1 step 1, §5). */
export async function klImportance(ctx: SeedContext, out = klDir(ctx), t = 0, who = 'das'): Promise<void> {
  if (existsSync(out)) return;
  await withModel(ctx.base, ctx.backend, async ({ cfg, params, tok }) => {
    const settings = dasSettings(ctx.hyper.referenceCompat);
    ctx.log(`${who}: KL-proxy importance of the base model on ${ctx.domains[t].name}`);
    await writeDomainImportance(cfg, params, domainChunks(ctx.domains[t].train, tok, ctx.hyper.seqLen), tok, out, {
      loss: 'kl', aggregation: settings.aggregation, dropout: settings.klDropout,
      subset: ctx.hyper.importanceSubset, batchSize: ctx.hyper.importanceBatchSize, seed: ctx.seed + 104729, meta: { model: ctx.base, data: ctx.domains[t].train },
    });
  });
  ctx.counters.importance++;
}

/** DAS's domain: Ī = EMax of the prior sets gates the previous-knowledge pass; the soft mask scales the gradient (or the update). */
export async function dasTraining(env: DomainEnv, only?: 'heads'): Promise<DomainTraining> {
  const settings = dasSettings(env.hyper.referenceCompat);
  const acc = await accumulateDirs(env.priors, env.cfg, env.backend);
  const full = toLayerGates(acc);
  release(acc);
  // DGA (heads only): the FFN units are neither gated in the previous-knowledge pass (gate 1) nor masked (importance 0)
  const importance = only === 'heads' ? full.map((g) => ({ head: g.head, intermediate: onesLike(g.intermediate), output: onesLike(g.output) })) : full;
  const maskBy = only === 'heads' ? full.map((g) => ({ head: g.head, intermediate: zerosLike(g.intermediate), output: zerosLike(g.output) })) : full;
  const scales = softMaskScales(maskBy, env.cfg, settings.axes);
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
    release: () => release(full, only === 'heads' ? [importance, maskBy] : [], [...scales.values()]),
  };
}

/** I_MLM of domain t: the MLM importance of the trained model on the domain's importance subset (§4.3), unless written already. */
export async function mlmImportance(env: AfterDomainEnv): Promise<boolean> {
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
  summary: 'continual MLM + contrastive loss; gradients soft-masked by the accumulated importance of units for general and earlier-domain knowledge',
  flags: ['contrast-weight', 'reference-compat', 'soft-mask-target', 'importance-subset', 'importance-batch-size'],
  startsFrom: continual,
  evaluates: seen,
  prepare: (ctx) => klImportance(ctx),
  priors: (ctx, t) => [klDir(ctx), ...Array.from({ length: t }, (_, k) => join(domainDir(ctx, k), 'importance'))],
  needsPriors: true,
  priorsHint: 'prior importance (--importance DIR…): before the first domain the KL-proxy importance of the base model (das importance --loss kl)',
  domain: dasTraining,
  afterDomain: mlmImportance,
  afterDomainOutput: 'importance',
  settings: (h) => ({ importanceSubset: h.importanceSubset, importanceBatchSize: h.importanceBatchSize }),
};


/** DAS with the soft mask on AdamW's update instead of the gradient (§6.7): the study's second DAS. */
export const dasUpdate: Method = {
  ...das,
  name: 'das-update',
  summary: "DAS with the soft mask applied to AdamW's update (after the optimizer) instead of the gradient",
  flags: ['contrast-weight', 'reference-compat', 'importance-subset', 'importance-batch-size'],
  domain: (env) => dasTraining({ ...env, hyper: { ...env.hyper, softMaskTarget: 'update' } }),
  settings: (h) => ({ ...das.settings!(h), softMaskTarget: 'update' }),
};
