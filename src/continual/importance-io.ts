// Importance sets on disk, in ContinualLM's layout (docs/method.md §4.4 step 5): a directory with float32
// NumPy files head_impt.npy [L, H], intermediate_impt.npy [L, F], output_impt.npy [L, D], plus our
// importance.json saying whether the set is raw (as ContinualLM stores it) or normalised (an EMax
// result). A directory without importance.json (e.g. the released before_distill0/, after_mlm{t}/)
// is read as raw. Writes are atomic and never replace an existing directory unless forced.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { IoError, ioFail, readBytes } from '../io/io-error.js';
import type { RobertaConfig } from '../nn/config.js';
import { fromArray, read } from '../tensor/tensor.js';
import { type ImportanceSet, UNIT_KINDS, type UnitKind } from './importance.js';

export interface NpyArray { shape: number[]; data: Float32Array }

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** NumPy's .npy v1.0 bytes of a C-order little-endian float32 array; the header is padded to 64 bytes. */
export function encodeNpy(a: NpyArray): Uint8Array {
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (n !== a.data.length) throw new Error(`encodeNpy: shape (${a.shape.join(', ')}) holds ${n} values, data has ${a.data.length}`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * n);
  out.set(MAGIC, 0);
  out.set([1, 0], 6);
  const dv = new DataView(out.buffer);
  dv.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  for (let i = 0; i < n; i++) dv.setFloat32(10 + header.length + 4 * i, a.data[i], true);
  return out;
}

/** Parses .npy bytes (versions 1–3) of a C-order little-endian float32 or float64 array (float64 is narrowed). */
export function decodeNpy(bytes: Uint8Array, file?: string): E.Either<IoError, NpyArray> {
  const fail = (problem: string) => ioFail<NpyArray>(problem, { file });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) return fail('not a NumPy .npy file (bad magic bytes)');
  const major = bytes[6];
  if (major < 1 || major > 3) return fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) return fail('truncated header');
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + headerLen > bytes.length) return fail(`truncated header (${headerLen} bytes announced, ${bytes.length - start} present)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') return fail('Fortran-order arrays are not supported (save with C order)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return fail(`bad shape (${shapeText})`);
  const width = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) return fail(`dtype '${descr}' is not supported (need little-endian float32 '<f4' or float64 '<f8')`);
  const n = shape.reduce((a, b) => a * b, 1);
  const have = bytes.length - start - headerLen;
  if (have !== n * width) {
    return fail(`${have < n * width ? 'truncated' : 'trailing bytes'}: shape (${shape.join(', ')}) of ${descr} needs ${n * width} data bytes, the file has ${have}`);
  }
  const data = new Float32Array(n);
  const at = start + headerLen;
  for (let i = 0; i < n; i++) data[i] = width === 4 ? dv.getFloat32(at + 4 * i, true) : dv.getFloat64(at + 8 * i, true);
  return E.right({ shape, data });
}

export async function readNpyFile(path: string): Promise<E.Either<IoError, NpyArray>> {
  const bytes = await readBytes(path);
  return E.isLeft(bytes) ? bytes : decodeNpy(bytes.right, path);
}

// ---- importance directories -------------------------------------------------------------------

export const IMPORTANCE_FILES: Readonly<Record<UnitKind, string>> = { head: 'head_impt.npy', intermediate: 'intermediate_impt.npy', output: 'output_impt.npy' };
export const META_FILE = 'importance.json';

/** An importance set on the host: head [L, H], intermediate [L, F], output [L, D]. */
export type HostImportance = Record<UnitKind, NpyArray>;
export type UnitDims = Pick<RobertaConfig, 'layers' | 'heads' | 'intermediate' | 'width'>;

/** What importance.json records: `normalized` decides whether `das importance accumulate` normalises the set. */
export interface ImportanceMeta { normalized: boolean; [field: string]: unknown }

const UNIT_NAME: Record<UnitKind, string> = { head: 'heads', intermediate: 'intermediate size', output: 'hidden size' };

/** The model sizes a set implies (layers from the head file). */
export const dimsOf = (h: HostImportance): UnitDims =>
  ({ layers: h.head.shape[0], heads: h.head.shape[1], intermediate: h.intermediate.shape[1], width: h.output.shape[1] });

/**
 * Checks shapes and values: every file [L, ·] with the same L, matching `dims` when given (a set of
 * another model is named as such), every value finite. Errors name the file.
 */
export function checkHostImportance(h: HostImportance, dims?: UnitDims, dir = '.'): E.Either<IoError, HostImportance> {
  const want = dims ?? (h.head.shape.length === 2 ? dimsOf(h) : undefined);
  for (const k of UNIT_KINDS) {
    const file = join(dir, IMPORTANCE_FILES[k]);
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

/** Reads a set from `dir` (ContinualLM file names); without importance.json the set counts as raw. */
export async function readImportance(dir: string, dims?: UnitDims): Promise<E.Either<IoError, { set: HostImportance; meta: ImportanceMeta }>> {
  const arrays: Partial<HostImportance> = {};
  for (const k of UNIT_KINDS) {
    const a = await readNpyFile(join(dir, IMPORTANCE_FILES[k]));
    if (E.isLeft(a)) return a;
    arrays[k] = a.right;
  }
  const set = checkHostImportance(arrays as HostImportance, dims, dir);
  if (E.isLeft(set)) return set;
  let meta: ImportanceMeta = { normalized: false };
  const metaPath = join(dir, META_FILE);
  const bytes = await readBytes(metaPath);
  if (E.isRight(bytes)) {
    try {
      const m = JSON.parse(new TextDecoder().decode(bytes.right)) as unknown;
      if (typeof m !== 'object' || m === null || typeof (m as ImportanceMeta).normalized !== 'boolean') throw new Error('expected an object with a boolean "normalized"');
      meta = m as ImportanceMeta;
    } catch (e) {
      return ioFail(`malformed (${(e as Error).message})`, { file: metaPath });
    }
  } else if (!bytes.left.problem.includes('ENOENT')) return E.left(bytes.left);
  return E.right({ set: set.right, meta });
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e)));

/**
 * Writes a set into `dir` atomically (all files appear together or not at all). An existing `dir` is an
 * error unless `force`, which replaces it. Shapes and values are checked first (no NaN is ever written).
 */
export async function writeImportance(dir: string, set: HostImportance, meta: ImportanceMeta, { force = false } = {}): Promise<void> {
  const ok = checkHostImportance(set);
  if (E.isLeft(ok)) throw ok.left;
  if (!force && (await exists(dir))) throw new IoError('already exists; refusing to overwrite an importance set (use --force to replace it)', { file: dir });
  await writeDirAtomic(dir, async (tmp) => {
    for (const k of UNIT_KINDS) await writeFileAtomic(join(tmp, IMPORTANCE_FILES[k]), encodeNpy(set[k]));
    await writeFileAtomic(join(tmp, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
  });
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
