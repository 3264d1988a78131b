// `das pretrain` flags → src/train/pretrain.ts.
import { parseFlags, required, usage, type FlagSpecs } from './args.js';
import { backendFlag, chooseBackend } from './common.js';
import { progressBars } from './progress.js';
import { pretrain } from '../train/pretrain.js';

const flags: FlagSpecs = {
  corpus: { kind: 'string', help: 'text corpus, one passage per line (UTF-8)', required: true },
  valid: { kind: 'string', help: 'held-out corpus (default: the first 5 % of the lines of --corpus, which are then not trained on)' },
  out: { kind: 'string', help: 'output directory: checkpoint/ (resumable), model/ (final), log.jsonl, settings.json; one holding other settings is refused', required: true },
  model: { kind: 'string', help: 'continue from this Hugging Face directory (with tokenizer files)' },
  tokenizer: { kind: 'string', help: 'from scratch: use this tokenizer directory instead of training one' },
  'vocab-size': { kind: 'int', help: 'from scratch: BPE vocabulary size to train', default: 4000, min: 261, max: 1048576 },
  width: { kind: 'int', help: 'from scratch: hidden size', default: 128, gt: 0 },
  heads: { kind: 'int', help: 'from scratch: attention heads', default: 4, gt: 0 },
  layers: { kind: 'int', help: 'from scratch: encoder layers', default: 2, gt: 0 },
  intermediate: { kind: 'int', help: 'from scratch: FFN width', default: 512, gt: 0 },
  'init-range': { kind: 'number', help: 'from scratch: std of the normal initialisation', default: 0.02, gt: 0 },
  steps: { kind: 'int', help: 'optimizer steps', default: 1000, gt: 0 },
  'batch-size': { kind: 'int', help: 'chunks per step', default: 16, gt: 0 },
  'grad-accum': { kind: 'int', help: 'micro-batches per optimizer step (gradient accumulation): a step trains on grad-accum × batch-size chunks, batch-size at a time; the same update as one batch of that size, to f32 rounding (micro-batches draw their own dropout masks)', default: 1, gt: 0 },
  'seq-len': { kind: 'int', help: 'tokens per chunk', default: 64, gt: 0 },
  lr: { kind: 'number', help: 'peak learning rate', default: 5e-4, gt: 0 },
  warmup: { kind: 'number', help: 'warm-up proportion of the steps', default: 0.06, min: 0, max: 1 },
  'weight-decay': { kind: 'number', help: 'AdamW decoupled weight decay', default: 0.01, min: 0 },
  'clip-norm': { kind: 'number', help: 'clip the global gradient norm (off when absent)', gt: 0 },
  seed: { kind: 'int', help: 'seed for initialisation, batches, masking and dropout', default: 2023 },
  'no-dropout': { kind: 'boolean', help: 'turn dropout off' },
  'eval-every': { kind: 'int', help: 'held-out loss every N steps', default: 100, gt: 0 },
  'save-every': { kind: 'int', help: 'checkpoint every N steps (kill -9 loses at most this many)', default: 100, gt: 0 },
  'valid-batches': { kind: 'int', help: 'batches in the held-out evaluation', default: 8, gt: 0 },
  'no-resume': { kind: 'boolean', help: 'start over even if out/checkpoint exists' },
  ...backendFlag,
  help: { kind: 'boolean', help: 'show this help' },
};

export async function pretrainCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, flags, 'pretrain');
  if (p.help) { process.stdout.write(usage('pretrain', 'train a masked LM from scratch or continue a checkpoint', flags)); return 0; }
  const backend = await chooseBackend(p.backend, 'pretrain');
  const r = await pretrain({
    corpus: required(p, 'corpus', 'pretrain'), valid: p.valid as string | undefined, out: required(p, 'out', 'pretrain'),
    model: p.model as string | undefined,
    scratch: p.model ? undefined : { width: p.width as number, heads: p.heads as number, layers: p.layers as number, intermediate: p.intermediate as number, vocabSize: p['vocab-size'] as number, tokenizer: p.tokenizer as string | undefined, initRange: p['init-range'] as number },
    steps: p.steps as number, batchSize: p['batch-size'] as number, gradAccum: (p['grad-accum'] as number) > 1 ? p['grad-accum'] as number : undefined, seqLen: p['seq-len'] as number, lr: p.lr as number, warmup: p.warmup as number,
    weightDecay: p['weight-decay'] as number, clipNorm: p['clip-norm'] as number | undefined, seed: p.seed as number, dropout: !p['no-dropout'],
    evalEvery: p['eval-every'] as number, saveEvery: p['save-every'] as number, validBatches: p['valid-batches'] as number, resume: !p['no-resume'], backend, progress: progressBars(),
  });
  process.stdout.write(`${JSON.stringify({ backend: backend.name, ...r })}\n`);
  return r.stoppedOnNaN ? 1 : 0;
}
