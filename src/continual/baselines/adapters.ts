// The baselines that train a small part added to a frozen LM (docs/baselines.md):
//   adapter-one  a fresh set of Houlsby adapters per domain on the base model (non-continual);
//   prompt-one   a fresh soft prompt per domain on the base model (non-continual);
//   demix        an adapter set per domain, initialised from the earlier domain's adapters whose
//                held-out MLM loss on the new domain is lowest (DEMix-style expert initialisation).
// The LM's own weights get a zero gradient (optim/transform.ts freezeExcept), so AdamW without weight
// decay leaves them exactly as they were; the added part is saved with the model (io/hf-checkpoint.ts),
// and end tasks are fine-tuned on the model with it.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { orThrow, readCorpus } from '../../data/validate.js';
import { splitValid } from '../../data/mlm-data.js';
import { heldOut, heldOutLosses } from '../../eval/mlm-eval.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { saveCheckpoint } from '../../io/hf-roberta.js';
import { initAdapters, initPrompt, withAdapters } from '../../nn/params.js';
import type { RobertaConfig } from '../../nn/config.js';
import { treeLeaves } from '../../tensor/tree.js';
import type { Params } from '../../nn/params.js';
import { layerNorm } from '../../ops/layer-norm.js';
import { foldIn, key } from '../../ops/random.js';
import { freezeExcept } from '../../optim/transform.js';
import { release } from '../../tensor/scope.js';
import { tokenizerFiles } from '../../train/checkpointing.js';
import { mlmTraining, modelOf, nothing, withModel } from '../common.js';
import type { DomainEnv, DomainTraining, Method, SeedContext } from '../method.js';
import { optionOf } from '../method.js';

/** Where a method keeps the start models it builds (base model + a fresh part), one per domain. */
export const startDir = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(ctx.dir, 'starts', `${t}-${ctx.domains[t].name}`);

/** Writes `out` (unless it exists): the base model with `add` applied to its parameters, tokenizer included. */
async function buildStart(ctx: SeedContext, out: string, add: (p: Params, cfg: RobertaConfig) => Params, what: string): Promise<string> {
  if (existsSync(join(out, 'model.safetensors'))) return out;
  await mkdir(join(out, '..'), { recursive: true });
  await withModel(ctx.base, ctx.backend, async ({ cfg, params, tok }) => {
    const { classifier, ...encoder } = params;
    const p = add(encoder, cfg);
    try {
      ctx.log(`${what}: ${out}`);
      await saveCheckpoint(out, cfg, p, tokenizerFiles(tok));
    } finally {
      // only the added tensors are new; the rest belong to `params` (released by withModel)
      const had = new Set(treeLeaves(encoder));
      release(treeLeaves(p).filter((t) => !had.has(t)));
    }
  });
  return out;
}

/** Base model + fresh adapters (identity at the start), seeded per seed and domain. */
const adapterStart = (ctx: SeedContext, t: number): Promise<string> =>
  buildStart(ctx, startDir(ctx, t), (p, cfg) => withAdapters(p, initAdapters(cfg, foldIn(key(ctx.seed + 31337), t), ctx.backend)), `adapters: base model + fresh adapters for ${ctx.domains[t].name}`);

const isAdapter = (path: string) => path.includes('.adapter.');
/** MLM on a frozen LM: only the leaves `trainable` accepts learn. */
const frozenLm = (trainable: (path: string) => boolean) => async (env: DomainEnv): Promise<DomainTraining> => ({ ...(await mlmTraining(env)), before: [freezeExcept<Params>(trainable)] });

export const adapterOne: Method = {
  name: 'adapter-one',
  summary: 'frozen LM + a fresh set of Houlsby adapters (bottleneck width/16, after the attention and FFN outputs) per domain, trained with MLM from the base model (non-continual)',
  scores: 'diagonal',
  startsFrom: adapterStart,
  evaluates: (t) => [t],
  prepare: nothing,
  domain: frozenLm(isAdapter),
};

/** The prompt length actually used: the option, at most what the model's positions leave beside --seq-len. */
export function promptLength(want: number, maxPositions: number, padId: number, seqLen: number): number {
  return Math.max(1, Math.min(want, maxPositions - padId - 1 - seqLen));
}

export const promptOne: Method = {
  name: 'prompt-one',
  summary: 'frozen LM + a fresh soft prompt (n vectors before the tokens) per domain, trained with MLM from the base model (non-continual); its end tasks are fine-tuned with the prompt',
  scores: 'diagonal',
  options: { 'prompt-length': { kind: 'int', default: 100, gt: 0, help: 'prompt-one: soft-prompt vectors per domain (reference 100; at most max positions − seq-len − 2, clamped)' } },
  startsFrom: (ctx, t) => buildStart(ctx, startDir(ctx, t), (p, cfg) => {
    const n = promptLength(optionOf<number>(promptOne, ctx.hyper, 'prompt-length'), cfg.maxPositions, cfg.padId, ctx.hyper.seqLen);
    // rows of the word embeddings put through the embedding layer norm: the prompt sits after it, beside token states of that scale
    const raw = initPrompt(p.embeddings.word, n, foldIn(key(ctx.seed + 4242), t));
    const prompt = layerNorm(raw, p.embeddings.norm.weight, p.embeddings.norm.bias, cfg.layerNormEps);
    release(raw);
    return { ...p, prompt };
  }, `prompt-one: base model + a fresh soft prompt for ${ctx.domains[t].name}`),
  evaluates: (t) => [t],
  prepare: nothing,
  domain: frozenLm((path) => path === 'prompt'),
};

/** DEMIX's choice for domain t: the earlier domain whose adapters give the lowest held-out MLM loss on domain t's held-out text. */
async function demixStart(ctx: SeedContext, t: number): Promise<string> {
  if (t === 0) return adapterStart(ctx, 0);
  const file = join(startDir(ctx, t), 'choice.json');
  if (existsSync(file)) return modelOf(ctx, (JSON.parse(readFileSync(file, 'utf8')) as { from: number }).from);
  const d = ctx.domains[t];
  const losses = await withModel(ctx.base, ctx.backend, async ({ cfg, tok }) => {
    const set = heldOut(d.name, splitValid(orThrow(readCorpus(d.train)), 5).valid, tok, cfg.vocabSize, t + 1, { seqLen: ctx.hyper.seqLen, batchSize: 16, maxChunks: 32 });
    const out: number[] = [];
    for (let k = 0; k < t; k++) out.push((await heldOutLosses(modelOf(ctx, k), [set], join(startDir(ctx, t), `loss-of-${k}.json`), ctx.backend))[d.name]);
    return out;
  });
  if (!losses.every(Number.isFinite)) throw new Error(`demix: a held-out MLM loss on ${d.name} is not finite (${losses.join(', ')})`);
  const from = losses.indexOf(Math.min(...losses));
  ctx.log(`demix: ${d.name} starts from ${ctx.domains[from].name}'s adapters (held-out MLM loss ${losses.map((l, k) => `${ctx.domains[k].name} ${l.toFixed(3)}`).join(', ')})`);
  await writeFileAtomic(file, `${JSON.stringify({ from, domain: ctx.domains[from].name, losses }, null, 2)}\n`);
  return modelOf(ctx, from);
}

/** Adapter-ONE's training, but each domain's adapters start from the most similar earlier domain's. */
export const demix: Method = {
  ...adapterOne,
  name: 'demix',
  summary: "frozen LM + an adapter set (expert) per domain, initialised from the earlier domain's adapters with the lowest held-out MLM loss on the new domain; end task k uses expert k (nothing is overwritten, so no forgetting by construction)",
  startsFrom: demixStart,
};


