// Readers for corpus, task, label and sequence files that reject bad input with a clear message.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: string): Result<T> => ({ ok: false, error });

/** A labelled end-task example. */
export interface Example {
  readonly text: string;
  readonly label: string;
}

export interface SequenceDomain {
  readonly name: string;
  /** Absolute paths, resolved against the sequence file's folder. */
  readonly train: string;
  readonly taskTrain: string;
  readonly taskTest: string;
  readonly labels: string;
}

export interface Sequence {
  /** General-domain text; optional. `valid` is the held-out text of `das run --held-out` (absolute paths). */
  readonly general?: { readonly train?: string; readonly valid?: string };
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

/**
 * A text corpus that is really JSON (a .json/.jsonl file, or lines that parse as JSON objects) would
 * be trained on braces, keys and all: refused. Pre-tokenized JSON lines are a different input, read
 * only by the commands that say so (das importance, das grads).
 */
function jsonCorpus(path: string, lines: readonly string[]): string | null {
  if (/\.jsonl?$/i.test(path)) return `${path}: a text corpus must be plain text, one passage per line, but this is a .json/.jsonl file (pre-tokenized JSON lines are read only by das importance --data and das grads --examples)`;
  const sample = lines.slice(0, 50);
  const objects = sample.filter((l) => { if (!/^\s*\{.*\}\s*$/.test(l)) return false; try { const v: unknown = JSON.parse(l); return typeof v === 'object' && v !== null; } catch { return false; } }).length;
  if (sample.length > 0 && objects * 2 > sample.length) return `${path}: ${objects} of its first ${sample.length} lines are JSON objects; a text corpus must be plain text, one passage per line (extract the text field first)`;
  return null;
}

/** A post-training corpus: one text unit per line (blank lines ignored), at least `minWords` words; JSON is refused. */
export function readCorpus(path: string, minWords = minCorpusWords): Result<string[]> {
  const read = readLines(path);
  if (!read.ok) return read;
  const lines = read.value.filter((l) => l.trim() !== '');
  const json = jsonCorpus(path, lines);
  if (json !== null) return fail(json);
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
  if (general !== undefined && (typeof general !== 'object' || general === null || Array.isArray(general))) return fail(`${path}: "general" must be an object with optional "train" and "valid" paths`);
  for (const k of ['train', 'valid']) if (general !== undefined && general[k] !== undefined && !str(general[k])) return fail(`${path}: "general.${k}" must be a non-empty path`);
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
  const opt = (k: string) => (general !== undefined && str(general[k]) ? { [k]: resolve(base, general[k] as string) } : {});
  return ok({ ...(general !== undefined ? { general: { ...opt('train'), ...opt('valid') } } : {}), domains });
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

export interface TaskReport {
  /** The task's (domain's) name. */
  name: string;
  /** Examples per label, per split (every label of labels.json, zeros included). */
  counts: { train: Record<string, number>; test: Record<string, number> };
  /** Problems worth a warning: labels without examples, test passages found in the training text. */
  warnings: string[];
}

/**
 * Class counts of a task and the problems that do not stop a run but may invalidate it: a label with
 * no examples in a split, and test passages that also occur in the domain's post-training corpus
 * (leakage: the model saw the test text during post-training). A passage counts as leaked when it
 * equals a corpus line or, if at least 40 characters long, occurs inside the corpus text.
 */
export function taskReport(name: string, labels: readonly string[], train: readonly Example[], test: readonly Example[], corpusLines?: readonly string[]): TaskReport {
  const count = (xs: readonly Example[]) => {
    const c: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
    for (const e of xs) c[e.label] = (c[e.label] ?? 0) + 1;
    return c;
  };
  const counts = { train: count(train), test: count(test) };
  const warnings: string[] = [];
  for (const split of ['train', 'test'] as const) {
    const empty = labels.filter((l) => counts[split][l] === 0);
    if (empty.length > 0) warnings.push(`${name}: label${empty.length > 1 ? 's' : ''} ${empty.map((l) => `"${l}"`).join(', ')} ha${empty.length > 1 ? 've' : 's'} no ${split} example`);
  }
  if (corpusLines !== undefined) {
    const lineSet = new Set(corpusLines.map((l) => l.trim()));
    const text = corpusLines.join('\n');
    const leaked = test.filter((e) => { const t = e.text.trim(); return lineSet.has(t) || (t.length >= 40 && text.includes(t)); }).length;
    if (leaked > 0) warnings.push(`${name}: ${leaked} of ${test.length} test passages also occur in the post-training corpus (leakage: the model reads them before it is tested)`);
  }
  return { name, counts, warnings };
}
