// The methods of `das run` as records (see method.ts for the shape), and their registry in the
// paper's table order: the non-continual ones first (MTL, ONE, Adapter-ONE, Prompt-ONE, DGA), then
// the continual ones (NCL, KD, EWC, DER++, HAT, DEMIX), DAS last. A baseline is one record (here or
// under baselines/) plus its maths; the loop, post-training and `das run` know none by name.
import { adapterOne, demix, promptOne } from './baselines/adapters.js';
import { derpp } from './baselines/derpp.js';
import { dga } from './baselines/dga.js';
import { ewc } from './baselines/ewc.js';
import { hat } from './baselines/hat.js';
import { kd } from './baselines/kd.js';
import { mtl } from './baselines/mtl.js';
import { continual, mlmTraining, nothing, seen } from './common.js';
import { das, dasUpdate } from './das-method.js';
import type { Method } from './method.js';
import type { ScoreKind } from '../eval/report.js';

export { domainDir, klDir, modelOf } from './common.js';
export { das, dasUpdate } from './das-method.js';

/** NCL: naive continual MLM post-training, one domain after another. */
export const ncl: Method = {
  name: 'ncl',
  summary: 'plain MLM post-training of the whole model, one domain after another; no regulariser',
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  domain: mlmTraining,
  sameDomainAs: (t) => (t === 0 ? 'one' : undefined),
};

/** ONE: each domain post-trained separately from the base model, exactly as NCL trains it; only its own end task (the diagonal). */
export const one: Method = {
  name: 'one',
  summary: 'each domain post-trained separately from the base model with plain MLM (non-continual); each end task from its own domain\'s model',
  trainsAs: 'ncl',
  scores: 'diagonal',
  startsFrom: (ctx) => ctx.base,
  evaluates: (t) => [t],
  prepare: nothing,
  domain: mlmTraining,
  sameDomainAs: (t) => (t === 0 ? 'ncl' : undefined),
};

/** Every method by name, in the paper's table order (`--method all`: all but das-update). */
export const METHODS: Readonly<Record<string, Method>> = {
  mtl, one, 'adapter-one': adapterOne, 'prompt-one': promptOne, dga, ncl, kd, ewc, derpp, hat, demix, das, 'das-update': dasUpdate,
};
export const methodNames = Object.keys(METHODS);
/** The paper's roster: what `--method all` runs. */
export const ROSTER: readonly string[] = methodNames.filter((m) => m !== 'das-update');

/** The method record of a name, or an error listing the names. */
export function methodByName(name: string): Method {
  const m = METHODS[name];
  if (m === undefined) throw new Error(`unknown method '${name}' (choose from ${methodNames.join(', ')}, or all)`);
  return m;
}

/**
 * A comma list of method names ('all' = the roster) → the names in table order, each once; an
 * unknown name is an error listing the valid ones.
 */
export function expandMethods(list: string): string[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const want = new Set<string>();
  for (const n of names) {
    if (n === 'all') ROSTER.forEach((m) => want.add(m));
    else want.add(methodByName(n).name);
  }
  if (want.size === 0) throw new Error(`no method given (choose from ${methodNames.join(', ')}, or all)`);
  return methodNames.filter((m) => want.has(m));
}

/** How each method's scores are read (eval/report.ts). */
export const scoreKinds = (names: readonly string[]): Record<string, ScoreKind> =>
  Object.fromEntries(names.map((n) => [n, METHODS[n]?.scores ?? 'matrix']));
