// Hugging Face tokenizer files for RoBERTa: `tokenizer.json` (tokenizers library) and the slow
// tokenizer's `vocab.json` + `merges.txt`, parsed from and written to text (runs in a browser too).
// Parsing returns Either. Loading from and saving to a directory is files.ts (Node).
import { E } from '../../fp.js';
import { IoError, ioFail } from '../io-error.js';
import { makeTokenizer, robertaAddedTokens, SPECIAL_TOKENS, type AddedToken, type BpeModel, type SpecialIds, type Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;
type Result<A> = E.Either<IoError, A>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

function parseJson(text: string, file: string): Result<unknown> {
  try {
    return E.right(JSON.parse(text));
  } catch (err) {
    return ioFail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, { file });
  }
}

const MAX_ID = 1 << 24;

/** `[token, id]` entries into the table `vocab[id] = token`. */
function addVocab(entries: Iterable<[string, unknown]>, field: string, table: string[]): Result<string[]> {
  for (const [token, id] of entries) {
    if (!isId(id) || id >= MAX_ID) return ioFail(`id of ${JSON.stringify(token)} is ${JSON.stringify(id)}, not an integer in [0, ${MAX_ID})`, { field });
    if (table[id] !== undefined && table[id] !== token) {
      return ioFail(`id ${id} is given to both ${JSON.stringify(table[id])} and ${JSON.stringify(token)}`, { field });
    }
    table[id] = token;
  }
  return E.right(table);
}

const vocabEntries = (raw: unknown, field: string): Result<[string, unknown][]> =>
  isObject(raw) ? E.right(Object.entries(raw)) : ioFail('expected an object { token: id }', { field });

/** Merges as "a b" strings (merges.txt, older tokenizer.json) or ["a", "b"] pairs (newer tokenizer.json). */
function parseMerge(raw: unknown, field: string): Result<[string, string]> {
  const pair = typeof raw === 'string' ? raw.split(' ') : raw;
  return Array.isArray(pair) && pair.length === 2 && pair.every((p) => typeof p === 'string' && p !== '')
    ? E.right(pair as [string, string])
    : ioFail(`expected "a b" or ["a", "b"], got ${JSON.stringify(raw)}`, { field });
}

function parseMerges(lines: readonly unknown[], fieldOf: (i: number) => string): Result<[string, string][]> {
  const out: [string, string][] = [];
  for (const [i, line] of lines.entries()) {
    const merge = parseMerge(line, fieldOf(i));
    if (E.isLeft(merge)) return merge;
    out.push(merge.right);
  }
  return E.right(out);
}

function parseAddedToken(raw: unknown, field: string): Result<AddedToken> {
  if (!isObject(raw) || !isId(raw.id) || typeof raw.content !== 'string' || raw.content === '') {
    return ioFail(`expected { id, content, special, lstrip, rstrip }, got ${JSON.stringify(raw)}`, { field });
  }
  const flag = (k: string) => raw[k] === true;
  return E.right({ id: raw.id, content: raw.content, special: flag('special'), lstrip: flag('lstrip'), rstrip: flag('rstrip') });
}

/** The parts of a tokenizer.json that change how text is split; anything but RoBERTa's is refused. */
function checkPipeline(root: Json): Result<Json> {
  const model = root.model;
  if (!isObject(model)) return ioFail('missing or not an object', { field: 'model' });
  if (model.type !== 'BPE') return ioFail(`only BPE is supported, got ${JSON.stringify(model.type)}`, { field: 'model.type' });
  for (const k of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    if (model[k] !== undefined && model[k] !== null && model[k] !== '') return ioFail('not supported (must be empty)', { field: `model.${k}` });
  }
  if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0) return ioFail('BPE dropout is not supported', { field: 'model.dropout' });
  if (root.normalizer !== undefined && root.normalizer !== null) return ioFail('normalizers are not supported (RoBERTa has none)', { field: 'normalizer' });
  const pre = root.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'ByteLevel' || pre.add_prefix_space === true || pre.use_regex === false) {
    return ioFail(`expected {"type":"ByteLevel","add_prefix_space":false}, got ${JSON.stringify(pre)}`, { field: 'pre_tokenizer' });
  }
  return E.right(model);
}

/** Parses the text of a Hugging Face tokenizer.json for a byte-level BPE (RoBERTa, GPT-2). */
export function parseTokenizerJson(text: string, file = 'tokenizer.json'): Result<Tokenizer> {
  const where = (e: IoError) => e.inFile(file);
  const root = parseJson(text, file);
  if (E.isLeft(root)) return root;
  if (!isObject(root.right)) return ioFail('expected a JSON object', { file });
  const model = checkPipeline(root.right);
  if (E.isLeft(model)) return E.mapLeft(where)(model);
  const addedRaw = root.right.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) return ioFail('expected a list', { file, field: 'added_tokens' });
  const added: AddedToken[] = [];
  for (const [i, raw] of addedRaw.entries()) {
    const t = parseAddedToken(raw, `added_tokens[${i}]`);
    if (E.isLeft(t)) return E.mapLeft(where)(t);
    added.push(t.right);
  }
  const vocab = E.chain((es: [string, unknown][]) => addVocab(es, 'model.vocab', []))(vocabEntries(model.right.vocab, 'model.vocab'));
  if (E.isLeft(vocab)) return E.mapLeft(where)(vocab);
  const full = addVocab(added.map((t) => [t.content, t.id]), 'added_tokens', vocab.right);
  if (E.isLeft(full)) return E.mapLeft(where)(full);
  const mergesRaw = model.right.merges;
  if (!Array.isArray(mergesRaw)) return ioFail('expected a list', { file, field: 'model.merges' });
  const merges = parseMerges(mergesRaw, (i) => `model.merges[${i}]`);
  if (E.isLeft(merges)) return E.mapLeft(where)(merges);
  return E.mapLeft(where)(makeTokenizer({ vocab: full.right, merges: merges.right, added }));
}

/** Parses the slow tokenizer's files; the five RoBERTa special tokens must be in vocab.json. */
export function parseVocabMerges(vocabText: string, mergesText: string): Result<Tokenizer> {
  const vocabJson = parseJson(vocabText, 'vocab.json');
  if (E.isLeft(vocabJson)) return vocabJson;
  const vocab = E.chain((es: [string, unknown][]) => addVocab(es, '(root)', []))(vocabEntries(vocabJson.right, '(root)'));
  if (E.isLeft(vocab)) return E.mapLeft((e: IoError) => e.inFile('vocab.json'))(vocab);
  const lines = mergesText.split('\n').map((l) => l.replace(/\r$/, ''));
  const first = lines[0].startsWith('#version') ? 1 : 0;
  while (lines.length > first && lines[lines.length - 1] === '') lines.pop();
  const merges = parseMerges(lines.slice(first), (i) => `line ${i + first + 1}`);
  if (E.isLeft(merges)) return E.mapLeft((e: IoError) => e.inFile('merges.txt'))(merges);
  const ids: Partial<Record<keyof SpecialIds, number>> = {};
  for (const [role, content] of Object.entries(SPECIAL_TOKENS) as [keyof SpecialIds, string][]) {
    const id = vocab.right.indexOf(content);
    if (id < 0) return ioFail(`special token ${content} is missing`, { file: 'vocab.json' });
    ids[role] = id;
  }
  const model: BpeModel = { vocab: vocab.right, merges: merges.right, added: robertaAddedTokens(ids as SpecialIds) };
  return E.mapLeft((e: IoError) => e.inFile('vocab.json + merges.txt'))(makeTokenizer(model));
}

const vocabObject = (tok: Tokenizer): Json => Object.fromEntries(tok.model.vocab.map((t, id) => [t, id]));

/** tokenizer.json as the tokenizers library writes it for roberta-base. */
export function tokenizerJson(tok: Tokenizer): string {
  const { bos, eos } = tok.specials;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tok.model.added.map((t) => ({
      id: t.id, content: t.content, single_word: false, lstrip: t.lstrip, rstrip: t.rstrip, normalized: false, special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: 'RobertaProcessing', sep: [SPECIAL_TOKENS.eos, eos], cls: [SPECIAL_TOKENS.bos, bos], trim_offsets: true, add_prefix_space: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
      vocab: vocabObject(tok),
      merges: tok.model.merges.map(([a, b]) => `${a} ${b}`),
    },
  }, null, 2);
}

export const vocabJson = (tok: Tokenizer): string => JSON.stringify(vocabObject(tok));

/** With the "#version" header: the slow tokenizer drops the first line unread. */
export const mergesTxt = (tok: Tokenizer): string => ['#version: 0.2', ...tok.model.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
