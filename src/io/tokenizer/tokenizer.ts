// RoBERTa's byte-level BPE tokenizer over a validated model (vocabulary, merges, added tokens).
// Semantics follow transformers' slow RobertaTokenizer: added tokens in the text are atomic.
import { E } from '../../fp.js';
import { IoError, ioFail } from '../io-error.js';
import { pretokenize, pushBytes, toByteLevel } from './byte-level.js';

/** A token matched verbatim in the input; `lstrip`/`rstrip` make it absorb neighbouring whitespace. */
export type AddedToken = { id: number; content: string; special: boolean; lstrip: boolean; rstrip: boolean };

/** `vocab[id]` is the token string of every id, added tokens included (as in RoBERTa's vocab.json). */
export type BpeModel = {
  vocab: readonly string[];
  merges: readonly (readonly [string, string])[];
  added: readonly AddedToken[];
};

export type SpecialIds = { bos: number; pad: number; eos: number; unk: number; mask: number };
export type EncodeOptions = { addSpecialTokens?: boolean };
export type DecodeOptions = { skipSpecialTokens?: boolean };

export type Tokenizer = {
  readonly model: BpeModel;
  readonly vocabSize: number;
  readonly specials: SpecialIds;
  /** Token ids of `text`, wrapped as `<s> … </s>` unless `addSpecialTokens` is false. */
  encode(text: string, options?: EncodeOptions): number[];
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][];
  /** Token strings (byte-level characters) of `text`, without `<s>`/`</s>`. */
  tokenize(text: string): string[];
  /** Text of `ids`; invalid UTF-8 from partial byte sequences becomes U+FFFD. Throws on ids out of range. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
};

export const SPECIAL_TOKENS = { bos: '<s>', pad: '<pad>', eos: '</s>', unk: '<unk>', mask: '<mask>' } as const;

/** RoBERTa's added tokens; `<mask>` swallows the whitespace before it ("a <mask>" encodes as "a" "<mask>"). */
export const robertaAddedTokens = (ids: SpecialIds): AddedToken[] =>
  (Object.keys(SPECIAL_TOKENS) as (keyof SpecialIds)[])
    .map((role) => ({ id: ids[role], content: SPECIAL_TOKENS[role], special: true, lstrip: role === 'mask', rstrip: false }))
    .sort((a, b) => a.id - b.id);

const CACHE_LIMIT = 100_000;
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Checks the model's internal consistency and builds its tokenizer. */
export function makeTokenizer(model: BpeModel): E.Either<IoError, Tokenizer> {
  const { vocab, merges, added } = model;
  const ids = new Map<string, number>();
  for (let id = 0; id < vocab.length; id++) {
    const token = vocab[id];
    if (typeof token !== 'string' || token === '') return ioFail(`no token has id ${id} (ids must be 0..${vocab.length - 1})`, { field: 'vocab' });
    const other = ids.get(token);
    if (other !== undefined) return ioFail(`token ${JSON.stringify(token)} has two ids, ${other} and ${id}`, { field: 'vocab' });
    ids.set(token, id);
  }
  const ranks = new Map<string, number>();
  for (const [i, [a, b]] of merges.entries()) {
    const missing = [a, b, a + b].find((t) => !ids.has(t));
    if (missing !== undefined) return ioFail(`merge ${JSON.stringify(`${a} ${b}`)} uses ${JSON.stringify(missing)}, which is not in the vocabulary`, { field: `merges[${i}]` });
    if (!ranks.has(`${a} ${b}`)) ranks.set(`${a} ${b}`, i); // byte-level tokens never contain ' '
  }
  for (const t of added) {
    if (vocab[t.id] !== t.content) return ioFail(`added token ${JSON.stringify(t.content)} does not match vocabulary id ${t.id}`, { field: 'added_tokens' });
  }
  const role = (r: keyof SpecialIds): number | undefined => ids.get(SPECIAL_TOKENS[r]);
  const specials = { bos: role('bos'), pad: role('pad'), eos: role('eos'), unk: role('unk'), mask: role('mask') };
  const absent = (Object.keys(specials) as (keyof SpecialIds)[]).find((r) => specials[r] === undefined);
  if (absent !== undefined) return ioFail(`special token ${SPECIAL_TOKENS[absent]} is not in the vocabulary`, { field: 'vocab' });
  return E.right(build(model, ids, ranks, specials as SpecialIds));
}

/** GPT-2's loop: merge every occurrence of the lowest-ranked adjacent pair until none is left. */
function bpe(word: string, ranks: ReadonlyMap<string, number>): string[] {
  let parts = [...word];
  while (parts.length > 1) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < best) [best, at] = [r, i];
    }
    if (at < 0) break;
    const [a, b] = [parts[at], parts[at + 1]];
    const next: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) next.push(a + b), i++;
      else next.push(parts[i]);
    }
    parts = next;
  }
  return parts;
}

function build(model: BpeModel, ids: Map<string, number>, ranks: Map<string, number>, specials: SpecialIds): Tokenizer {
  const addedById = new Map(model.added.map((t) => [t.id, t]));
  const addedByContent = new Map(model.added.map((t) => [t.content, t]));
  // Longest first, so a token that is a prefix of another never wins.
  const contents = [...addedByContent.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const splitter = contents.length > 0 ? new RegExp(`(${contents.map(escapeRegExp).join('|')})`, 'u') : undefined;
  const cache = new Map<string, number[]>();

  const encodeWord = (word: string): number[] => {
    let out = cache.get(word);
    if (out === undefined) {
      out = bpe(toByteLevel(word), ranks).map((t) => ids.get(t) ?? specials.unk);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(word, out);
    }
    return out;
  };

  const encodeText = (text: string): number[] => {
    // With a capturing group, odd entries are added tokens and even entries the text between them.
    const pieces = splitter ? text.split(splitter) : [text];
    for (let i = 1; i < pieces.length; i += 2) {
      const t = addedByContent.get(pieces[i]) as AddedToken;
      if (t.lstrip) pieces[i - 1] = pieces[i - 1].trimEnd();
      if (t.rstrip) pieces[i + 1] = pieces[i + 1].trimStart();
    }
    const out: number[] = [];
    pieces.forEach((piece, i) => {
      if (i % 2 === 1) out.push((addedByContent.get(piece) as AddedToken).id);
      else for (const word of pretokenize(piece)) out.push(...encodeWord(word));
    });
    return out;
  };

  const encode = (text: string, options: EncodeOptions = {}): number[] =>
    options.addSpecialTokens === false ? encodeText(text) : [specials.bos, ...encodeText(text), specials.eos];

  const decode = (tokenIds: readonly number[], options: DecodeOptions = {}): string => {
    const utf8 = new TextDecoder();
    let text = '';
    let bytes: number[] = [];
    for (const id of tokenIds) {
      const token = model.vocab[id];
      if (token === undefined) throw new RangeError(`decode: token id ${id} is outside 0..${model.vocab.length - 1}`);
      const added = addedById.get(id);
      if (added === undefined) {
        pushBytes(token, bytes);
        continue;
      }
      text += utf8.decode(Uint8Array.from(bytes));
      bytes = [];
      if (!(added.special && options.skipSpecialTokens)) text += added.content;
    }
    return text + utf8.decode(Uint8Array.from(bytes));
  };

  return {
    model,
    vocabSize: model.vocab.length,
    specials,
    encode,
    encodeBatch: (texts, options) => texts.map((t) => encode(t, options)),
    tokenize: (text) => encodeText(text).map((id) => model.vocab[id]),
    decode,
    tokenToId: (token) => ids.get(token),
  };
}
