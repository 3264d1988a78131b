// KD: naive continual MLM post-training regularised by knowledge distillation (Hinton et al., 2015)
// from the frozen model the domain starts from (the previous domain's model; the base model for the
// first): loss = MLM + w·T²·KL(softmax(teacher/T) ‖ softmax(student/T)), the KL over the vocabulary
// at the labelled (masked) positions of the corrupted batch, averaged over those positions. The
// teacher sees the same corrupted batch without dropout and is a constant (never differentiated).
import { stopGradient } from '../../autodiff/grad.js';
import type { RobertaConfig } from '../../nn/config.js';
import { labelledLogits } from '../../nn/mlm.js';
import type { Params } from '../../nn/params.js';
import { type Batch, encode } from '../../nn/roberta.js';
import type { MlmTargets } from '../../nn/mlm.js';
import { add, mul, scalarOp, sub } from '../../ops/binary.js';
import { full } from '../../ops/creation.js';
import { crossEntropy } from '../../ops/cross-entropy.js';
import { sum } from '../../ops/reduce.js';
import { logSoftmax } from '../../ops/softmax.js';
import { exp } from '../../ops/unary.js';
import { release } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { continual, nothing, seen } from '../common.js';
import { type DomainEnv, type DomainTraining, type Method, type MethodOption, optionOf } from '../method.js';
import { loadFrozen } from './frozen.js';

/**
 * T²·KL(softmax(teacher/T) ‖ softmax(student/T)) averaged over the M rows of logits [M, V] (nats);
 * 0 for M = 0. The teacher is cut off from differentiation. The T² keeps the gradient's scale
 * independent of T (Hinton et al.).
 */
export function distillKl(student: Tensor, teacher: Tensor, temperature: number): Tensor {
  if (!(temperature > 0)) throw new RangeError(`distillKl: temperature must be positive, got ${temperature}`);
  const M = student.shape[0];
  if (M === 0) return full([], 0, { backend: student.backend });
  const logS = logSoftmax(scalarOp('mul', student, 1 / temperature));
  const logT = logSoftmax(scalarOp('mul', stopGradient(teacher), 1 / temperature));
  return scalarOp('mul', sum(mul(exp(logT), sub(logT, logS))), (temperature * temperature) / M);
}

const KD_OPTIONS: Readonly<Record<string, MethodOption>> = {
  'kd-weight': { kind: 'number', default: 1, min: 0, help: 'weight w of the distillation term: loss = MLM + w·T²·KL(teacher ‖ student) at the masked positions' },
  'kd-temperature': { kind: 'number', default: 1, gt: 0, help: "softmax temperature T of the teacher's and the student's MLM predictions" },
};
const own = { name: 'kd', options: KD_OPTIONS };

/** The parts of one batch's KD loss: MLM and w·T²·KL, each × share.tokens under gradient accumulation (both are token means). */
export function kdLoss(cfg: RobertaConfig, params: Params, teacher: Params, batch: Batch, targets: MlmTargets, o: { weight: number; temperature: number; dropout?: Parameters<DomainTraining['loss']>[2]; share?: { tokens: number } }): { mlm: Tensor; kd: Tensor } {
  const z = encode(cfg, params, batch, o.dropout ? { dropout: { key: o.dropout } } : {});
  if (targets.count === 0) return { mlm: full([], 0, { backend: z.backend }), kd: full([], 0, { backend: z.backend }) };
  const logits = labelledLogits(cfg, params, z, targets);
  const teacherLogits = labelledLogits(cfg, teacher, encode(cfg, teacher, batch), targets);
  let mlm = crossEntropy(logits, targets.labels, { reduction: 'mean' });
  let kd = scalarOp('mul', distillKl(logits, teacherLogits, o.temperature), o.weight);
  if (o.share !== undefined) [mlm, kd] = [scalarOp('mul', mlm, o.share.tokens), scalarOp('mul', kd, o.share.tokens)];
  return { mlm, kd };
}

/** KD's domain: the teacher is priors[0] (the model the domain starts from), loaded once. */
async function kdTraining(env: DomainEnv): Promise<DomainTraining> {
  if (env.priors.length !== 1) throw new Error(`kd: expects one prior, the teacher model (the model the domain starts from); got ${env.priors.length}`);
  const teacher = await loadFrozen(env.priors[0], env.cfg, env.backend, 'kd: the teacher');
  const weight = optionOf<number>(own, env.hyper, 'kd-weight'), temperature = optionOf<number>(own, env.hyper, 'kd-temperature');
  return {
    loss: (params, b, dk) => {
      const { mlm, kd } = kdLoss(env.cfg, params, teacher, b.corrupted, b.targets, { weight, temperature, dropout: dk, share: b.share });
      return [add(mlm, kd), { mlm, kd }];
    },
    release: () => release(teacher),
  };
}

/** KD: continual MLM + distillation from the previous domain's frozen model. Logged parts: mlm and kd (= w·T²·KL; loss = mlm + kd). */
export const kd: Method = {
  name: 'kd',
  summary: "continual MLM of the whole model, regularised by distilling the frozen previous model's MLM predictions (w·T²·KL at the masked positions)",
  options: KD_OPTIONS,
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  priors: (ctx, t) => [continual(ctx, t)],
  needsPriors: true,
  priorsHint: 'the teacher (--importance DIR): the model this domain starts from, i.e. its --model',
  domain: kdTraining,
};
