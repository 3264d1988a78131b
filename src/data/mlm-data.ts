// MLM post-training data from corpus files (Node): a domain's training chunks, over the text-only
// pipeline of mlm-batches.ts (chunking, the 80/10/10 collator, the batch stream), re-exported here.
import type { Tokenizer } from '../io/tokenizer/index.js';
import { chunkCorpus, splitValid } from './mlm-batches.js';
import { orThrow, readCorpus } from './validate.js';

export * from './mlm-batches.js';

/** Training chunks of a domain corpus: the lines after the first 5 % (docs/method.md §3.1), cut into chunks of seqLen. */
export function domainChunks(corpus: string, tok: Tokenizer, seqLen: number, o: { whole?: boolean } = {}): Int32Array[] {
  const lines = orThrow(readCorpus(corpus));
  return chunkCorpus(o.whole ? lines : splitValid(lines, 5).train, tok, { seqLen });   // whole: the file is training text already (MTL's mix)
}
