// DGA (Ke et al., EMNLP 2022, "Adapting a language model while preserving its general knowledge"):
// DAS's soft-masking and contrastive loss, but every domain post-trained separately from the base
// model, masked by the KL-proxy importance of the base model on that domain. The reference masks
// attention heads only (the default); `--dga-units all` masks heads and FFN units as DAS does.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { dasTraining, klImportance } from '../das-method.js';

import type { Method, SeedContext } from '../method.js';
import { optionOf } from '../method.js';

const dgaKlDir = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(ctx.dir, 'kl-importance', `${t}-${ctx.domains[t].name}`);

export const dga: Method = {
  name: 'dga',
  summary: "each domain from the base model (non-continual), MLM + DAS's contrastive loss, gradients soft-masked by the base model's KL-proxy importance on that domain (heads only, as the reference; or all units)",
  scores: 'diagonal',
  flags: ['contrast-weight', 'reference-compat', 'soft-mask-target', 'importance-subset', 'importance-batch-size'],
  options: { 'dga-units': { kind: 'string', default: 'heads', choices: ['heads', 'all'], help: 'dga: soft-mask attention heads only (the reference) or every unit as DAS does' } },
  startsFrom: (ctx) => ctx.base,
  evaluates: (t) => [t],
  prepare: async (ctx) => {
    await mkdir(join(ctx.dir, 'kl-importance'), { recursive: true });
    for (let t = 0; t < ctx.domains.length; t++) await klImportance(ctx, dgaKlDir(ctx, t), t, 'dga');
  },
  priors: (ctx, t) => [dgaKlDir(ctx, t)],
  needsPriors: true,
  priorsHint: 'the KL-proxy importance of the base model on this domain (--importance DIR; das importance --loss kl)',
  domain: (env) => dasTraining(env, optionOf<string>(dga, env.hyper, 'dga-units') === 'heads' ? 'heads' : undefined),
  settings: (h) => ({ importanceSubset: h.importanceSubset, importanceBatchSize: h.importanceBatchSize }),
};


