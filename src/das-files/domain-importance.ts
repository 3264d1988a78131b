// The importance steps of the continual loop (docs/method.md §1, §3.3, §4.3): the raw importance of a model
// on the importance subset of a domain (its first N chunks, shuffled, fresh MLM corruption), written
// in ContinualLM's layout; and reading + accumulating prior sets into Ī_t (§4.6).
// (Node: the sets are directories; the subset itself is das/importance-subset.ts.)
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { type SpecialIds } from '../io/tokenizer/index.js';
import type { RobertaConfig } from '../nn/config.js';
import type { Params } from '../nn/params.js';
import { key, splitKey } from '../ops/random.js';
import { release } from '../tensor/scope.js';
import {
  type Aggregation, type ImportanceLoss, type ImportanceSet, type MlmImportanceInput,
  computeImportance, maxAccumulate, normalizeSet,
} from '../das/importance.js';
import { importanceFromHost, importanceToHost } from '../das/importance-files.js';
import { type SubsetOptions, importanceBatches } from '../das/importance-subset.js';
import { readImportance, writeImportance } from './importance-dirs.js';

export { type SubsetOptions, importanceBatches };

export interface DomainImportanceOptions extends SubsetOptions {
  loss: ImportanceLoss;
  aggregation?: Aggregation;
  mlmInput?: MlmImportanceInput;
  /** Dropout on (the model's rates) or off. The KL proxy needs it on (§5.3, §12.1). */
  dropout: boolean;
  /** Extra fields for importance.json. */
  meta?: Record<string, unknown>;
}

/** Computes the raw importance of `params` on the subset and writes it to `out` (refuses to overwrite). */
export async function writeDomainImportance(
  cfg: RobertaConfig, params: Params, chunks: readonly Int32Array[], vocab: { specials: SpecialIds }, out: string, o: DomainImportanceOptions,
): Promise<{ examples: number; tokens: number; batches: number }> {
  const batches = importanceBatches(chunks, vocab, cfg.vocabSize, o);
  const off = !o.dropout || (cfg.hiddenDropout === 0 && cfg.attentionDropout === 0);
  const r = computeImportance(cfg, params, batches, {
    loss: o.loss, aggregation: o.aggregation, mlmInput: o.mlmInput, dropoutKey: off ? undefined : splitKey(key(o.seed), 3)[2],
  });
  try {
    const host = await importanceToHost(r.raw);
    await writeImportance(out, host, {
      normalized: false, loss: o.loss, aggregation: o.aggregation ?? 'abs-per-example', ...(o.loss === 'mlm' ? { mlmInput: o.mlmInput ?? 'corrupted' } : {}),
      dropout: off ? 0 : { hidden: cfg.hiddenDropout, attention: cfg.attentionDropout }, seed: o.seed, batchSize: o.batchSize, subset: o.subset,
      examples: r.examples, tokens: r.tokens, batches: r.batches, scale: 'aggregated gate gradients / attention-mask tokens', ...o.meta,
    });
  } finally {
    release(r.raw);
  }
  return { examples: r.examples, tokens: r.tokens, batches: r.batches };
}

/**
 * Ī = EMax of the sets in `dirs` (§4.6): raw sets (importance.json normalized false, or none) are
 * normalised first, normalised ones used as they are. Every set must fit the model `cfg`.
 */
export async function accumulateDirs(dirs: readonly string[], cfg: RobertaConfig, backend: Backend): Promise<ImportanceSet> {
  if (dirs.length === 0) throw new Error('accumulate: no importance directory given');
  const sets: ImportanceSet[] = [];
  try {
    for (const dir of dirs) {
      const r = await readImportance(dir, cfg);
      if (E.isLeft(r)) throw r.left;
      const s = importanceFromHost(r.right.set, backend);
      if (r.right.meta.normalized) sets.push(s);
      else { sets.push(normalizeSet(s)); release(s); }
    }
    return maxAccumulate(sets);
  } finally {
    release(sets);
  }
}
