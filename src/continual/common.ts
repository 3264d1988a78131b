// What the method records share (methods.ts, das-method.ts, baselines/): run-directory paths, the
// continual and non-continual starts, plain MLM training, and loading a model for a moment.
import { join } from 'node:path';
import { E } from '../fp.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { type Tokenizer, loadTokenizer } from '../io/tokenizer/index.js';
import type { Backend } from '../backend/backend.js';
import type { RobertaConfig } from '../nn/config.js';
import { mlmLoss } from '../nn/mlm.js';
import { scalarOp } from '../ops/binary.js';
import type { Params } from '../nn/params.js';
import { release } from '../tensor/scope.js';
import type { DomainEnv, DomainTraining, SeedContext } from './method.js';

export const domainDir = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(ctx.dir, `${t}-${ctx.domains[t].name}`);
export const modelOf = (ctx: Pick<SeedContext, 'dir' | 'domains'>, t: number): string => join(domainDir(ctx, t), 'model');

/** Domain t starts from the model after domain t − 1 (the base model for the first). */
export const continual = (ctx: SeedContext, t: number): string => (t === 0 ? ctx.base : modelOf(ctx, t - 1));
/** Every domain seen so far: the progressive matrix's row t. */
export const seen = (t: number): number[] => Array.from({ length: t + 1 }, (_, k) => k);
export const nothing = async (): Promise<void> => {};

/** Where the KL-proxy importance of the base model lives (computed once per seed, before domain 0). */
export const klDir = (ctx: Pick<SeedContext, 'dir'>): string => join(ctx.dir, 'kl-importance');

/** The plain MLM loss of a domain batch (dropout by the step's key), scaled to a micro-batch's share of the step's tokens. */
export const mlmOf = (env: Pick<DomainEnv, 'cfg'>, params: Params, b: Parameters<DomainTraining['loss']>[1], dk: Parameters<DomainTraining['loss']>[2]) => {
  const l = mlmLoss(env.cfg, params, b.corrupted, b.targets, dk ? { dropout: { key: dk } } : {});
  return b.share === undefined ? l : scalarOp('mul', l, b.share.tokens);
};

/** Plain MLM (dropout by the step's key): NCL's and ONE's loss. */
export const mlmTraining = async (env: DomainEnv): Promise<DomainTraining> => ({
  loss: (params, b, dk) => [mlmOf(env, params, b, dk), {}],
  release: () => {},
});

/** Runs `f` on a checkpoint and its tokenizer, releasing the parameters afterwards. */
export async function withModel<T>(dir: string, backend: Backend, f: (m: { cfg: RobertaConfig; params: Params; tok: Tokenizer }) => Promise<T>): Promise<T> {
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
