// Node's side of the byte codecs: whole files as bytes, and the readers for paths. Only Node code imports
// this module; the codecs themselves (safetensors-codec.ts, npy.ts, hf-checkpoint.ts, tokenizer/formats.ts)
// take bytes and run in a browser too (ARCHITECTURE.md).
import { readFile } from 'node:fs/promises';
import { E } from '../fp.js';
import { type IoError, ioFail } from './io-error.js';
import { type NpyArray, decodeNpy } from './npy.js';

/** Reads a whole file; a missing or unreadable file is an IoError, not an exception. */
export async function readBytes(path: string): Promise<E.Either<IoError, Uint8Array>> {
  try {
    return E.right(await readFile(path));
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    return ioFail(`cannot read file (${code})`, { file: path });
  }
}

/** Reads and decodes a .npy file. */
export async function readNpyFile(path: string): Promise<E.Either<IoError, NpyArray>> {
  const bytes = await readBytes(path);
  return E.isLeft(bytes) ? bytes : decodeNpy(bytes.right, path);
}
