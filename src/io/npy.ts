// NumPy .npy files (format v1.0) of little-endian float32 arrays: the codec over bytes (the reader for
// paths is io/files.ts). Used for importance sets in ContinualLM's layout (src/das/importance-files.ts).
import { E } from '../fp.js';
import { type IoError, ioFail } from './io-error.js';

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
