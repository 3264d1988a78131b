// The safetensors format on host arrays: u64 LE header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { k: v } }, then the data
// buffer, which the tensors must tile exactly. The codec over bytes (runs in a browser too); parsing
// returns Either. The readers and writers for paths are in safetensors.ts.
import { E } from '../fp.js';
import { IoError, ioFail } from './io-error.js';

/** f16/bf16 are widened to Float32Array and i64 narrowed to Int32Array on read; `dtype` keeps the file's type. */
export type HostArray =
  | { dtype: 'f32' | 'f16' | 'bf16'; shape: number[]; data: Float32Array }
  | { dtype: 'f64'; shape: number[]; data: Float64Array }
  | { dtype: 'i32' | 'i64'; shape: number[]; data: Int32Array };
export type HostDtype = HostArray['dtype'];
export type Safetensors = { tensors: Map<string, HostArray>; metadata: Record<string, string> };
export type TensorEntries = ReadonlyMap<string, HostArray> | Readonly<Record<string, HostArray>>;

const FILE_DTYPES = {
  F32: { bytes: 4, host: 'f32' },
  F16: { bytes: 2, host: 'f16' },
  BF16: { bytes: 2, host: 'bf16' },
  F64: { bytes: 8, host: 'f64' },
  I32: { bytes: 4, host: 'i32' },
  I64: { bytes: 8, host: 'i64' },
} as const satisfies Record<string, { bytes: number; host: HostDtype }>;
type FileDtype = keyof typeof FILE_DTYPES;
const MAX_HEADER = 100_000_000; // the reference implementation's limit

// Typed-array views read the file's little-endian bytes in host order.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors IO needs a little-endian host');

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

type Entry = { name: string; dtype: FileDtype; shape: number[]; begin: number; end: number };

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

function parseEntry(name: string, raw: unknown, dataLen: number): E.Either<IoError, Entry> {
  const fail = (problem: string) => ioFail<Entry>(problem, { tensor: name });
  if (!isRecord(raw)) return fail('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !Object.hasOwn(FILE_DTYPES, dtype)) {
    return fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(FILE_DTYPES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    return fail(`data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = numel(shape) * FILE_DTYPES[dtype as FileDtype].bytes;
  if (expected !== end - begin) {
    return fail(`shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  if (end > dataLen) return fail(`data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data buffer (truncated file?)`);
  return E.right({ name, dtype: dtype as FileDtype, shape: shape as number[], begin, end });
}

/** The tensors must tile [0, dataLen) exactly: no overlap, no gap, no trailing bytes. */
function checkTiling(entries: Entry[], dataLen: number): E.Either<IoError, Entry[]> {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev = '';
  for (const e of sorted) {
    if (e.begin < at) return ioFail(`data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(prev)}`, { tensor: e.name });
    if (e.begin > at) return ioFail(`bytes [${at}, ${e.begin}) before this tensor belong to no tensor`, { tensor: e.name });
    at = e.end;
    prev = e.name;
  }
  if (at !== dataLen) return ioFail(`data buffer has ${dataLen - at} trailing bytes that belong to no tensor`);
  return E.right(entries);
}

let halfTable: Float32Array | undefined;
function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    halfTable[h] =
      exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

function decode(e: Entry, bytes: Uint8Array): E.Either<IoError, HostArray> {
  const copy = new Uint8Array(e.end - e.begin); // a copy, so typed views are aligned (Buffer.slice would alias)
  copy.set(bytes.subarray(e.begin, e.end));
  const buf = copy.buffer;
  const shape = e.shape;
  switch (e.dtype) {
    case 'F32':
      return E.right({ dtype: 'f32', shape, data: new Float32Array(buf) });
    case 'F64':
      return E.right({ dtype: 'f64', shape, data: new Float64Array(buf) });
    case 'I32':
      return E.right({ dtype: 'i32', shape, data: new Int32Array(buf) });
    case 'F16': {
      const table = halfToFloat();
      return E.right({ dtype: 'f16', shape, data: Float32Array.from(new Uint16Array(buf), (h) => table[h]) });
    }
    case 'BF16': {
      const data = new Float32Array(buf.byteLength / 2);
      const bits = new Uint32Array(data.buffer);
      new Uint16Array(buf).forEach((h, i) => (bits[i] = h << 16)); // bf16 is the top half of an f32
      return E.right({ dtype: 'bf16', shape, data });
    }
    case 'I64': {
      const words = new Int32Array(buf); // [lo, hi] pairs; in int32 range iff hi is lo's sign
      const data = new Int32Array(words.length / 2);
      for (let i = 0; i < data.length; i++) {
        if (words[2 * i + 1] !== words[2 * i] >> 31) {
          return ioFail(`I64 element ${i} does not fit in int32`, { tensor: e.name });
        }
        data[i] = words[2 * i];
      }
      return E.right({ dtype: 'i64', shape, data });
    }
    default:
      return e.dtype satisfies never;
  }
}

function parseMetadata(raw: unknown): E.Either<IoError, Record<string, string>> {
  if (raw === undefined) return E.right({});
  if (!isRecord(raw)) return ioFail('__metadata__ is not an object');
  const bad = Object.entries(raw).find(([, v]) => typeof v !== 'string');
  return bad ? ioFail(`__metadata__ value of ${JSON.stringify(bad[0])} is not a string`) : E.right({ ...raw } as Record<string, string>);
}

/** Parses a whole safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, file?: string): E.Either<IoError, Safetensors> {
  return E.mapLeft((err: IoError) => err.inFile(file))(parseBytes(bytes));
}

function parseBytes(bytes: Uint8Array): E.Either<IoError, Safetensors> {
  if (bytes.length < 8) return ioFail(`file has ${bytes.length} bytes, fewer than the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > MAX_HEADER) return ioFail(`header length ${headerLen} exceeds the ${MAX_HEADER}-byte limit`);
  if (headerLen > bytes.length - 8) return ioFail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    return ioFail(`header is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(header)) return ioFail('header is not a JSON object');
  const data = bytes.subarray(8 + headerLen);
  const metadata = parseMetadata(header['__metadata__']);
  if (E.isLeft(metadata)) return metadata;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = parseEntry(name, raw, data.length);
    if (E.isLeft(entry)) return entry;
    entries.push(entry.right);
  }
  const tiled = checkTiling(entries, data.length);
  if (E.isLeft(tiled)) return tiled;
  const tensors = new Map<string, HostArray>();
  for (const entry of entries) {
    const arr = decode(entry, data);
    if (E.isLeft(arr)) return arr;
    tensors.set(entry.name, arr.right);
  }
  return E.right({ tensors, metadata: metadata.right });
}

/** File dtype on write: f16/bf16 data is already f32, so it is written losslessly as F32. */
const WRITE_DTYPE: Record<HostDtype, FileDtype> = { f32: 'F32', f16: 'F32', bf16: 'F32', f64: 'F64', i32: 'I32', i64: 'I64' };

function checkWritable(name: string, a: HostArray): void {
  const where = `safetensors: tensor ${JSON.stringify(name)}`;
  if (name === '__metadata__' || name === '') throw new Error(`${where}: reserved or empty name`);
  if (!a.shape.every((d) => isCount(d))) throw new Error(`${where}: bad shape [${a.shape.join(', ')}]`);
  if (numel(a.shape) !== a.data.length) throw new Error(`${where}: shape [${a.shape.join(', ')}] does not match ${a.data.length} elements`);
  const ok = a.dtype === 'f64' ? a.data instanceof Float64Array : a.dtype[0] === 'i' ? a.data instanceof Int32Array : a.data instanceof Float32Array;
  if (!ok) throw new Error(`${where}: dtype ${a.dtype} does not match ${a.data.constructor.name}`);
}

function tensorBytes(a: HostArray): Uint8Array {
  if (a.dtype !== 'i64') return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const words = new Int32Array(a.data.length * 2);
  a.data.forEach((v, i) => {
    words[2 * i] = v;
    words[2 * i + 1] = v >> 31; // sign extension
  });
  return new Uint8Array(words.buffer);
}

/** The file as chunks: length + header (padded to 8 bytes with spaces), then each tensor's bytes. */
export function encodeSafetensors(tensors: TensorEntries, metadata: Record<string, string> = {}): Uint8Array[] {
  const list: [string, HostArray][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: __metadata__ value of ${JSON.stringify(k)} is not a string`);
    }
    header['__metadata__'] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const [name, a] of list) {
    checkWritable(name, a);
    const bytes = tensorBytes(a);
    Object.defineProperty(header, name, {
      value: { dtype: WRITE_DTYPE[a.dtype], shape: a.shape, data_offsets: [at, at + bytes.length] },
      enumerable: true, // defineProperty, so a tensor named "__proto__" is an ordinary key
    });
    chunks.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setUint32(0, head.length, true);
  return [prefix, head, ...chunks];
}

/** The whole file in one buffer. */
export function serializeSafetensors(tensors: TensorEntries, metadata?: Record<string, string>): Uint8Array {
  const chunks = encodeSafetensors(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0)); // not a Buffer: Buffer.slice aliases
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}
