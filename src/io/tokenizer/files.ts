// Tokenizer directories (Node): loading tokenizer.json (or vocab.json + merges.txt) from a directory and
// saving all three atomically, over the text formats of formats.ts.
import { join } from 'node:path';
import { E } from '../../fp.js';
import { writeFileAtomic } from '../atomic.js';
import { readBytes } from '../files.js';
import { IoError, ioFail } from '../io-error.js';
import { mergesTxt, parseTokenizerJson, parseVocabMerges, tokenizerJson, vocabJson } from './formats.js';
import type { Tokenizer } from './tokenizer.js';

type Result<A> = E.Either<IoError, A>;

/** Loads `dir/tokenizer.json`, or else `dir/vocab.json` + `dir/merges.txt`. */
export async function loadTokenizer(dir: string): Promise<Result<Tokenizer>> {
  const text = async (name: string) => E.map((b: Uint8Array) => new TextDecoder().decode(b))(await readBytes(join(dir, name)));
  const json = await text('tokenizer.json');
  if (E.isRight(json)) return parseTokenizerJson(json.right, join(dir, 'tokenizer.json'));
  const [vocab, merges] = [await text('vocab.json'), await text('merges.txt')];
  if (E.isLeft(vocab) || E.isLeft(merges)) return ioFail('no tokenizer.json, and no vocab.json + merges.txt', { file: dir });
  const inDir = (e: IoError) => new IoError(e.problem, { file: join(dir, e.file ?? ''), field: e.field });
  return E.mapLeft(inDir)(parseVocabMerges(vocab.right, merges.right));
}

/** Writes tokenizer.json, vocab.json, merges.txt and a tokenizer_config.json into an existing `dir`. */
export async function saveTokenizer(dir: string, tok: Tokenizer): Promise<void> {
  await writeFileAtomic(join(dir, 'tokenizer.json'), tokenizerJson(tok));
  await writeFileAtomic(join(dir, 'vocab.json'), vocabJson(tok));
  await writeFileAtomic(join(dir, 'merges.txt'), mergesTxt(tok));
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'RobertaTokenizer', add_prefix_space: false }, null, 2));
}
