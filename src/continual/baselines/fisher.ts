// EWC's maths (Kirkpatrick et al., 2017): the diagonal empirical Fisher of the MLM loss, its running
// mean over domains, the quadratic penalty Σ_i F_i (θ_i − θ*_i)², and the Fisher as a directory
// (fisher.safetensors, tensors named by their path in the parameter tree, plus fisher.json).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { valueAndGrad } from '../../autodiff/grad.js';
import type { Backend } from '../../backend/backend.js';
import { mlmCollate } from '../../data/mlm-data.js';
import { E } from '../../fp.js';
import { writeDirAtomic, writeFileAtomic } from '../../io/atomic.js';
import { type HostArray as StArray, readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { SpecialIds } from '../../io/tokenizer/index.js';
import type { RobertaConfig } from '../../nn/config.js';
import { mlmLoss, mlmTargets, toDevice } from '../../nn/mlm.js';
import type { Params } from '../../nn/params.js';
import { add, mul, scalarOp, sub } from '../../ops/binary.js';
import { full, zerosLike } from '../../ops/creation.js';
import { type Key, foldIn } from '../../ops/random.js';
import { sum } from '../../ops/reduce.js';
import { square } from '../../ops/unary.js';
import { release, tidy } from '../../tensor/scope.js';
import { type Tensor, fromArray, read } from '../../tensor/tensor.js';
import { treeLeavesWithPaths, treeMap, treeZip } from '../../tensor/tree.js';

export const FISHER_FILE = 'fisher.safetensors';

/**
 * The diagonal empirical Fisher of `params` on `chunks`: the mean over chunks of the squared gradient
 * of the MLM loss of a batch of that one chunk (dropout off; chunk i masked with foldIn(k, i)). A chunk
 * with no masked token has no loss and is skipped. The result has `params`' structure; caller releases it.
 */
export function fisherOf(cfg: RobertaConfig, params: Params, chunks: readonly Int32Array[], vocab: { specials: SpecialIds }, k: Key): { fisher: Params; examples: number } {
  const backend = params.embeddings.word.backend;
  let acc = tidy(() => treeMap(params, (t) => zerosLike(t)));
  let examples = 0;
  try {
    chunks.forEach((chunk, i) => {
      const hb = mlmCollate([chunk], vocab, cfg.vocabSize, foldIn(k, i)).batch;
      if (!hb.labels.some((l) => l >= 0)) return;
      const prev = acc;
      acc = tidy(() => {
        const batch = toDevice(cfg, hb, backend), targets = mlmTargets(hb, backend);
        const [, g] = valueAndGrad((a: { params: Params }) => mlmLoss(cfg, a.params, batch, targets), ['params'])({ params });
        return treeZip(prev, g.params, (s, x) => add(s, square(x)));
      });
      release(prev);
      examples++;
    });
    if (examples === 0) throw new Error('ewc: no chunk of the Fisher subset has a masked token');
    const n = examples;
    return { fisher: tidy(() => treeMap(acc, (s) => scalarOp('mul', s, 1 / n))), examples };
  } finally {
    release(acc);
  }
}

/** Running mean over domains: (count·F_prev + F) / (count + 1), where F_prev is the mean of `count` Fishers. */
export const mergeFisher = <T>(prev: T, count: number, current: T): T =>
  tidy(() => treeZip(prev, current, (p, c) => scalarOp('mul', add(scalarOp('mul', p, count), c), 1 / (count + 1))));

/**
 * Σ_i F_i (θ_i − θ*_i)² over every leaf of `fisher` (a scalar); `params` and `star` are matched to it
 * by path (extra leaves of `params`, such as a classifier, are not penalised). θ* and F are constants.
 */
export function ewcPenalty(params: unknown, star: unknown, fisher: unknown): Tensor {
  const byPath = (tree: unknown) => new Map(treeLeavesWithPaths(tree));
  const p = byPath(params), s = byPath(star);
  let total: Tensor | undefined;
  for (const [path, f] of treeLeavesWithPaths(fisher)) {
    const x = p.get(path), x0 = s.get(path);
    if (x === undefined || x0 === undefined) throw new Error(`ewc: the Fisher has ${path}, the ${x === undefined ? 'model' : 'anchor θ*'} has not`);
    const term = sum(mul(f, square(sub(x, x0))));
    total = total === undefined ? term : add(total, term);
  }
  if (total === undefined) throw new Error('ewc: the Fisher is empty');
  return total;
}

/** What fisher.json records (besides the caller's fields). */
export interface FisherMeta { domains: number; [k: string]: unknown }

/** Writes a Fisher tree atomically as `dir`/fisher.safetensors (+ fisher.json); `domains`: how many domains its running mean covers. */
export async function writeFisher(dir: string, fisher: unknown, meta: FisherMeta): Promise<void> {
  const entries = new Map<string, StArray>();
  for (const [path, t] of treeLeavesWithPaths(fisher)) entries.set(path, { dtype: 'f32', shape: [...t.shape], data: Float32Array.from(await read(t)) });
  await mkdir(dirname(dir), { recursive: true });
  await writeDirAtomic(dir, async (tmp) => {
    await writeSafetensors(join(tmp, FISHER_FILE), entries, { domains: String(meta.domains) });
    await writeFileAtomic(join(tmp, 'fisher.json'), `${JSON.stringify(meta, null, 2)}\n`);
  });
}

/** Reads a Fisher directory into a tree of `template`'s structure and shapes (every leaf present, nothing else). */
export async function readFisher<T>(dir: string, template: T, backend: Backend): Promise<{ fisher: T; domains: number }> {
  const file = join(dir, FISHER_FILE);
  if (!existsSync(file)) throw new Error(`ewc: ${dir} holds no ${FISHER_FILE} (the Fisher of the previous domain)`);
  const st = await readSafetensors(file);
  if (E.isLeft(st)) throw st.left;
  const domains = Number(st.right.metadata.domains);
  if (!(Number.isSafeInteger(domains) && domains > 0)) throw new Error(`ewc: ${file} records no domain count`);
  const leaves = treeLeavesWithPaths(template);
  const extra = [...st.right.tensors.keys()].filter((k) => !leaves.some(([p]) => p === k));
  if (extra.length > 0) throw new Error(`ewc: ${file} has tensors the model has not: ${extra.slice(0, 3).join(', ')}`);
  for (const [path, t] of leaves) {
    const a = st.right.tensors.get(path);
    if (a === undefined) throw new Error(`ewc: ${file} has no ${path}`);
    if (a.shape.join(',') !== t.shape.join(',')) throw new Error(`ewc: ${file}: ${path} is [${a.shape.join(', ')}], the model's [${t.shape.join(', ')}]`);
  }
  return { fisher: tidy(() => treeMap(template, (_t, path) => fromArray(st.right.tensors.get(path)!.data, [..._t.shape], { backend }))), domains };
}

/** A scalar 0 on `backend` (EWC's penalty where there is no prior domain). */
export const zero = (backend: Backend): Tensor => full([], 0, { backend });
