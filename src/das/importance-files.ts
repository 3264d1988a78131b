// Importance sets as bytes, in ContinualLM's layout (docs/method.md §4.4 step 5): float32 NumPy arrays
// head_impt.npy [L, H], intermediate_impt.npy [L, F], output_impt.npy [L, D], plus our importance.json
// saying whether the set is raw (as ContinualLM stores it) or normalised (an EMax result). Checks,
// the codec and host ↔ device conversion; no file is touched here (the core runs in a browser):
// directories are src/das-files/importance-dirs.ts.
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { type IoError, ioFail } from '../io/io-error.js';
import type { RobertaConfig } from '../nn/config.js';
import { fromArray, read } from '../tensor/tensor.js';
import { type ImportanceSet, UNIT_KINDS, type UnitKind, toLayerGates } from './importance.js';
import { release } from '../tensor/scope.js';
import { type NpyArray, encodeNpy } from '../io/npy.js';
import type { Importance } from './soft-mask.js';

// ---- importance sets ---------------------------------------------------------------------------

export const IMPORTANCE_FILES: Readonly<Record<UnitKind, string>> = { head: 'head_impt.npy', intermediate: 'intermediate_impt.npy', output: 'output_impt.npy' };
export const META_FILE = 'importance.json';

/** An importance set on the host: head [L, H], intermediate [L, F], output [L, D]. */
export type HostImportance = Record<UnitKind, NpyArray>;
export type UnitDims = Pick<RobertaConfig, 'layers' | 'heads' | 'intermediate' | 'width'>;

/** What importance.json records: `normalized` decides whether `das importance accumulate` normalises the set. */
export interface ImportanceMeta { normalized: boolean; [field: string]: unknown }

/** How a file of the set is named in messages (a directory reader passes the path; bare names by default). */
export type FileOf = (name: string) => string;
const bare: FileOf = (name) => name;

const UNIT_NAME: Record<UnitKind, string> = { head: 'heads', intermediate: 'intermediate size', output: 'hidden size' };

/** The model sizes a set implies (layers from the head file). */
export const dimsOf = (h: HostImportance): UnitDims =>
  ({ layers: h.head.shape[0], heads: h.head.shape[1], intermediate: h.intermediate.shape[1], width: h.output.shape[1] });

/**
 * Checks shapes and values: every file [L, ·] with the same L, matching `dims` when given (a set of
 * another model is named as such), every value finite. Errors name the file.
 */
export function checkHostImportance(h: HostImportance, dims?: UnitDims, fileOf: FileOf = bare): E.Either<IoError, HostImportance> {
  const want = dims ?? (h.head.shape.length === 2 ? dimsOf(h) : undefined);
  for (const k of UNIT_KINDS) {
    const file = fileOf(IMPORTANCE_FILES[k]);
    const { shape, data } = h[k];
    if (shape.length !== 2) return ioFail(`expected a 2-D array (layers, ${UNIT_NAME[k]}), got shape (${shape.join(', ')})`, { file });
    const w = want === undefined ? undefined : [want.layers, k === 'head' ? want.heads : k === 'intermediate' ? want.intermediate : want.width];
    if (w !== undefined && (shape[0] !== w[0] || shape[1] !== w[1])) {
      const why = dims === undefined ? `the other files of this set imply (${w.join(', ')})` : `the model needs (${w.join(', ')}) = (layers, ${UNIT_NAME[k]}); is this the importance of another model?`;
      return ioFail(`shape (${shape.join(', ')}) does not fit: ${why}`, { file });
    }
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) return ioFail(`value ${data[bad]} at layer ${Math.floor(bad / shape[1])}, unit ${bad % shape[1]} is not finite`, { file });
  }
  return E.right(h);
}

/** importance.json's bytes → its record; malformed is a Left naming `file`. */
export function parseImportanceMeta(bytes: Uint8Array, file: string = META_FILE): E.Either<IoError, ImportanceMeta> {
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof m !== 'object' || m === null || typeof (m as ImportanceMeta).normalized !== 'boolean') throw new Error('expected an object with a boolean "normalized"');
    return E.right(m as ImportanceMeta);
  } catch (e) {
    return ioFail(`malformed (${(e as Error).message})`, { file });
  }
}

/** The files of a set (file name → bytes), after checking shapes and values (no NaN is ever written). */
export function encodeImportance(set: HostImportance, meta: ImportanceMeta): Record<string, Uint8Array | string> {
  const ok = checkHostImportance(set);
  if (E.isLeft(ok)) throw ok.left;
  const out: Record<string, Uint8Array | string> = {};
  for (const k of UNIT_KINDS) out[IMPORTANCE_FILES[k]] = encodeNpy(set[k]);
  out[META_FILE] = `${JSON.stringify(meta, null, 2)}\n`;
  return out;
}

/** Device set → host arrays. */
export async function importanceToHost(s: ImportanceSet): Promise<HostImportance> {
  const out: Partial<HostImportance> = {};
  for (const k of UNIT_KINDS) out[k] = { shape: [...s[k].shape], data: Float32Array.from(await read(s[k])) };
  return out as HostImportance;
}

/** Host arrays → a device set on `backend`. */
export const importanceFromHost = (h: HostImportance, backend: Backend): ImportanceSet =>
  ({ head: fromArray(h.head.data, h.head.shape, { backend }), intermediate: fromArray(h.intermediate.data, h.intermediate.shape, { backend }), output: fromArray(h.output.data, h.output.shape, { backend }) });

/**
 * An accumulated importance Ī (already normalised, values in [0, 1]) as per-layer gates on `backend`;
 * a value outside [0, 1] is a Left naming the file. Raw reference sets (before_distill0, after_mlm{t})
 * must be normalised first (`das importance accumulate`).
 */
export function accumulatedImportance(set: HostImportance, backend: Backend, fileOf: FileOf = bare): E.Either<IoError, Importance> {
  for (const kind of ['head', 'intermediate', 'output'] as const) {
    const data = set[kind].data;
    const bad = data.findIndex((v) => !(v >= 0 && v <= 1));
    if (bad >= 0) return ioFail(`value ${data[bad]} at element ${bad} is outside [0, 1]; soft-masking needs normalised, accumulated importance (docs/method.md §4.5–4.6)`, { file: fileOf(IMPORTANCE_FILES[kind]) });
  }
  const stacked = importanceFromHost(set, backend);
  try { return E.right(toLayerGates(stacked)); } finally { release(stacked); }
}
