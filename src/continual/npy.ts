// Accumulated importance Ī for soft-masking, read from an importance directory (the .npy codec
// lives in importance-io.ts). Values must already be normalised into [0, 1].
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { type IoError, ioFail } from '../io/io-error.js';
import type { RobertaConfig } from '../nn/config.js';
import { fromArray } from '../tensor/tensor.js';
import { IMPORTANCE_FILES, decodeNpy, readImportance } from './importance-io.js';
import type { Importance } from './soft-mask.js';

/** The .npy decoder (kept under this name for callers of the soft-mask module). */
export const parseNpy = decodeNpy;

/**
 * Reads an accumulated importance Ī (already normalised, values in [0, 1]) from `dir`; every problem is a
 * Left naming the file. Raw reference sets (before_distill0, after_mlm{t}) must be normalised first
 * (`das importance accumulate`).
 */
export async function readImportanceDir(dir: string, cfg: RobertaConfig, backend: Backend): Promise<E.Either<IoError, Importance>> {
  const r = await readImportance(dir, cfg);
  if (E.isLeft(r)) return r;
  const { set } = r.right;
  for (const kind of ['head', 'intermediate', 'output'] as const) {
    const data = set[kind].data;
    const bad = data.findIndex((v) => !(v >= 0 && v <= 1));
    if (bad >= 0) return ioFail(`value ${data[bad]} at element ${bad} is outside [0, 1]; soft-masking needs normalised, accumulated importance (docs/method.md §4.5–4.6)`, { file: join(dir, IMPORTANCE_FILES[kind]) });
  }
  const width = { head: cfg.heads, intermediate: cfg.intermediate, output: cfg.width };
  return E.right(Array.from({ length: cfg.layers }, (_, l) => {
    const row = (kind: keyof typeof width) => fromArray(set[kind].data.slice(l * width[kind], (l + 1) * width[kind]), [width[kind]], { backend });
    return { head: row('head'), intermediate: row('intermediate'), output: row('output') };
  }));
}
