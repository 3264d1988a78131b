// GPT-2's byte-level alphabet and pre-tokenizer, shared by RoBERTa: every byte maps to one printable
// character, so BPE works on strings and any text round-trips through its UTF-8 bytes.

const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in byte order. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : next++));
})();

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The 256 byte characters in code-point order, which is the order of GPT-2's first 256 ids. */
export const BYTE_ALPHABET: readonly string[] = [...BYTE_TO_CHAR].sort();

/**
 * GPT-2's pre-tokenization pattern. JS `\s` and Python's differ on a few rare code points
 * (U+FEFF counts as space here, U+001C..U+001F do not), so such text may split differently.
 */
export const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text into the words that BPE runs on (the pieces cover the text exactly). */
export const pretokenize = (text: string): string[] => text.match(PRETOKENIZE) ?? [];

const utf8 = new TextEncoder();

/** A word's UTF-8 bytes as byte-level characters. */
export const toByteLevel = (word: string): string => {
  let out = '';
  for (const b of utf8.encode(word)) out += BYTE_TO_CHAR[b];
  return out;
};

/** Appends the bytes behind byte-level characters; other characters (only in foreign vocabularies) as UTF-8. */
export const pushBytes = (token: string, out: number[]): void => {
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) out.push(b);
    else out.push(...utf8.encode(ch));
  }
};
