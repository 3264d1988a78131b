// Byte-level BPE training: count pre-tokenized words, then repeatedly merge the most frequent
// adjacent pair. Only the words that contain the merged pair are revisited, so a merge costs
// time proportional to its frequency, not to the corpus.
import { E } from '../../fp.js';
import { BYTE_ALPHABET, pretokenize, toByteLevel } from './byte-level.js';
import { makeTokenizer, robertaAddedTokens, SPECIAL_TOKENS, type Tokenizer } from './tokenizer.js';

export type TrainOptions = {
  /** Final vocabulary size: 4 leading specials, 256 bytes, the merges, then `<mask>` as the last id. */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
};

const SHIFT = 2 ** 20; // pair key = left * SHIFT + right; symbols stay below SHIFT
const LEADING = [SPECIAL_TOKENS.bos, SPECIAL_TOKENS.pad, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.unk];

/** Max-heap of (count, key); ties go to the smaller key, i.e. the lexicographically smaller id pair. */
function pairHeap() {
  const counts: number[] = [];
  const keys: number[] = [];
  const above = (i: number, j: number) => counts[i] > counts[j] || (counts[i] === counts[j] && keys[i] < keys[j]);
  const swap = (i: number, j: number) => {
    [counts[i], counts[j]] = [counts[j], counts[i]];
    [keys[i], keys[j]] = [keys[j], keys[i]];
  };
  return {
    push(count: number, key: number): void {
      counts.push(count);
      keys.push(key);
      for (let i = counts.length - 1; i > 0 && above(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
    },
    pop(): [number, number] | undefined {
      if (counts.length === 0) return undefined;
      const top: [number, number] = [counts[0], keys[0]];
      swap(0, counts.length - 1);
      counts.pop();
      keys.pop();
      for (let i = 0; ; ) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let m = i;
        if (l < counts.length && above(l, m)) m = l;
        if (r < counts.length && above(r, m)) m = r;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
      return top;
    },
  };
}

/** Trains a RoBERTa-style byte-level BPE tokenizer; the same lines and options give the same tokenizer. */
export function trainBpe(lines: Iterable<string>, options: TrainOptions): Tokenizer {
  const { vocabSize, minFrequency = 2 } = options;
  const fixed = LEADING.length + BYTE_ALPHABET.length + 1;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < fixed || vocabSize > SHIFT) {
    throw new RangeError(`trainBpe: vocabSize ${vocabSize} must be an integer in [${fixed}, ${SHIFT}]`);
  }
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of pretokenize(line)) counts.set(w, (counts.get(w) ?? 0) + 1);

  const tokens = [...BYTE_ALPHABET]; // symbol -> string; final id = symbol + LEADING.length
  const symbolOf = new Map(tokens.map((t, i) => [t, i]));
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [w, f] of counts) {
    words.push(Int32Array.from(toByteLevel(w), (ch) => symbolOf.get(ch) as number));
    freq.push(f);
  }

  const pairs = new Map<number, number>(); // key -> weighted count
  const where = new Map<number, number[]>(); // key -> words that contained it (may be stale)
  const delta = new Map<number, number>(); // count changes of the current merge
  const bump = (key: number, by: number) => delta.set(key, (delta.get(key) ?? 0) + by);
  const index = (key: number, w: number) => {
    const list = where.get(key);
    if (list === undefined) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  words.forEach((word, w) => {
    for (let i = 0; i + 1 < word.length; i++) {
      bump(word[i] * SHIFT + word[i + 1], freq[w]);
      index(word[i] * SHIFT + word[i + 1], w);
    }
  });
  const heap = pairHeap();
  const applyDelta = () => {
    for (const [k, d] of delta) {
      if (d === 0) continue; // pairs away from the merge sites are removed and re-added
      const count = (pairs.get(k) ?? 0) + d;
      if (count > 0) pairs.set(k, count), heap.push(count, k);
      else pairs.delete(k);
    }
    delta.clear();
  };
  applyDelta();

  const merges: [number, number][] = [];
  const visited = new Int32Array(words.length).fill(-1);
  while (tokens.length + LEADING.length + 1 < vocabSize) {
    let top = heap.pop();
    while (top !== undefined && pairs.get(top[1]) !== top[0]) top = heap.pop(); // skip stale entries
    if (top === undefined || top[0] < minFrequency) break;
    const key = top[1];
    const [a, b] = [Math.floor(key / SHIFT), key % SHIFT];
    const merged = tokens[a] + tokens[b];
    let c = symbolOf.get(merged);
    if (c === undefined) {
      c = tokens.push(merged) - 1;
      symbolOf.set(merged, c);
    }
    const step = merges.push([a, b]);
    for (const w of where.get(key) ?? []) {
      if (visited[w] === step) continue;
      visited[w] = step;
      const word = words[w];
      const f = freq[w];
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) next.push(c), i++;
        else next.push(word[i]);
      }
      if (next.length === word.length) continue; // a stale index entry
      for (let i = 0; i + 1 < word.length; i++) bump(word[i] * SHIFT + word[i + 1], -f);
      for (let i = 0; i + 1 < next.length; i++) {
        const k = next[i] * SHIFT + next[i + 1];
        bump(k, f);
        if (next[i] === c || next[i + 1] === c) index(k, w); // only pairs next to a merge are new
      }
      words[w] = Int32Array.from(next);
    }
    where.delete(key);
    applyDelta();
  }

  const vocab = [...LEADING, ...tokens, SPECIAL_TOKENS.mask];
  const specials = { bos: 0, pad: 1, eos: 2, unk: 3, mask: vocab.length - 1 };
  const model = { vocab, merges: merges.map(([a, b]) => [tokens[a], tokens[b]] as const), added: robertaAddedTokens(specials) };
  const tok = makeTokenizer(model);
  // Words never contain both letters and '<', '>', so no merge can rebuild a special token's text.
  if (E.isLeft(tok)) throw new Error(`trainBpe built an inconsistent model: ${tok.left.message}`);
  return tok.right;
}
