import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E } from '../../src/fp.js';
import {
  BYTE_ALPHABET, BYTE_TO_CHAR, loadTokenizer, makeTokenizer, mergesTxt, parseTokenizerJson, parseVocabMerges, pretokenize,
  robertaAddedTokens, saveTokenizer, toByteLevel, tokenizerJson, trainBpe, vocabJson, type Tokenizer,
} from '../../src/io/tokenizer/index.js';

const corpus = [
  'The quick brown fox jumps over the lazy dog.',
  "It's the dog's bone; they'll fetch it, won't they?",
  'Numbers like 3.14159 and 2025 appear in text, as do emails: a@b.org.',
  'Unicode: café, naïve, Ελληνικά, 日本語のテキスト, emoji 🎉🎉 and tabs\tand\nnewlines.',
  'The the the THE tHe — repeated words help BPE find merges.',
];
const tok = trainBpe(Array.from({ length: 20 }, (_, i) => corpus[i % corpus.length]), { vocabSize: 400, minFrequency: 1 });

const right = <A>(r: E.Either<Error, A>): A => {
  if (E.isLeft(r)) throw r.left;
  return r.right;
};
const leftMessage = (r: E.Either<Error, unknown>): string => (E.isLeft(r) ? r.left.message : 'parsed fine');

/** Text that contains no added token, so encode/decode must reproduce it exactly. */
const arbText = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ maxLength: 40 }))
  .filter((s) => !/<(s|\/s|pad|unk|mask)>/.test(s));

describe('byte-level alphabet', () => {
  it("is GPT-2's bytes_to_unicode", () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect([BYTE_TO_CHAR[0x20], BYTE_TO_CHAR[0x0a], BYTE_TO_CHAR[0x09], BYTE_TO_CHAR[0], BYTE_TO_CHAR[0xad], BYTE_TO_CHAR[0x21]]).toEqual(['Ġ', 'Ċ', 'ĉ', 'Ā', 'Ń', '!']);
    expect(BYTE_ALPHABET.slice(0, 3)).toEqual(['!', '"', '#']);
    expect(toByteLevel(' é')).toBe('ĠÃ©');
  });
});

describe('pre-tokenization', () => {
  const cases: [string, string[]][] = [
    ['Hello world', ['Hello', ' world']],
    ["I'm sure they'll say it's fine", ['I', "'m", ' sure', ' they', "'ll", ' say', ' it', "'s", ' fine']],
    ["DON'T", ['DON', "'", 'T']],
    ['hello   world', ['hello', '  ', ' world']],
    ['a\n\nb', ['a', '\n', '\n', 'b']],
    ['trailing  ', ['trailing', '  ']],
    ['abc123 4.5', ['abc', '123', ' 4', '.', '5']],
    ['€100!!', ['€', '100', '!!']],
    [' café-au-lait', [' café', '-', 'au', '-', 'lait']],
  ];
  it.each(cases)('splits %j as GPT-2 does', (text, words) => {
    expect(pretokenize(text)).toEqual(words);
  });

  it('covers the text exactly', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => pretokenize(s).join('') === s));
  });
});

describe('encode and decode', () => {
  it('round-trips arbitrary unicode text', () => {
    fc.assert(fc.property(arbText, (s) => tok.decode(tok.encode(s, { addSpecialTokens: false })) === s), { numRuns: 300 });
  });

  it('wraps the text in <s> … </s> by default', () => {
    const ids = tok.encode('the dog');
    expect([ids[0], ids[ids.length - 1]]).toEqual([0, 2]);
    expect(tok.decode(ids)).toBe('<s>the dog</s>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('the dog');
  });

  it('treats </s> inside the text as the special token (RoBERTa slow tokenizer)', () => {
    expect(tok.tokenize('aspect </s>sentence')).toEqual([...tok.tokenize('aspect'), 'Ġ', '</s>', ...tok.tokenize('sentence')]);
    const ids = tok.encode('aspect </s>sentence', { addSpecialTokens: false });
    expect(ids.filter((id) => id === tok.specials.eos)).toHaveLength(1);
    expect(tok.decode(ids)).toBe('aspect </s>sentence');
  });

  it('lets <mask> absorb the whitespace before it', () => {
    expect(tok.tokenize('the <mask> dog')).toEqual([...tok.tokenize('the'), '<mask>', ...tok.tokenize(' dog')]);
    expect(tok.encode('the <mask>', { addSpecialTokens: false }).at(-1)).toBe(tok.vocabSize - 1);
  });

  it('uses the RoBERTa special ids', () => {
    expect(tok.specials).toEqual({ bos: 0, pad: 1, eos: 2, unk: 3, mask: tok.vocabSize - 1 });
    expect(tok.model.vocab.slice(0, 4)).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
  });

  it('merges by rank, not greedily', () => {
    const vocab = ['<s>', '<pad>', '</s>', '<unk>', ...BYTE_ALPHABET, 'lo', 'he', 'll', '<mask>'];
    const merges = [['l', 'o'], ['h', 'e'], ['l', 'l']] as const;
    const t = right(makeTokenizer({ vocab, merges, added: robertaAddedTokens({ bos: 0, pad: 1, eos: 2, unk: 3, mask: vocab.length - 1 }) }));
    expect(t.tokenize('hello')).toEqual(['he', 'l', 'lo']);
    expect(t.tokenize('hell')).toEqual(['he', 'll']);
  });

  it('encodes batches like single texts', () => {
    expect(tok.encodeBatch(['a b', 'the dog'])).toEqual([tok.encode('a b'), tok.encode('the dog')]);
  });

  it('decodes partial UTF-8 to U+FFFD and rejects unknown ids', () => {
    expect(tok.decode([tok.tokenToId('Ã') as number])).toBe('\uFFFD'); // first byte of 'é' alone
    expect(() => tok.decode([tok.vocabSize])).toThrow(RangeError);
  });
});

/** Textbook BPE: recount every pair after each merge; same tie-break as trainBpe. */
function naiveMerges(lines: string[], vocabSize: number, minFrequency: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of pretokenize(line)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const tokens = [...BYTE_ALPHABET];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  let words = [...counts].map(([w, f]) => ({ syms: [...toByteLevel(w)].map((c) => idOf.get(c) as number), f }));
  const merges: [string, string][] = [];
  while (tokens.length + 5 < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { syms, f } of words) for (let i = 0; i + 1 < syms.length; i++) pairs.set(`${syms[i]},${syms[i + 1]}`, (pairs.get(`${syms[i]},${syms[i + 1]}`) ?? 0) + f);
    const best = [...pairs].map(([k, n]) => [...k.split(',').map(Number), n]).sort((x, y) => y[2] - x[2] || x[0] - y[0] || x[1] - y[1])[0];
    if (best === undefined || best[2] < minFrequency) break;
    const [a, b] = best;
    const merged = tokens[a] + tokens[b];
    if (!idOf.has(merged)) idOf.set(merged, tokens.push(merged) - 1);
    const c = idOf.get(merged) as number;
    merges.push([tokens[a], tokens[b]]);
    words = words.map(({ syms, f }) => {
      const out: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (syms[i] === a && syms[i + 1] === b) out.push(c), i++;
        else out.push(syms[i]);
      }
      return { syms: out, f };
    });
  }
  return merges;
}

describe('trainBpe', () => {
  it('agrees with textbook BPE on random corpora', () => {
    const arbLine = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', ' ', '1', '.'), maxLength: 30 });
    fc.assert(
      fc.property(fc.array(arbLine, { maxLength: 12 }), fc.integer({ min: 261, max: 300 }), fc.integer({ min: 1, max: 3 }), (lines, vocabSize, minFrequency) => {
        expect(trainBpe(lines, { vocabSize, minFrequency }).model.merges).toEqual(naiveMerges(lines, vocabSize, minFrequency));
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic', () => {
    const again = trainBpe(Array.from({ length: 20 }, (_, i) => corpus[i % corpus.length]), { vocabSize: 400, minFrequency: 1 });
    expect(again.model).toEqual(tok.model);
  });

  it('stops at vocabSize, or earlier when no pair is frequent enough', () => {
    expect(tok.vocabSize).toBe(400);
    const small = trainBpe(['ab ab'], { vocabSize: 1000, minFrequency: 2 });
    expect(small.model.merges).toEqual([['a', 'b']]);
    expect(small.vocabSize).toBe(4 + 256 + 1 + 1);
  });

  it('rejects a vocabulary too small for the specials and bytes', () => {
    expect(() => trainBpe([], { vocabSize: 100 })).toThrow(/vocabSize 100/);
  });
});

const sameTokenizer = (a: Tokenizer, b: Tokenizer) => {
  expect(b.model).toEqual(a.model);
  for (const text of corpus) expect(b.encode(text)).toEqual(a.encode(text));
};

describe('tokenizer files', () => {
  it('round-trips through tokenizer.json', () => {
    sameTokenizer(tok, right(parseTokenizerJson(tokenizerJson(tok))));
  });

  it('round-trips through vocab.json + merges.txt', () => {
    sameTokenizer(tok, right(parseVocabMerges(vocabJson(tok), mergesTxt(tok))));
  });

  it('saves to and loads from a directory, leaving no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tok-'));
    try {
      await saveTokenizer(dir, tok);
      expect((await readdir(dir)).sort()).toEqual(['merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
      sameTokenizer(tok, right(await loadTokenizer(dir)));
      await rm(join(dir, 'tokenizer.json'));
      sameTokenizer(tok, right(await loadTokenizer(dir)));
      await rm(join(dir, 'vocab.json'));
      expect(leftMessage(await loadTokenizer(dir))).toMatch(/no tokenizer\.json, and no vocab\.json \+ merges\.txt/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a Hugging Face tokenizer.json with pair-style merges', () => {
    const vocab = Object.fromEntries(['<s>', '<pad>', '</s>', '<unk>', ...BYTE_ALPHABET, 'Ġt', 'he', 'Ġthe', '<mask>'].map((t, i) => [t, i]));
    const json = {
      version: '1.0', added_tokens: [{ id: 263, content: '<mask>', special: true, lstrip: true, rstrip: false, normalized: false, single_word: false }],
      normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'RobertaProcessing' }, decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', vocab, merges: [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he']] },
    };
    const t = right(parseTokenizerJson(JSON.stringify(json)));
    expect(t.tokenize('a the <mask>')).toEqual(['a', 'Ġthe', '<mask>']);
    expect(t.encode('the')).toEqual([0, vocab['t'], vocab['he'], 2]);
  });

  const json = () => JSON.parse(tokenizerJson(tok)) as Record<string, any>;
  const mutated = (edit: (j: Record<string, any>) => void) => {
    const j = json();
    edit(j);
    return JSON.stringify(j);
  };
  const cases: [string, string, RegExp][] = [
    ['bad JSON', '{"model": ', /^tokenizer\.json: not valid JSON/],
    ['a WordPiece model', mutated((j) => (j.model.type = 'WordPiece')), /model\.type: only BPE is supported, got "WordPiece"/],
    ['a merge of unknown tokens', mutated((j) => j.model.merges.push('Ġzz qq')), /merges\[\d+\]: merge "Ġzz qq" uses "Ġzz", which is not in the vocabulary/],
    ['a malformed merge', mutated((j) => (j.model.merges[0] = 'a b c')), /model\.merges\[0\]: expected "a b" or \["a", "b"\], got "a b c"/],
    ['two tokens with one id', mutated((j) => (j.model.vocab['zz'] = 5)), /model\.vocab: id 5 is given to both/],
    ['a hole in the ids', mutated((j) => (j.model.vocab['zz'] = 1000)), /no token has id 400/],
    ['a negative id', mutated((j) => (j.model.vocab['zz'] = -1)), /model\.vocab: id of "zz" is -1/],
    ['a missing <mask>', mutated((j) => { delete j.model.vocab['<mask>']; j.added_tokens.pop(); }), /special token <mask> is not in the vocabulary/],
    ['another pre-tokenizer', mutated((j) => (j.pre_tokenizer = { type: 'Metaspace' })), /pre_tokenizer: expected \{"type":"ByteLevel"/],
    ['add_prefix_space', mutated((j) => (j.pre_tokenizer.add_prefix_space = true)), /pre_tokenizer/],
    ['a normalizer', mutated((j) => (j.normalizer = { type: 'Lowercase' })), /normalizer: normalizers are not supported/],
    ['a bad added token', mutated((j) => (j.added_tokens[0] = { id: 'x' })), /added_tokens\[0\]: expected \{ id, content/],
  ];
  it.each(cases)('rejects a tokenizer.json with %s', (_, text, message) => {
    expect(leftMessage(parseTokenizerJson(text))).toMatch(message);
  });

  it('rejects bad vocab.json and merges.txt, naming file and line', () => {
    expect(leftMessage(parseVocabMerges('[1]', mergesTxt(tok)))).toMatch(/^vocab\.json: \(root\): expected an object/);
    expect(leftMessage(parseVocabMerges(vocabJson(tok), '#version: 0.2\nĠ t\nbad\n'))).toMatch(/^merges\.txt: line 3: expected "a b"/);
    const noMask = JSON.stringify(Object.fromEntries(tok.model.vocab.slice(0, -1).map((t, i) => [t, i])));
    expect(leftMessage(parseVocabMerges(noMask, mergesTxt(tok)))).toMatch(/vocab\.json: special token <mask> is missing/);
  });

  it('never throws on corrupted tokenizer.json text', () => {
    const text = tokenizerJson(tok);
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }), (at, insert, cut) => {
        const r = parseTokenizerJson(text.slice(0, at) + insert + text.slice(at + cut));
        if (E.isLeft(r)) return r.left.message.length > 0;
        r.right.decode(r.right.encode('the dog <mask>')); // a parse that succeeds must give a working tokenizer
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
