// `das eval-mlm`: MLM loss and perplexity of a checkpoint on a corpus (fixed masking seed).
import { E } from '../fp.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { chunkCorpus, mlmCollate } from '../data/mlm-data.js';
import { orThrow, readCorpus } from '../data/validate.js';
import { foldIn, key } from '../ops/random.js';
import { release } from '../tensor/scope.js';
import { evalMlm } from '../train/mlm-step.js';
import { parseFlags, required, usage, type FlagSpecs } from './args.js';
import { backendFlag, chooseBackend } from './common.js';

const flags: FlagSpecs = {
  model: { kind: 'string', help: 'Hugging Face directory with an MLM head and tokenizer files', required: true },
  corpus: { kind: 'string', help: 'text corpus, one passage per line', required: true },
  'seq-len': { kind: 'int', help: 'tokens per chunk', default: 64, gt: 0 },
  'batch-size': { kind: 'int', help: 'chunks per batch', default: 16, gt: 0 },
  'max-batches': { kind: 'int', help: 'evaluate at most this many batches (all when 0)', default: 0, min: 0 },
  seed: { kind: 'int', help: 'masking seed', default: 2023 },
  ...backendFlag,
  help: { kind: 'boolean', help: 'show this help' },
};

export async function evalMlmCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, flags, 'eval-mlm');
  if (p.help) { process.stdout.write(usage('eval-mlm', 'MLM loss and perplexity of a checkpoint on a corpus', flags)); return 0; }
  const backend = await chooseBackend(p.backend, 'eval-mlm');
  const dir = required<string>(p, 'model', 'eval-mlm');
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) throw ck.left;
  const tok = await loadTokenizer(dir);
  if (E.isLeft(tok)) throw tok.left;
  const { cfg, params } = ck.right;
  const seqLen = p['seq-len'] as number, bs = p['batch-size'] as number;
  const chunks = chunkCorpus(orThrow(readCorpus(required(p, 'corpus', 'eval-mlm'))), tok.right, { seqLen });
  const n = Math.ceil(chunks.length / bs);
  const limit = (p['max-batches'] as number) > 0 ? Math.min(n, p['max-batches'] as number) : n;
  const batches = Array.from({ length: limit }, (_, i) => mlmCollate(chunks.slice(i * bs, (i + 1) * bs), tok.right, cfg.vocabSize, foldIn(key(p.seed as number), i)).batch);
  const r = await evalMlm(cfg, params, batches, backend);
  release(params);
  process.stdout.write(`${JSON.stringify({ model: dir, chunks: Math.min(chunks.length, limit * bs), labelledTokens: r.tokens, loss: r.loss, perplexity: r.perplexity })}\n`);
  return 0;
}
