// Text helpers shared by the sources: whitespace, sentences, fixed-size passages, near-duplicates.

/** Collapse all whitespace (newlines included) to single spaces: one unit of text = one line. */
export const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

export const wordCount = (s: string): number => (s.trim() === '' ? 0 : s.trim().split(/\s+/).length);

/** Words after which a full stop does not end a sentence (titles in 18th–20th c. prose). */
const abbreviations = new Set([
  'mr', 'mrs', 'messrs', 'dr', 'st', 'gen', 'col', 'capt', 'lt', 'gov', 'hon', 'rev', 'sen', 'rep',
  'jr', 'sr', 'no', 'vol', 'art', 'sec', 'u.s', 'vs', 'etc', 'i.e', 'e.g', 'viz', 'esq', 'co', 'inc',
]);

/** Heuristic sentence split; good enough to cut passages at sentence boundaries. */
export function sentences(text: string): string[] {
  const pieces = oneLine(text).split(/(?<=[.!?]["'”’)\]]*)\s+(?=["'“‘(\[]?[A-Z0-9])/);
  const out: string[] = [];
  for (const piece of pieces) {
    const prev = out.length > 0 ? out[out.length - 1] : '';
    const lastWord = prev.split(' ').pop()?.replace(/^["'“‘(]+/, '').replace(/\.$/, '').toLowerCase() ?? '';
    const initial = /^[a-z]$/.test(lastWord);                                            // "J. Smith"
    if (prev !== '' && (abbreviations.has(lastWord) || initial)) out[out.length - 1] = `${prev} ${piece}`;
    else if (piece !== '') out.push(piece);
  }
  return out;
}

export interface PassageSize {
  /** A passage is emitted once it reaches this many words. */
  readonly minWords: number;
  /** No passage is longer; longer sentences are cut at word boundaries. */
  readonly maxWords: number;
  /** Shorter leftovers (e.g. the end of a chapter) are dropped. */
  readonly keepWords: number;
}

/** Consecutive sentences grouped into passages of about minWords..maxWords words. */
export function passages(sentenceList: readonly string[], size: PassageSize): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let curWords = 0;
  const flush = () => {
    if (curWords >= size.keepWords) out.push(cur.join(' '));
    cur = [];
    curWords = 0;
  };
  for (const sentence of sentenceList.flatMap((s) => cutWords(s, size.maxWords))) {
    const n = wordCount(sentence);
    if (curWords > 0 && curWords + n > size.maxWords) flush();
    cur.push(sentence);
    curWords += n;
    if (curWords >= size.minWords) flush();
  }
  flush();
  return out;
}

function cutWords(s: string, max: number): string[] {
  const words = s.split(' ');
  if (words.length <= max) return [s];
  const out: string[] = [];
  for (let i = 0; i < words.length; i += max) out.push(words.slice(i, i + max).join(' '));
  return out;
}

const stopwords = new Set(
  ('the of and to in is that for this or be by any with as such not are on you it shall may from an ' +
    'which under other all its at your if no will have has was were he she they we his her their a')
    .split(' '),
);

/** Share of English function words: near 0 for French/German licence texts, ~0.4 for English. */
export function englishRatio(s: string): number {
  const words = s.toLowerCase().match(/[a-z]+/g) ?? [];
  if (words.length === 0) return 0;
  return words.filter((w) => stopwords.has(w)).length / words.length;
}

/** Key for exact-duplicate detection that ignores case, punctuation and spacing. */
export const dedupKey = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

/** Hashed word 5-grams of a text: the near-duplicate fingerprint. */
export function shingles(s: string, n = 5): number[] {
  const words = dedupKey(s).split(' ');
  const out: number[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(fnv(words.slice(i, i + n).join(' ')));
  if (out.length === 0 && words.length > 0) out.push(fnv(words.join(' ')));
  return out;
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Fraction of a text's shingles already present in `seen` (1 = fully contained). */
export function overlap(s: string, seen: ReadonlySet<number>): number {
  const sh = shingles(s);
  return sh.length === 0 ? 0 : sh.filter((h) => seen.has(h)).length / sh.length;
}
