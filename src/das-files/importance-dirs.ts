// Importance sets as directories (Node), in ContinualLM's layout: the files of das/importance-files.ts
// read from and written to `dir`. A directory without importance.json (e.g. the released
// before_distill0/, after_mlm{t}/) is read as raw. Writes are atomic and never replace an existing
// directory unless forced.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { readBytes, readNpyFile } from '../io/files.js';
import { IoError } from '../io/io-error.js';
import type { RobertaConfig } from '../nn/config.js';
import { UNIT_KINDS } from '../das/importance.js';
import {
  type HostImportance, type ImportanceMeta, type UnitDims, META_FILE, IMPORTANCE_FILES,
  accumulatedImportance, checkHostImportance, encodeImportance, parseImportanceMeta,
} from '../das/importance-files.js';
import type { Importance } from '../das/soft-mask.js';

/** Reads a set from `dir` (ContinualLM file names); without importance.json the set counts as raw. */
export async function readImportance(dir: string, dims?: UnitDims): Promise<E.Either<IoError, { set: HostImportance; meta: ImportanceMeta }>> {
  const arrays: Partial<HostImportance> = {};
  for (const k of UNIT_KINDS) {
    const a = await readNpyFile(join(dir, IMPORTANCE_FILES[k]));
    if (E.isLeft(a)) return a;
    arrays[k] = a.right;
  }
  const set = checkHostImportance(arrays as HostImportance, dims, (name) => join(dir, name));
  if (E.isLeft(set)) return set;
  let meta: ImportanceMeta = { normalized: false };
  const metaPath = join(dir, META_FILE);
  const bytes = await readBytes(metaPath);
  if (E.isRight(bytes)) {
    const m = parseImportanceMeta(bytes.right, metaPath);
    if (E.isLeft(m)) return m;
    meta = m.right;
  } else if (!bytes.left.problem.includes('ENOENT')) return E.left(bytes.left);
  return E.right({ set: set.right, meta });
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e)));

/**
 * Writes a set into `dir` atomically (all files appear together or not at all). An existing `dir` is an
 * error unless `force`, which replaces it. Shapes and values are checked first (no NaN is ever written).
 */
export async function writeImportance(dir: string, set: HostImportance, meta: ImportanceMeta, { force = false } = {}): Promise<void> {
  const files = encodeImportance(set, meta);
  if (!force && (await exists(dir))) throw new IoError('already exists; refusing to overwrite an importance set (use --force to replace it)', { file: dir });
  await writeDirAtomic(dir, async (tmp) => {
    for (const [name, content] of Object.entries(files)) await writeFileAtomic(join(tmp, name), content);
  });
}

/**
 * Reads an accumulated importance Ī (already normalised, values in [0, 1]) from `dir`; every problem is a
 * Left naming the file. Raw reference sets (before_distill0, after_mlm{t}) must be normalised first
 * (`das importance accumulate`).
 */
export async function readImportanceDir(dir: string, cfg: RobertaConfig, backend: Backend): Promise<E.Either<IoError, Importance>> {
  const r = await readImportance(dir, cfg);
  if (E.isLeft(r)) return r;
  return accumulatedImportance(r.right.set, backend, (name) => join(dir, name));
}
