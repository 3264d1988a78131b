// Pre-tokenized MLM examples from JSON lines, so a run can replay the exact batches of another
// implementation: {"input_ids": [...], "attention_mask": [...], "labels": [...]} per line.
// Malformed data is an IoError naming the file and line, returned in an Either (style §4.1).
import { readFileSync } from 'node:fs';
import { E } from '../fp.js';
import { IoError } from '../io/io-error.js';
import { IGNORE } from '../nn/mlm.js';
import type { MlmBatch } from './mlm-data.js';

/** One example, [T] each; `labels` absent means nothing is scored. */
export interface MlmExample {
  ids: Int32Array;
  attention: Int32Array;
  labels?: Int32Array;
  /** Uncorrupted ids when the file has them (`inputs_ori_ids`). */
  originalIds?: Int32Array;
}

export interface JsonlOptions {
  /** When given, ids, labels and original ids must lie in [0, vocabSize). */
  vocabSize?: number;
}

type Check<A> = E.Either<string, A>;

/** An array of integers, each accepted by `ok` (which describes the violation, or returns undefined). */
function intArray(v: unknown, name: string, ok: (x: number) => string | undefined): Check<Int32Array> {
  if (!Array.isArray(v)) return E.left(`"${name}" must be an array of integers, got ${JSON.stringify(v)?.slice(0, 40)}`);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isInteger(x)) return E.left(`${name}[${i}] = ${JSON.stringify(x)} is not an integer`);
    if (Math.abs(x) > 0x7fffffff) return E.left(`${name}[${i}] = ${x} does not fit in 32 bits`);
    const why = ok(x);
    if (why !== undefined) return E.left(`${name}[${i}] = ${x} ${why}`);
    out[i] = x;
  }
  return E.right(out);
}

function parseExample(obj: unknown, opts: JsonlOptions): Check<MlmExample> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return E.left('a line must hold a JSON object');
  const rec = obj as Record<string, unknown>;
  const V = opts.vocabSize;
  const token = (x: number) => (x < 0 ? 'is negative' : V !== undefined && x >= V ? `is outside the vocabulary of ${V}` : undefined);
  const label = (x: number) => (x === IGNORE ? undefined : token(x));
  const bit = (x: number) => (x === 0 || x === 1 ? undefined : 'is not 0 or 1');
  if (!('input_ids' in rec)) return E.left('missing "input_ids"');
  const ids = intArray(rec.input_ids, 'input_ids', token);
  if (E.isLeft(ids)) return ids;
  const T = ids.right.length;
  if (T === 0) return E.left('"input_ids" is empty');
  const optional = (name: string, ok: (x: number) => string | undefined): Check<Int32Array | undefined> => {
    if (rec[name] === undefined) return E.right(undefined);
    const a = intArray(rec[name], name, ok);
    if (E.isRight(a) && a.right.length !== T) return E.left(`"${name}" has ${a.right.length} entries, "input_ids" has ${T}`);
    return a;
  };
  const attention = optional('attention_mask', bit);
  if (E.isLeft(attention)) return attention;
  const labels = optional('labels', label);
  if (E.isLeft(labels)) return labels;
  const originalIds = optional('inputs_ori_ids', token);
  if (E.isLeft(originalIds)) return originalIds;
  return E.right({
    ids: ids.right,
    attention: attention.right ?? new Int32Array(T).fill(1),
    ...(labels.right && { labels: labels.right }),
    ...(originalIds.right && { originalIds: originalIds.right }),
  });
}

/**
 * Examples of a JSON-lines text, each at its own length (blank lines skipped, unknown fields
 * ignored, `attention_mask` defaulting to ones). Lengths are evened out per batch by batchesOf.
 */
export function parseJsonl(text: string, file: string, opts: JsonlOptions = {}): E.Either<IoError, MlmExample[]> {
  const examples: MlmExample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    if (lines[n].trim() === '') continue;
    const where = { file, field: `line ${n + 1}` };
    let obj: unknown;
    try {
      obj = JSON.parse(lines[n]);
    } catch (err) {
      return E.left(new IoError(`malformed JSON (${err instanceof Error ? err.message : String(err)})`, where));
    }
    const ex = parseExample(obj, opts);
    if (E.isLeft(ex)) return E.left(new IoError(ex.left, where));
    examples.push(ex.right);
  }
  return examples.length === 0 ? E.left(new IoError('no examples', { file })) : E.right(examples);
}

/** Reads and parses a JSON-lines file; an unreadable file is an IoError too. */
export function readJsonl(path: string, opts: JsonlOptions = {}): E.Either<IoError, MlmExample[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    return E.left(new IoError(`cannot read file (${code})`, { file: path }));
  }
  return parseJsonl(text, path, opts);
}

/** readJsonl for command-line edges: throws the IoError. */
export function readJsonlExamples(path: string, opts: JsonlOptions = {}): MlmExample[] {
  const r = readJsonl(path, opts);
  if (E.isLeft(r)) throw r.left;
  return r.right;
}

/**
 * Consecutive batches of `batchSize` examples in file order (the last may be smaller). Shorter
 * examples are right-padded to the longest of their batch with `padId` (default 1, RoBERTa's
 * `<pad>`), attention 0 and label −100. Labels are kept as given, −100 where an example has none.
 * Original ids come from the file when present, else are rebuilt exactly: the collator changes
 * only labelled positions, and their label is the original id.
 */
export function batchesOf(examples: readonly MlmExample[], batchSize: number, padId = 1): MlmBatch[] {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchesOf: batchSize must be a positive integer, got ${batchSize}`);
  const out: MlmBatch[] = [];
  for (let first = 0; first < examples.length; first += batchSize) {
    const group = examples.slice(first, first + batchSize);
    const B = group.length, T = group.reduce((m, x) => Math.max(m, x.ids.length), 0);
    const hb: MlmBatch = {
      B, T,
      ids: new Int32Array(B * T).fill(padId), attention: new Int32Array(B * T),
      labels: new Int32Array(B * T).fill(IGNORE), originalIds: new Int32Array(B * T).fill(padId),
    };
    group.forEach((x, b) => {
      hb.ids.set(x.ids, b * T);
      hb.attention.set(x.attention, b * T);
      if (x.labels) hb.labels.set(x.labels, b * T);
      const ori = x.originalIds ?? x.ids.map((id, t) => (x.labels && x.labels[t] !== IGNORE ? x.labels[t] : id));
      hb.originalIds.set(ori, b * T);
    });
    out.push(hb);
  }
  return out;
}

/** readJsonl, then batchesOf. */
export function readJsonlBatches(path: string, batchSize: number, padId = 1, opts: JsonlOptions = {}): E.Either<IoError, MlmBatch[]> {
  return E.map((examples: MlmExample[]) => batchesOf(examples, batchSize, padId))(readJsonl(path, opts));
}
