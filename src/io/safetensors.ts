// Safetensors files for paths (Node): reading and atomic writing, over the codec of safetensors-codec.ts,
// which this module re-exports (Node code imports either; browser code only the codec).
import { E } from '../fp.js';
import { writeFileAtomic } from './atomic.js';
import { readBytes } from './files.js';
import type { IoError } from './io-error.js';
import { type Safetensors, type TensorEntries, encodeSafetensors, parseSafetensors } from './safetensors-codec.js';

export * from './safetensors-codec.js';

/** Reads and parses a safetensors file; an unreadable file is a Left too. */
export async function readSafetensors(path: string): Promise<E.Either<IoError, Safetensors>> {
  const bytes = await readBytes(path);
  return E.isLeft(bytes) ? bytes : parseSafetensors(bytes.right, path);
}

/** Writes a safetensors file atomically, streaming tensor data without concatenating it. */
export async function writeSafetensors(path: string, tensors: TensorEntries, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
