// RoBERTa byte-level BPE: tokenizer, Hugging Face file formats, training.
export { BYTE_TO_CHAR, BYTE_ALPHABET, PRETOKENIZE, pretokenize, toByteLevel } from './byte-level.js';
export {
  makeTokenizer, robertaAddedTokens, SPECIAL_TOKENS,
  type AddedToken, type BpeModel, type DecodeOptions, type EncodeOptions, type SpecialIds, type Tokenizer,
} from './tokenizer.js';
export { mergesTxt, parseTokenizerJson, parseVocabMerges, tokenizerJson, vocabJson } from './formats.js';
export { loadTokenizer, saveTokenizer } from './files.js';
export { trainBpe, type TrainOptions } from './train.js';
