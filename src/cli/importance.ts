// `das importance`: the raw unit importance (docs/method.md §4–5) of a checkpoint on a corpus, written in
// ContinualLM's layout (raw, like its before_distill0/ and after_mlm{t}/ folders).
// `das importance accumulate`: normalises raw sets (§4.5) and takes their element-wise max (§4.6).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cpu } from '../backend/cpu.js';
import {
  AGGREGATIONS, IMPORTANCE_SUBSET, type Aggregation, type ImportanceBatch, type ImportanceSet, type KlAxis, type MlmImportanceInput,
  computeImportance, maxAccumulate, normalizeSet,
} from '../das/importance.js';
import { type UnitDims, dimsOf, importanceFromHost, importanceToHost } from '../das/importance-files.js';
import { readImportance, writeImportance } from '../das-files/importance-dirs.js';
import { iterChunks, mlmCollate, permutation } from '../data/mlm-data.js';
import { batchesOf, readJsonlExamples } from '../data/mlm-jsonl.js';
import { orThrow, readCorpus } from '../data/validate.js';
import { E } from '../fp.js';
import { loadCheckpoint } from '../io/hf-roberta.js';
import { IoError } from '../io/io-error.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { type RobertaConfig, parseConfig } from '../nn/config.js';
import { foldIn, key, splitKey } from '../ops/random.js';
import { release } from '../tensor/scope.js';
import { type FlagSpecs, UsageError, parseFlags, required, usage } from './args.js';
import { backendFlag, chooseBackend } from './common.js';
import { Progress } from './progress.js';

const flags: FlagSpecs = {
  model: { kind: 'string', help: 'Hugging Face directory (config.json, model.safetensors; tokenizer files for a text corpus)', required: true },
  data: { kind: 'string', help: 'text corpus (one passage per line; chunked and MLM-masked with --seed) or .jsonl pre-tokenized examples with labels (used exactly as given)' },
  loss: { kind: 'string', help: 'kl (KL proxy between two dropout passes: general knowledge, before domain 0) or mlm (the domain MLM loss, after training a domain)', required: true, choices: ['kl', 'mlm'] },
  out: { kind: 'string', help: 'output directory: head_impt.npy, intermediate_impt.npy, output_impt.npy (raw) + importance.json', required: true },
  agg: { kind: 'string', help: `aggregation: ${AGGREGATIONS.join(' | ')} (the last reproduces ContinualLM)`, default: 'abs-per-example' },
  'kl-axis': { kind: 'string', help: 'KL softmax axis: positions (reference) or features', default: 'positions' },
  'mlm-input': { kind: 'string', help: 'MLM importance input ids: corrupted, or original (reference code)', default: 'corrupted' },
  'batch-size': { kind: 'int', help: 'examples per batch (the reference uses 100; with abs-per-example it only changes the dropout draws)', default: 16, gt: 0 },
  dropout: { kind: 'number', help: 'dropout probability for all dropout sites (default: the model config\'s); 0 turns dropout off', min: 0, max: 0.999999 },
  seed: { kind: 'int', help: 'seed for the subset order, MLM masking and dropout', default: 2023 },
  subset: { kind: 'int', help: 'use the first N chunks (or .jsonl examples), docs/method.md §3.3', default: IMPORTANCE_SUBSET, gt: 0 },
  'seq-len': { kind: 'int', help: 'tokens per chunk of a text corpus (ignored for .jsonl; default: 164, the paper\'s, or the most the model\'s positions allow)', gt: 0 },
  force: { kind: 'boolean', help: 'replace --out if it exists' },
  ...backendFlag,
  help: { kind: 'boolean', help: 'show this help' },
};

const accFlags: FlagSpecs = {
  in: { kind: 'list', help: 'importance directories: raw ones (no importance.json, or normalized false) are normalised first; normalised ones are used as they are' },
  out: { kind: 'string', help: 'output directory for the accumulated, normalised set (same layout)', required: true },
  model: { kind: 'string', help: 'optional Hugging Face directory whose config.json the sets must fit' },
  force: { kind: 'boolean', help: 'replace --out if it exists' },
  help: { kind: 'boolean', help: 'show this help' },
};

function oneOf<A extends string>(p: Record<string, unknown>, name: string, choices: readonly A[], command: string): A {
  const v = p[name] as string;
  if (!choices.includes(v as A)) throw new UsageError(`das ${command}: --${name} must be ${choices.join(', ')}; got '${v}'`);
  return v as A;
}

async function refuseExisting(out: string, force: boolean): Promise<void> {
  const there = await stat(out).then(() => true, (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e)));
  if (there && !force) throw new IoError('already exists; refusing to overwrite an importance set (use --force to replace it)', { file: out });
}

/** Host batches of a text corpus: the first `subset` chunks, shuffled, masked per batch (§3.3). */
async function* textBatches(path: string, dir: string, cfg: RobertaConfig, o: { seqLen: number; subset: number; batchSize: number; seed: number }): AsyncGenerator<ImportanceBatch> {
  const tok = await loadTokenizer(dir);
  if (E.isLeft(tok)) throw new Error(`a text corpus needs the model's tokenizer files (${tok.left.message}); or pass pre-tokenized .jsonl`);
  if (o.seqLen + cfg.padId + 1 > cfg.maxPositions) throw new Error(`--seq-len ${o.seqLen} needs ${o.seqLen + cfg.padId + 1} positions, the model has ${cfg.maxPositions}`);
  const chunks: Int32Array[] = [];
  for (const c of iterChunks(orThrow(readCorpus(path)), tok.right, { seqLen: o.seqLen })) {
    chunks.push(c);
    if (chunks.length === o.subset) break;
  }
  if (chunks.length === 0) throw new Error(`${path}: no chunk of ${o.seqLen} tokens`);
  const [kOrder, kMask] = splitKey(key(o.seed), 3);
  const order = permutation(chunks.length, kOrder);
  for (let b = 0; b * o.batchSize < chunks.length; b++) {
    const pick = Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize), (i) => chunks[i]);
    yield mlmCollate(pick, tok.right, cfg.vocabSize, foldIn(kMask, b)).batch;
  }
}

async function importanceCommand(argv: string[]): Promise<number> {
  const cmd = 'importance';
  const p = parseFlags(argv, flags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'raw unit importance of a checkpoint (KL proxy or MLM); see also das importance accumulate', flags)); return 0; }
  const loss = oneOf(p, 'loss', ['kl', 'mlm'] as const, cmd);
  const aggregation = oneOf<Aggregation>(p, 'agg', AGGREGATIONS, cmd);
  const klAxis = oneOf<KlAxis>(p, 'kl-axis', ['positions', 'features'], cmd);
  const mlmInput = oneOf<MlmImportanceInput>(p, 'mlm-input', ['corrupted', 'original'], cmd);
  const dropoutFlag = p.dropout as number | undefined;
  const dir = required<string>(p, 'model', cmd), data = required<string>(p, 'data', cmd), out = required<string>(p, 'out', cmd);
  await refuseExisting(out, Boolean(p.force));
  const backend = await chooseBackend(p.backend, cmd);
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) throw ck.left;
  const { params } = ck.right;
  const cfg: RobertaConfig = dropoutFlag === undefined ? ck.right.cfg : { ...ck.right.cfg, hiddenDropout: dropoutFlag, attentionDropout: dropoutFlag };
  if (loss === 'mlm' && params.lmHead === undefined) throw new Error(`${dir} has no MLM head (lm_head.*), which --loss mlm needs`);
  const off = cfg.hiddenDropout === 0 && cfg.attentionDropout === 0;
  if (loss === 'kl' && off) process.stderr.write('das importance: warning: with dropout off both KL passes are identical and the gradient is rounding noise (docs/method.md §5.3)\n');
  const bs = p['batch-size'] as number, subset = p.subset as number, seed = p.seed as number;
  const batches: ImportanceBatch[] = [];
  if (data.endsWith('.jsonl')) batches.push(...batchesOf(readJsonlExamples(data, { vocabSize: cfg.vocabSize }).slice(0, subset), bs, cfg.padId));
  else {
    // default: the paper's 164 tokens, or as many as the model's positions allow
    const seqLen = (p['seq-len'] as number | undefined) ?? Math.min(164, cfg.maxPositions - cfg.padId - 1);
    for await (const b of textBatches(data, dir, cfg, { seqLen, subset, batchSize: bs, seed })) batches.push(b);
  }
  const progress = new Progress(`importance ${loss}`, batches.length);
  const r = computeImportance(cfg, params, batches, {
    loss, aggregation, klAxis, mlmInput, dropoutKey: off ? undefined : splitKey(key(seed), 3)[2],
    onBatch: (s) => progress.update(s.batches, { examples: s.examples }),
  });
  progress.done();
  const meta = {
    normalized: false, loss, aggregation, ...(loss === 'kl' ? { klAxis } : { mlmInput }),
    dropout: { hidden: cfg.hiddenDropout, attention: cfg.attentionDropout }, seed, batchSize: bs,
    examples: r.examples, tokens: r.tokens, batches: r.batches, scale: 'aggregated gate gradients / attention-mask tokens', model: dir, data,
  };
  await writeImportance(out, await importanceToHost(r.raw), meta, { force: Boolean(p.force) });
  release(r.raw, params);
  process.stdout.write(`${JSON.stringify({ out, backend: backend.name, loss, aggregation, examples: r.examples, tokens: r.tokens, batches: r.batches })}\n`);
  return 0;
}

async function accumulateCommand(argv: string[]): Promise<number> {
  const cmd = 'importance accumulate';
  const p = parseFlags(argv, accFlags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'normalise raw importance sets and take their element-wise max (EMax)', accFlags)); return 0; }
  const inputs = (p.in as string[] | undefined) ?? [];
  if (inputs.length === 0) throw new UsageError(`das ${cmd}: --in needs at least one importance directory`);
  const out = required<string>(p, 'out', cmd);
  await refuseExisting(out, Boolean(p.force));
  let dims: UnitDims | undefined;
  if (p.model !== undefined) {
    const file = join(p.model as string, 'config.json');
    const c = parseConfig(JSON.parse(await readFile(file, 'utf8')));
    if (E.isLeft(c)) throw new IoError(c.left.problem, { file, field: c.left.field });
    dims = c.right;
  }
  const backend = cpu();
  const sets: ImportanceSet[] = [];
  const sources: { dir: string; normalized: boolean }[] = [];
  let first: { dir: string; dims: UnitDims } | undefined;
  for (const dir of inputs) {
    const r = await readImportance(dir, dims);
    if (E.isLeft(r)) throw r.left;
    const d = dimsOf(r.right.set), show = (x: UnitDims) => `(layers ${x.layers}, heads ${x.heads}, intermediate ${x.intermediate}, hidden ${x.width})`;
    first ??= { dir, dims: d };
    if (JSON.stringify(d) !== JSON.stringify(first.dims)) throw new IoError(`sizes ${show(d)} differ from ${show(first.dims)} of ${first.dir}: sets of different models cannot be accumulated`, { file: dir });
    const s = importanceFromHost(r.right.set, backend);
    sets.push(r.right.meta.normalized ? s : normalizeSet(s));
    if (!r.right.meta.normalized) release(s);
    sources.push({ dir, normalized: r.right.meta.normalized });
  }
  const acc = maxAccumulate(sets);
  await writeImportance(out, await importanceToHost(acc), { normalized: true, accumulatedFrom: sources }, { force: Boolean(p.force) });
  release(sets, acc);
  process.stdout.write(`${JSON.stringify({ out, sets: inputs.length, normalizedInputs: sources.filter((s) => s.normalized).length })}\n`);
  return 0;
}

/** `das importance …` and `das importance accumulate …`. */
export async function importanceMain(argv: string[]): Promise<number> {
  return argv[0] === 'accumulate' ? accumulateCommand(argv.slice(1)) : importanceCommand(argv);
}
