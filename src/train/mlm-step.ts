// One MLM optimisation step and held-out evaluation, as pure functions over trees.
import type { Backend } from '../backend/backend.js';
import type { RobertaConfig } from '../nn/config.js';
import { type HostBatch, mlmLoss, mlmTargets, toDevice } from '../nn/mlm.js';
import type { Params } from '../nn/params.js';
import type { ForwardOptions } from '../nn/roberta.js';
import type { Key } from '../ops/random.js';
import { type AdamWConfig, type AdamWState, adamwFromConfig } from '../optim/adamw.js';
import { applyGradients, emptyState } from '../optim/transform.js';
import { tidy } from '../tensor/scope.js';
import { type Tensor, read } from '../tensor/tensor.js';
import { valueAndGrad } from '../autodiff/grad.js';
import { scalarOp } from '../ops/binary.js';
import { type Share, accumulate, microKey } from './accumulate.js';

export interface TrainState { params: Params; opt: AdamWState<Params> }

/** Forward + backward + AdamW on one batch. Returns the new state and the loss (caller releases the old state). */
export function mlmTrainStep(
  cfg: RobertaConfig, s: TrainState, hb: HostBatch, lr: number, opt: AdamWConfig, dropoutKey: Key | null, backend: Backend, model: Pick<ForwardOptions, 'fused'> = {},
): [TrainState, Tensor] {
  return tidy(() => {
    const batch = toDevice(cfg, hb, backend);
    const t = mlmTargets(hb, backend);
    const fo: ForwardOptions = { ...model, ...(dropoutKey ? { dropout: { key: dropoutKey } } : {}) };
    const [loss, g] = valueAndGrad((a: { params: Params }) => mlmLoss(cfg, a.params, batch, t, fo), ['params'])({ params: s.params });
    const [params, [, state]] = applyGradients(adamwFromConfig<Params>(opt, lr), s.params, g.params, [emptyState, s.opt]);
    return [{ params, opt: state }, loss] as [TrainState, Tensor];
  });
}

/**
 * mlmTrainStep over the micro-batches of one step (gradient accumulation, train/accumulate.ts): each
 * micro-batch's mean loss weighted by its share of the labelled tokens, so the update is the whole
 * batch's; micro-batch m's dropout key is foldIn(dropoutKey, m).
 */
export function mlmAccumStep(cfg: RobertaConfig, s: TrainState, micro: readonly { batch: HostBatch; share: Share }[], lr: number, opt: AdamWConfig, dropoutKey: Key | null, backend: Backend): [TrainState, Tensor] {
  return tidy(() => {
    const [loss, , grads] = accumulate(micro.length, (m) => {
      const { batch: hb, share } = micro[m];
      const dk = microKey(dropoutKey ?? undefined, m);
      const batch = toDevice(cfg, hb, backend);
      const t = mlmTargets(hb, backend);
      const [l, g] = valueAndGrad((a: { params: Params }) => scalarOp('mul', mlmLoss(cfg, a.params, batch, t, dk ? { dropout: { key: dk } } : {}), share.tokens), ['params'])({ params: s.params });
      return [l, {}, g.params];
    });
    const [params, [, state]] = applyGradients(adamwFromConfig<Params>(opt, lr), s.params, grads, [emptyState, s.opt]);
    return [{ params, opt: state }, loss] as [TrainState, Tensor];
  });
}

/**
 * Mean MLM loss over every labelled token of the batches (dropout off), and each batch's own mean loss
 * and labelled-token count, in order, for the batches that have labelled tokens (those without are
 * skipped; the masking decides which, not the model, so every model gets the same list):
 * loss = Σ tokens·loss / Σ tokens over `batches` (src/eval/stderr.ts: their standard error).
 */
export async function evalMlm(
  cfg: RobertaConfig, params: Params, batches: readonly HostBatch[], backend: Backend,
): Promise<{ loss: number; perplexity: number; tokens: number; batches: { loss: number; tokens: number }[] }> {
  let total = 0, count = 0;
  const per: { loss: number; tokens: number }[] = [];
  for (const hb of batches) {
    const t = mlmTargets(hb, backend);
    const n = t.count;
    t.index.dispose(); t.labels.dispose();
    if (n === 0) continue;
    const loss = tidy(() => mlmLoss(cfg, params, toDevice(cfg, hb, backend), mlmTargets(hb, backend)));
    const l = (await read(loss))[0];
    total += l * n;
    count += n;
    per.push({ loss: l, tokens: n });
    loss.dispose();
  }
  const mean = count > 0 ? total / count : NaN;
  return { loss: mean, perplexity: Math.exp(mean), tokens: count, batches: per };
}
