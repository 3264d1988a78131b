// Readers for corpus, task, label and sequence files that reject bad input with a clear message.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: string): Result<T> => ({ ok: false, error });

import type { Example } from './domain.js';

export type { Example };

export interface SequenceDomain {
  readonly name: string;
  /** Absolute paths, resolved against the sequence file's folder. */
  readonly train: string;
  readonly taskTrain: string;
  readonly taskTest: string;
  readonly labels: string;
}

export interface Sequence {
  readonly general: { readonly train: string; readonly valid: string };
  readonly domains: readonly SequenceDomain[];
}

/** Default minimum size of a corpus: one 164-token chunk at ~1.3 tokens per word. */
export const minCorpusWords = 128;

/** Lines of a UTF-8 text file: fails when unreadable, empty, or not UTF-8 (naming file and line). */
function readLines(path: string): Result<string[]> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return fail(`${path}: cannot read (${(err as Error).message})`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const lines: string[] = [];
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;   // skip a BOM
  for (let lineNo = 1; start <= bytes.length; lineNo++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      lines.push(decoder.decode(bytes.subarray(start, end)).replace(/\r$/, ''));
    } catch {
      return fail(`${path}:${lineNo}: not valid UTF-8`);
    }
    start = end + 1;
  }
  if (lines.every((l) => l.trim() === '')) return fail(`${path}: file is empty`);
  return ok(lines);
}

/** A post-training corpus: one text unit per line (blank lines ignored), at least `minWords` words. */
export function readCorpus(path: string, minWords = minCorpusWords): Result<string[]> {
  const read = readLines(path);
  if (!read.ok) return read;
  const lines = read.value.filter((l) => l.trim() !== '');
  const words = lines.reduce((n, l) => n + l.trim().split(/\s+/).length, 0);
  if (words < minWords) return fail(`${path}: ${words} words, shorter than one chunk (${minWords} words)`);
  return ok(lines);
}

/** An ordered list of distinct label names (labels.json). */
export function readLabels(path: string): Result<string[]> {
  const read = readJson(path);
  if (!read.ok) return read;
  const v = read.value;
  if (!Array.isArray(v) || v.length === 0) return fail(`${path}: expected a non-empty JSON array of label names`);
  for (const [i, l] of v.entries()) {
    if (typeof l !== 'string' || l === '') return fail(`${path}: entry ${i} is not a non-empty string`);
    if (v.indexOf(l) !== i) return fail(`${path}: duplicate label "${l}"`);
  }
  return ok(v as string[]);
}

/** A task file: JSON lines `{"text": string, "label": string}`; labels checked when given. */
export function readTask(path: string, labels?: readonly string[]): Result<Example[]> {
  const read = readLines(path);
  if (!read.ok) return read;
  const known = labels === undefined ? null : new Set(labels);
  const examples: Example[] = [];
  for (const [i, line] of read.value.entries()) {
    if (line.trim() === '') continue;
    const where = `${path}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      return fail(`${where}: invalid JSON (${(err as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${where}: expected a JSON object`);
    const { text, label } = v as Record<string, unknown>;
    if (text === undefined) return fail(`${where}: missing field "text"`);
    if (label === undefined) return fail(`${where}: missing field "label"`);
    if (typeof text !== 'string' || text.trim() === '') return fail(`${where}: field "text" must be a non-empty string`);
    if (typeof label !== 'string' || label === '') return fail(`${where}: field "label" must be a non-empty string`);
    if (known !== null && !known.has(label)) {
      return fail(`${where}: unknown label "${label}" (expected one of: ${[...known].join(', ')})`);
    }
    examples.push({ text, label });
  }
  return ok(examples);
}

/** The data description (sequence.json): general corpus plus an ordered list of distinct domains. */
export function readSequence(path: string): Result<Sequence> {
  const read = readJson(path);
  if (!read.ok) return read;
  const v = read.value as { general?: unknown; domains?: unknown } | null;
  const base = dirname(path);
  const str = (x: unknown) => typeof x === 'string' && x !== '';
  if (typeof v !== 'object' || v === null) return fail(`${path}: expected a JSON object`);
  const general = v.general as Record<string, unknown> | undefined;
  if (typeof general !== 'object' || general === null || !str(general.train) || !str(general.valid)) {
    return fail(`${path}: "general" must be an object with "train" and "valid" paths`);
  }
  if (!Array.isArray(v.domains) || v.domains.length === 0) return fail(`${path}: "domains" must be a non-empty array`);
  const domains: SequenceDomain[] = [];
  const firstAt = new Map<string, number>();
  for (const [i, d] of (v.domains as unknown[]).entries()) {
    const e = d as Record<string, unknown> | null;
    const missing = ['name', 'train', 'taskTrain', 'taskTest', 'labels'].find((k) => e === null || typeof e !== 'object' || !str(e[k]));
    if (e === null || missing !== undefined) return fail(`${path}: domains[${i}] lacks a string field "${missing ?? 'name'}"`);
    const name = e.name as string;
    const prev = firstAt.get(name);
    if (prev !== undefined) return fail(`${path}: duplicate domain "${name}" (domains[${prev}] and domains[${i}])`);
    firstAt.set(name, i);
    const at = (k: string) => resolve(base, e[k] as string);
    domains.push({ name, train: at('train'), taskTrain: at('taskTrain'), taskTest: at('taskTest'), labels: at('labels') });
  }
  return ok({ general: { train: resolve(base, general.train as string), valid: resolve(base, general.valid as string) }, domains });
}

function readJson(path: string): Result<unknown> {
  const read = readLines(path);
  if (!read.ok) return read;
  try {
    return ok(JSON.parse(read.value.join('\n')));
  } catch (err) {
    return fail(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

/** Unwraps a Result for callers that prefer exceptions (CLI, training entry points). */
export function orThrow<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
