// HAT (Serra et al. 2018, hard attention to the task) as in the DAS paper's HAT baseline: a frozen LM
// with Houlsby adapters (bottleneck width/16, after the attention and FFN outputs) shared by every
// domain; each domain t has a task embedding e_t (one value per adapter unit) whose mask
// m_t = sigmoid(s·e_t) gates the adapters' bottleneck units. The maths is in ./hat-mask.ts.
//
//   start        domain 0: <seed dir>/hat-start = the base model + fresh adapters (the identity) + the
//                task embeddings of every domain, N(0, 1) clamped to ±6, as the parameter
//                `extra.hat` [domains, L, 2, r] (saved with the model as `das.extra.hat`); domain t > 0:
//                the model after domain t − 1.
//   loss         MLM with adapterMasks m_t (s annealed per step from 1/s_max to s_max) + λ × the
//                sparsity regulariser Σ m_t(1 − m_<t) / Σ (1 − m_<t); e_t's gradient is compensated
//                inside the loss (the step's s is known there, not in a stateless transformation).
//   before AdamW every leaf but the adapters and the embeddings is frozen (zero gradient); adapter
//                units earlier domains use are blocked: gradients × (1 − m_<t), up.bias (unmasked,
//                so used by every earlier domain) entirely after the first domain.
//   after AdamW  the embeddings are clamped to ±6 (thres_emb).
//   afterDomain  <out>/hat-mask/mask.safetensors: the domain's hard mask sigmoid(s_max e_t) (`task`) and
//                the cumulative max over domains 0..t (`seen`), metadata { domain: t, smax }. Domain
//                t's prior is domain t − 1's hat-mask (its index t − 1 tells which embedding row trains).
//   end tasks    after domain t, task k is fine-tuned on <domain t>/task-<k>/model: the model with task
//                k's hard mask baked into up.weight's columns and without the embeddings, a plain
//                adapter model.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { E } from '../../fp.js';
import { writeDirAtomic } from '../../io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../../io/hf-roberta.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import { mlmLoss } from '../../nn/mlm.js';
import { type Params, adapterUnits, adaptersOf, initAdapters, withAdapters } from '../../nn/params.js';
import { add, maximum, minimum, scalarOp } from '../../ops/binary.js';
import { foldIn, key, randomNormal } from '../../ops/random.js';
import { reshape } from '../../ops/reshape.js';
import { slice } from '../../ops/movement.js';
import { freezeExcept } from '../../optim/transform.js';
import { release, tidy } from '../../tensor/scope.js';
import { type Tensor, fromArray, read } from '../../tensor/tensor.js';
import { tokenizerFiles } from '../../train/checkpointing.js';
import { domainDir, modelOf, nothing, seen, withModel } from '../common.js';
import { type AfterDomainEnv, type DomainEnv, type DomainTraining, type Method, type SeedContext, optionOf } from '../method.js';
import { HAT_THRES_EMB, annealedScale, bakeMask, blockAdapterGradients, clampLeaf, compensated, cumulativeMask, hardMask, layerMasks, sparsity, taskMask } from './hat-mask.js';

/** The name of the task embeddings in Params.extra (checkpoint tensor `das.extra.hat`): [domains, L, 2, r]. */
export const HAT_EXTRA = 'hat';
const EMB_PATH = `extra.${HAT_EXTRA}`;
export const HAT_MASK_FILE = 'mask.safetensors';
/** Where domain t's masks are written (under its post-training output). */
export const hatMaskDir = (out: string): string => join(out, 'hat-mask');
/** The start of domain 0: base model + adapters + task embeddings. */
export const hatStartDir = (ctx: Pick<SeedContext, 'dir'>): string => join(ctx.dir, 'hat-start');
/** The model end task k is fine-tuned on after domain t. */
export const hatTaskModel = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number, k: number): string => join(domainDir(ctx, t), `task-${k}`, 'model');

const isTrainable = (path: string): boolean => /^layers\[\d+\]\.adapter\./.test(path) || path === EMB_PATH;

/** The task embeddings of a HAT model, checked against its adapters: [domains, L, 2, r]. */
function embeddingsOf(p: Params, what = 'the model'): { e: Tensor; domains: number; L: number; r: number } {
  const e = p.extra?.[HAT_EXTRA];
  const ads = adaptersOf(p);
  if (e === undefined || ads === undefined) throw new Error(`hat: ${what} has no ${e === undefined ? 'task embeddings (das.extra.hat)' : 'adapters'}; HAT trains from its own start (das run builds <seed dir>/hat-start)`);
  const L = p.layers.length, r = ads[0].attn.down.weight.shape[0];
  if (e.shape.length !== 4 || e.shape[1] !== L || e.shape[2] !== 2 || e.shape[3] !== r) {
    throw new Error(`hat: the task embeddings of ${what} are [${e.shape.join(', ')}], expected [domains, ${L}, 2, ${r}]`);
  }
  return { e, domains: e.shape[0], L, r };
}

/** Row t of the embeddings [domains, L, 2, r] → [L, 2, r]. */
const rowOf = (e: Tensor, t: number): Tensor => reshape(slice(e, [t], [t + 1]), e.shape.slice(1));

/** A domain's masks (hat-mask/mask.safetensors). */
export interface HatMasks { domain: number; smax: number; shape: number[]; task: Float32Array; seen: Float32Array }

export async function readHatMasks(dir: string): Promise<HatMasks> {
  const file = join(dir, HAT_MASK_FILE);
  const st = await readSafetensors(file);
  if (E.isLeft(st)) throw st.left;
  const task = st.right.tensors.get('task'), seenMask = st.right.tensors.get('seen');
  const domain = Number(st.right.metadata.domain), smax = Number(st.right.metadata.smax);
  if (task === undefined || seenMask === undefined || task.dtype !== 'f32' || seenMask.dtype !== 'f32' || !Number.isSafeInteger(domain) || domain < 0) {
    throw new Error(`${file}: not a HAT mask file (f32 tensors task and seen, metadata domain)`);
  }
  if (task.shape.join() !== seenMask.shape.join()) throw new Error(`${file}: task [${task.shape.join(', ')}] and seen [${seenMask.shape.join(', ')}] differ`);
  return { domain, smax, shape: task.shape, task: task.data as Float32Array, seen: seenMask.data as Float32Array };
}

/** What domain t builds on: its index (one after the latest prior's) and m_<t, the max of the priors' cumulative masks. */
async function priorOf(priors: readonly string[], shape: readonly number[]): Promise<{ t: number; seen: Float32Array }> {
  let t = 0, acc: Float32Array = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (const dir of priors) {
    const m = await readHatMasks(dir);
    if (m.shape.join() !== shape.join()) throw new Error(`hat: the masks in ${dir} are [${m.shape.join(', ')}], this model's adapters [${shape.join(', ')}]`);
    t = Math.max(t, m.domain + 1);
    acc = cumulativeMask(acc, m.seen);
  }
  return { t, seen: acc };
}

/** Domain 0's start (unless written): the base model, fresh adapters and every domain's task embedding. */
async function hatStart(ctx: SeedContext): Promise<string> {
  const out = hatStartDir(ctx);
  if (existsSync(join(out, 'model.safetensors'))) return out;
  await mkdir(dirname(out), { recursive: true });
  await withModel(ctx.base, ctx.backend, async ({ cfg, params, tok }) => {
    const { classifier: _head, ...encoder } = params;
    if (adaptersOf(encoder) !== undefined) throw new Error(`hat: the base model ${ctx.base} already has adapters; HAT adds its own`);
    const k = foldIn(key(ctx.seed + 4801), 0);
    const adapters = initAdapters(cfg, foldIn(k, 1), ctx.backend);
    const shape = [ctx.domains.length, cfg.layers, 2, adapterUnits(cfg)];
    // nn.Embedding's N(0, 1), within thres_emb
    const e = tidy(() => minimum(maximum(randomNormal(foldIn(k, 2), shape, { std: 1, backend: ctx.backend }), -HAT_THRES_EMB), HAT_THRES_EMB));
    try {
      ctx.log(`hat: base model + fresh adapters + ${ctx.domains.length} task embeddings: ${out}`);
      await saveCheckpoint(out, cfg, { ...withAdapters(encoder, adapters), extra: { [HAT_EXTRA]: e } }, tokenizerFiles(tok), { method: 'hat-start' });
    } finally {
      release(adapters, e);
    }
  });
  return out;
}

/** HAT's training of one domain (see the file header). */
async function hatTraining(env: DomainEnv): Promise<DomainTraining> {
  const smax = optionOf<number>(hat, env.hyper, 'hat-smax'), lambda = optionOf<number>(hat, env.hyper, 'hat-lambda');
  const L = env.cfg.layers, r = adapterUnits(env.cfg), shape = [L, 2, r];
  const prior = await priorOf(env.priors, shape);
  const t = prior.t;
  const prev = fromArray(prior.seen, shape, { backend: env.backend });
  const block = blockAdapterGradients(prior.seen, L, r, env.backend, { upBias: t > 0 });
  return {
    loss: (params, b, dk) => {
      const emb = embeddingsOf(params);
      if (emb.r !== r) throw new Error(`hat: the model's adapters have ${emb.r} units, expected ${r} (width / 16)`);
      if (t >= emb.domains) throw new Error(`hat: domain ${t} has no task embedding (the model has ${emb.domains})`);
      const s = annealedScale(b.step, env.hyper.steps, smax);
      const m = taskMask(compensated(rowOf(emb.e, t), s, smax), s);                  // [L, 2, r]
      let mlm = mlmLoss(env.cfg, params, b.corrupted, b.targets, { adapterMasks: layerMasks(m), ...(dk ? { dropout: { key: dk } } : {}) });
      let reg = sparsity(m, prev);
      if (b.share !== undefined) { mlm = scalarOp('mul', mlm, b.share.tokens); reg = scalarOp('mul', reg, b.share.rows); }
      return [add(mlm, scalarOp('mul', reg, lambda)), { mlm, reg }];
    },
    before: [freezeExcept<Params>(isTrainable), block.tx],
    after: [clampLeaf<Params>(EMB_PATH, -HAT_THRES_EMB, HAT_THRES_EMB)],
    release: () => { block.release(); prev.dispose(); },
  };
}

/** Domain t's hard mask sigmoid(s_max e_t) and the cumulative one, written next to its model. */
async function writeMasks(env: AfterDomainEnv): Promise<boolean> {
  const dir = hatMaskDir(env.out);
  if (existsSync(join(dir, HAT_MASK_FILE))) return false;
  const smax = optionOf<number>(hat, env.hyper, 'hat-smax');
  const ck = await loadCheckpoint(env.model, env.backend);
  if (E.isLeft(ck)) throw ck.left;
  let task: Float32Array, shape: number[], t: number, prevSeen: Float32Array;
  try {
    const emb = embeddingsOf(ck.right.params, env.model);
    shape = [emb.L, 2, emb.r];
    ({ t, seen: prevSeen } = await priorOf(env.priors ?? [], shape));
    if (t >= emb.domains) throw new Error(`hat: domain ${t} has no task embedding in ${env.model}`);
    const m = tidy(() => hardMask(rowOf(emb.e, t), smax));
    task = Float32Array.from(await read(m));
    m.dispose();
  } finally {
    release(ck.right.params);
  }
  const all = cumulativeMask(prevSeen, task);
  const used = (x: Float32Array) => x.reduce((n, v) => n + (v > 0.5 ? 1 : 0), 0);
  env.log(`hat: domain ${t} uses ${used(task)} of ${task.length} adapter units; domains 0–${t} use ${used(all)}`);
  await writeDirAtomic(dir, (tmp) => writeSafetensors(join(tmp, HAT_MASK_FILE), {
    task: { dtype: 'f32', shape, data: task }, seen: { dtype: 'f32', shape, data: all },
  }, { domain: String(t), smax: String(smax) }));
  return true;
}

/** The model after domain t with task k's hard mask baked into the adapters, without the embeddings (unless written). */
async function taskModel(ctx: SeedContext, t: number, k: number): Promise<string> {
  const out = hatTaskModel(ctx, t, k);
  if (existsSync(join(out, 'model.safetensors'))) return out;
  const masks = await readHatMasks(hatMaskDir(domainDir(ctx, k)));
  if (masks.domain !== k) throw new Error(`hat: ${hatMaskDir(domainDir(ctx, k))} holds the masks of domain ${masks.domain}, not ${k}`);
  await mkdir(dirname(out), { recursive: true });
  await withModel(modelOf(ctx, t), ctx.backend, async ({ cfg, params, tok }) => {
    const emb = embeddingsOf(params, modelOf(ctx, t));
    if (masks.shape.join() !== [emb.L, 2, emb.r].join()) throw new Error(`hat: task ${k}'s masks are [${masks.shape.join(', ')}], the adapters [${emb.L}, 2, ${emb.r}]`);
    const { extra: _emb, classifier: _head, ...plain } = params;
    const baked = tidy(() => {
      const lm = layerMasks(fromArray(masks.task, masks.shape, { backend: ctx.backend }));
      return withAdapters(plain, adaptersOf(plain)!.map((a, l) => ({ attn: bakeMask(a.attn, lm[l].attn), ffn: bakeMask(a.ffn, lm[l].ffn) })));
    });
    try {
      ctx.log(`hat: ${ctx.domains[t].name}'s model with ${ctx.domains[k].name}'s mask: ${out}`);
      await saveCheckpoint(out, cfg, baked, tokenizerFiles(tok), { method: 'hat', after: String(t), task: String(k) });
    } finally {
      release(baked);
    }
  });
  return out;
}

export const hat: Method = {
  name: 'hat',
  summary: 'frozen LM + Houlsby adapters shared by all domains; per-domain task embeddings give hard attention masks on the adapter units (Serra et al.), with a sparsity regulariser and gradients of units earlier domains use blocked',
  scores: 'matrix',
  options: {
    'hat-smax': { kind: 'number', default: 400, gt: 0, help: 'hat: the mask scale s_max (annealed per step from 1/s_max; the hard masks use s_max)' },
    'hat-lambda': { kind: 'number', default: 0.75, min: 0, help: "hat: weight λ of the sparsity regulariser on the units earlier domains left free" },
  },
  startsFrom: (ctx, t) => (t === 0 ? hatStart(ctx) : modelOf(ctx, t - 1)),
  evaluates: seen,
  endTaskModel: taskModel,
  prepare: nothing,
  priors: (ctx, t) => (t === 0 ? [] : [hatMaskDir(domainDir(ctx, t - 1))]),
  domain: hatTraining,
  afterDomain: writeMasks,
  afterDomainOutput: 'hat-mask',
};
