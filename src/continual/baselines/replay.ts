// DER++'s maths (Buzzega et al., 2020): a reservoir-sampled replay buffer of earlier chunks with the
// network's outputs on them, the deterministic draw of a replay mini-batch, the distillation term
// (MSE between the current and the stored final hidden states), and the buffer as a directory
// (buffer.safetensors: ids, hidden states, origins; the stream count and the special token ids as metadata).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { E } from '../../fp.js';
import { writeDirAtomic, writeFileAtomic } from '../../io/atomic.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import type { SpecialIds } from '../../io/tokenizer/index.js';
import type { RobertaConfig } from '../../nn/config.js';
import { toDevice } from '../../nn/mlm.js';
import type { Params } from '../../nn/params.js';
import { encode } from '../../nn/roberta.js';
import { mul, scalarOp, sub } from '../../ops/binary.js';
import { type Key, threefry2x32 } from '../../ops/random.js';
import { sum } from '../../ops/reduce.js';
import { reshape } from '../../ops/reshape.js';
import { square } from '../../ops/unary.js';
import { release, tidy } from '../../tensor/scope.js';
import { type Tensor, read } from '../../tensor/tensor.js';

export const BUFFER_FILE = 'buffer.safetensors';

/** A uniform double in [0, 1) from 53 bits of one Threefry hash of counter n. */
const uniform = (k: Key, n: number): number => {
  const [hi, lo] = threefry2x32(k, n, 0);
  return (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53;
};

/**
 * Reservoir sampling (Vitter's algorithm R) continued over `incoming`: `buffer` holds a sample of the
 * first `seen` items of a stream; item n of the stream (0-based, counted over every call) enters slot
 * n while n < size, else replaces slot j = ⌊u·(n+1)⌋ if j < size, with u drawn from (k, n) alone. Every
 * item of a stream of N is then kept with probability min(1, size/N), and cutting the stream into
 * several calls gives the same buffer as one call.
 */
export function reservoir<T>(buffer: readonly T[], seen: number, incoming: readonly T[], size: number, k: Key): T[] {
  if (!(Number.isSafeInteger(size) && size > 0)) throw new RangeError(`reservoir: size must be a positive integer, got ${size}`);
  if (buffer.length !== Math.min(seen, size)) throw new RangeError(`reservoir: a buffer of ${buffer.length} cannot be a sample of ${seen} items into ${size} slots`);
  const out = buffer.slice();
  incoming.forEach((x, i) => {
    const n = seen + i;
    if (n < size) { out.push(x); return; }
    const j = Math.floor(uniform(k, n) * (n + 1));
    if (j < size) out[j] = x;
  });
  return out;
}

/** min(count, n) distinct indices of 0..n−1, drawn from `k` alone (a partial Fisher–Yates shuffle). */
export function replayDraw(n: number, count: number, k: Key): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(count, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(uniform(k, i) * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, m);
}

/**
 * The distillation term of DER++ on hidden states: mean over the real tokens' elements of
 * (z − stored)², z and stored [B, T, D], mask [B, T] (1 on real tokens), `real` = Σ mask.
 */
export function hiddenMse(z: Tensor, stored: Tensor, mask: Tensor, real: number): Tensor {
  const [B, T, D] = z.shape;
  return scalarOp('mul', sum(mul(square(sub(z, stored)), reshape(mask, [B, T, 1]))), 1 / Math.max(1, real * D));
}

/** A replay buffer: n entries of seqLen token ids with the final hidden states [seqLen, width] of the model that stored them. */
export interface ReplayBuffer {
  /** Capacity (replay-size). */
  size: number;
  /** Chunks of the stream so far (every earlier domain's chunks). */
  seen: number;
  /** Domains streamed into it. */
  domains: number;
  seqLen: number;
  width: number;
  specials: SpecialIds;
  /** [n, seqLen] */
  ids: Int32Array;
  /** [n, seqLen, width] */
  hidden: Float32Array;
  /** [n, 2]: (domain, chunk index in that domain's training chunks) of each entry. */
  origin: Int32Array;
}

export const entries = (b: Pick<ReplayBuffer, 'ids' | 'seqLen'>): number => b.ids.length / b.seqLen;

/** The final hidden states [n, T, D] of `params` (no dropout) on uncorrupted chunks, `batchSize` at a time. */
export async function finalHidden(cfg: RobertaConfig, params: Params, chunks: readonly Int32Array[], batchSize = 16): Promise<Float32Array> {
  const backend = params.embeddings.word.backend;
  const T = chunks[0]?.length ?? 0, D = cfg.width;
  const out = new Float32Array(chunks.length * T * D);
  for (let at = 0; at < chunks.length; at += batchSize) {
    const part = chunks.slice(at, at + batchSize);
    const ids = new Int32Array(part.length * T);
    part.forEach((c, i) => ids.set(c, i * T));
    const z = tidy(() => encode(cfg, params, toDevice(cfg, { B: part.length, T, ids }, backend)));
    try {
      out.set(await read(z), at * T * D);
    } finally {
      release(z);
    }
  }
  return out;
}

/** Writes the buffer atomically as `dir`/buffer.safetensors (+ replay.json, a readable summary). */
export async function writeReplay(dir: string, b: ReplayBuffer, meta: Record<string, unknown> = {}): Promise<void> {
  const n = entries(b);
  if (!(n > 0)) throw new Error('replay: an empty buffer is not written');
  const head = { size: b.size, seen: b.seen, domains: b.domains, seqLen: b.seqLen, width: b.width, entries: n };
  await mkdir(dirname(dir), { recursive: true });
  await writeDirAtomic(dir, async (tmp) => {
    await writeSafetensors(join(tmp, BUFFER_FILE), {
      ids: { dtype: 'i32', shape: [n, b.seqLen], data: b.ids },
      hidden: { dtype: 'f32', shape: [n, b.seqLen, b.width], data: b.hidden },
      origin: { dtype: 'i32', shape: [n, 2], data: b.origin },
    }, { ...Object.fromEntries(Object.entries(head).map(([k, v]) => [k, String(v)])), specials: JSON.stringify(b.specials) });
    await writeFileAtomic(join(tmp, 'replay.json'), `${JSON.stringify({ ...head, specials: b.specials, ...meta }, null, 2)}\n`);
  });
}

/** Reads a buffer directory written by writeReplay. */
export async function readReplay(dir: string): Promise<ReplayBuffer> {
  const file = join(dir, BUFFER_FILE);
  if (!existsSync(file)) throw new Error(`derpp: ${dir} holds no ${BUFFER_FILE} (the replay buffer of the previous domain)`);
  const st = await readSafetensors(file);
  if (E.isLeft(st)) throw st.left;
  const m = st.right.metadata, t = st.right.tensors;
  const num = (k: string) => {
    const v = Number(m[k]);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`derpp: ${file} has no valid '${k}' in its metadata`);
    return v;
  };
  const ids = t.get('ids'), hidden = t.get('hidden'), origin = t.get('origin');
  if (ids?.dtype !== 'i32' || hidden?.dtype !== 'f32' || origin?.dtype !== 'i32') throw new Error(`derpp: ${file} needs ids (I32), hidden (F32) and origin (I32)`);
  const b: ReplayBuffer = {
    size: num('size'), seen: num('seen'), domains: num('domains'), seqLen: num('seqLen'), width: num('width'),
    specials: JSON.parse(m.specials ?? 'null') as SpecialIds, ids: ids.data, hidden: hidden.data, origin: origin.data,
  };
  const n = entries(b);
  if (b.specials === null || typeof b.specials.mask !== 'number') throw new Error(`derpp: ${file} records no special token ids`);
  if (!Number.isSafeInteger(n) || n !== Math.min(b.seen, b.size) || hidden.data.length !== n * b.seqLen * b.width || origin.data.length !== 2 * n) {
    throw new Error(`derpp: ${file} is inconsistent (${n} entries for ${b.seen} seen into ${b.size} slots)`);
  }
  return b;
}
