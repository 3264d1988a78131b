// EWC (Kirkpatrick et al., 2017) as a continual post-training baseline: naive continual MLM plus
// λ·Σ_i F_i (θ_i − θ*_i)², θ* the model the domain starts from (the previous domain's) and F the running
// mean of the diagonal Fishers of the models after each earlier domain. After each domain the Fisher of
// the trained model (squared per-example MLM gradients, one chunk at a time, dropout off, fixed
// masking) over the domain's first `importanceSubset` chunks is merged with the previous one and written
// to <domain>/fisher/. Domain 0 has no penalty (exactly NCL's training).
//
// Loss scale (λ = 5000, the reference's default): per-example squared gradients of a pre-trained
// RoBERTa's MLM loss are mostly 1e-10…1e-6 per weight, and a domain of AdamW at lr 1e-4 moves weights by
// ~1e-4…1e-2; Σ F·Δθ² over ~1.2e8 weights is then ~1e-6…1e-3 and λ·penalty ~1e-2…1 next to an MLM loss of
// ~2 (an estimate, not measured on roberta-base). It is 0 at the first step of every domain (θ = θ*)
// and grows as the model leaves θ*. Measured on the tiny test model (width 16, 1 layer, random init;
// Fisher of 32 chunks; 20 steps of batch 4 on the second domain, λ 5000): λ·penalty ≈ 1e-3 at lr 1e-4
// and 0.15–0.4 at lr 1e-2 (where it visibly holds the model back), next to an MLM loss of ≈ 5.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { domainChunks } from '../../data/mlm-data.js';
import { add, scalarOp } from '../../ops/binary.js';
import { key } from '../../ops/random.js';
import { release } from '../../tensor/scope.js';
import { continual, domainDir, mlmOf, nothing, seen, withModel } from '../common.js';
import { type AfterDomainEnv, type DomainEnv, type DomainTraining, type Method, type MethodOption, optionOf } from '../method.js';
import { ewcPenalty, fisherOf, mergeFisher, readFisher, writeFisher, zero } from './fisher.js';
import { loadFrozen, trainable } from './frozen.js';

/** Where afterDomain writes the merged Fisher, under the domain's output. */
export const FISHER_DIR = 'fisher';
/** The masking key's offset from the run's seed (the Fisher's MLM corruption is fixed, not the training's). */
const FISHER_SEED = 7927;

const EWC_OPTIONS: Readonly<Record<string, MethodOption>> = {
  'ewc-lambda': { kind: 'number', default: 5000, min: 0, help: 'weight λ of the penalty λ·Σ F·(θ − θ*)² (θ*: the previous model, F: the mean Fisher of the earlier domains)' },
};
const own = { name: 'ewc', options: EWC_OPTIONS };

/** EWC's domain: no prior → plain MLM (ewc part 0); priors [θ* model, Fisher dir] → MLM + λ·penalty. */
async function ewcTraining(env: DomainEnv): Promise<DomainTraining> {
  if (env.priors.length === 0) {
    return { loss: (params, b, dk) => { const mlm = mlmOf(env, params, b, dk); return [mlm, { mlm, ewc: zero(env.backend) }]; }, release: () => {} };
  }
  if (env.priors.length !== 2) throw new Error(`ewc: expects two priors, the model the domain starts from (θ*) and the previous domain's ${FISHER_DIR}/; got ${env.priors.length}`);
  const star = await loadFrozen(env.priors[0], env.cfg, env.backend, 'ewc: the anchor θ*');
  let fisher;
  try {
    ({ fisher } = await readFisher(env.priors[1], star, env.backend));
  } catch (e) {
    release(star);
    throw e;
  }
  const lambda = optionOf<number>(own, env.hyper, 'ewc-lambda');
  return {
    loss: (params, b, dk) => {
      const mlm = mlmOf(env, params, b, dk);
      // one penalty per optimizer step: under gradient accumulation each micro-batch adds its share of the rows (they sum to 1)
      const ewc = scalarOp('mul', ewcPenalty(params, star, fisher), lambda * (b.share?.rows ?? 1));
      return [add(mlm, ewc), { mlm, ewc }];
    },
    release: () => release(star, fisher),
  };
}

/** The merged Fisher after domain t (unless written already): this domain's, averaged with priors[1]'s (the previous merged one). */
async function ewcAfterDomain(env: AfterDomainEnv): Promise<boolean> {
  const out = join(env.out, FISHER_DIR);
  if (existsSync(out)) return false;
  const previous = env.priors?.length === 2 ? env.priors[1] : undefined;
  await withModel(env.model, env.backend, async ({ cfg, params, tok }) => {
    const tree = trainable(params);
    const chunks = domainChunks(env.corpus, tok, env.hyper.seqLen).slice(0, env.hyper.importanceSubset);
    env.log(`ewc: Fisher of ${env.model} on the first ${chunks.length} chunks`);
    const seed = env.hyper.seed + FISHER_SEED;
    const f = fisherOf(cfg, tree, chunks, tok, key(seed));
    let merged = f.fisher, domains = 1;
    try {
      if (previous !== undefined) {
        const prev = await readFisher(previous, tree, env.backend);
        merged = mergeFisher(prev.fisher, prev.domains, f.fisher);
        domains = prev.domains + 1;
        release(prev.fisher, f.fisher);
      }
      await writeFisher(out, merged, { domains, examples: f.examples, seed, model: env.model, data: env.corpus, previous: previous ?? null });
    } finally {
      release(merged, f.fisher);
    }
  });
  return true;
}

/** EWC: continual MLM + λ·Σ F (θ − θ*)². Logged parts: mlm and ewc (= λ·penalty; loss = mlm + ewc). */
export const ewc: Method = {
  name: 'ewc',
  summary: 'continual MLM of the whole model, regularised by λ·Σ F·(θ − θ*)² towards the previous model, F the mean diagonal Fisher of the earlier domains',
  flags: ['importance-subset'],
  options: EWC_OPTIONS,
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  priors: (ctx, t) => (t === 0 ? [] : [continual(ctx, t), join(domainDir(ctx, t - 1), FISHER_DIR)]),
  domain: ewcTraining,
  afterDomain: ewcAfterDomain,
  afterDomainOutput: FISHER_DIR,
  settings: (h) => ({ importanceSubset: h.importanceSubset }),
};
