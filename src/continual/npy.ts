// Minimal NumPy .npy reader (format versions 1–3, little-endian f4/f8, C order) and the importance
// directory of das-spec §4.4: head_impt.npy [L, H], intermediate_impt.npy [L, F], output_impt.npy [L, D].
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { IoError, ioFail, readBytes } from '../io/io-error.js';
import type { RobertaConfig } from '../nn/config.js';
import { fromArray } from '../tensor/tensor.js';
import type { Importance } from './soft-mask.js';

export interface NpyArray { shape: number[]; data: Float32Array }

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses .npy bytes holding a float32 or float64 array (widened/narrowed to Float32Array). */
export function parseNpy(bytes: Uint8Array, file?: string): E.Either<IoError, NpyArray> {
  const fail = (problem: string) => ioFail<NpyArray>(problem, { file });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) return fail('not a .npy file (bad magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) return fail(`unsupported .npy version ${major}.${bytes[7]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + headerLen > bytes.length) return fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') return fail('Fortran-order arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return fail(`bad shape (${shapeText})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const width = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) return fail(`dtype ${descr} is not supported (need little-endian float32 '<f4' or float64 '<f8')`);
  const offset = start + headerLen;
  if (bytes.length - offset !== n * width) return fail(`shape (${shape.join(', ')}) of ${descr} needs ${n * width} data bytes, the file has ${bytes.length - offset}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = width === 4 ? dv.getFloat32(offset + 4 * i, true) : dv.getFloat64(offset + 8 * i, true);
  return E.right({ shape, data });
}

export async function readNpy(path: string): Promise<E.Either<IoError, NpyArray>> {
  const bytes = await readBytes(path);
  return E.isLeft(bytes) ? bytes : parseNpy(bytes.right, path);
}

const FILES = { head: 'head_impt.npy', intermediate: 'intermediate_impt.npy', output: 'output_impt.npy' } as const;

/**
 * Reads an accumulated importance Ī (already normalised, values in [0, 1]) from `dir`; every problem is a
 * Left naming the file. Raw reference sets (before_distill0, after_mlm{t}) must be normalised first.
 */
export async function readImportanceDir(dir: string, cfg: RobertaConfig, backend: Backend): Promise<E.Either<IoError, Importance>> {
  const width = { head: cfg.heads, intermediate: cfg.intermediate, output: cfg.width };
  const arrays: Partial<Record<keyof typeof FILES, NpyArray>> = {};
  for (const kind of ['head', 'intermediate', 'output'] as const) {
    const file = join(dir, FILES[kind]);
    const a = await readNpy(file);
    if (E.isLeft(a)) return a;
    const { shape, data } = a.right;
    if (shape.length !== 2 || shape[0] !== cfg.layers || shape[1] !== width[kind]) {
      return ioFail(`shape (${shape.join(', ')}) does not match the model's (${cfg.layers}, ${width[kind]})`, { file });
    }
    const bad = data.findIndex((v) => !(v >= 0 && v <= 1));
    if (bad >= 0) return ioFail(`value ${data[bad]} at element ${bad} is outside [0, 1]; soft-masking needs normalised, accumulated importance (das-spec §4.5–4.6)`, { file });
    arrays[kind] = a.right;
  }
  return E.right(Array.from({ length: cfg.layers }, (_, l) => {
    const row = (kind: keyof typeof FILES) => fromArray(arrays[kind]!.data.slice(l * width[kind], (l + 1) * width[kind]), [width[kind]], { backend });
    return { head: row('head'), intermediate: row('intermediate'), output: row('output') };
  }));
}
