// `das posttrain`, `das finetune`, `das run`: flags → src/continual/{posttrain,finetune,run}.ts.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { finetuneDefaults, finetuneFiles } from '../eval/finetune.js';
import { METHODS, ROSTER, expandMethods, methodNames } from '../continual/methods.js';
import type { Method } from '../continual/method.js';
import { posttrain, posttrainDefaults } from '../continual/posttrain.js';
import { contrastDefaults } from '../das/contrastive.js';
import { REFERENCE_SEEDS, runSequence } from '../continual/run.js';
import { parseShard } from '../continual/shards.js';
import { releaseAllLocks } from '../io/lock.js';
import { SOFT_MASK_TARGETS, type SoftMaskTarget } from '../das/soft-mask.js';
import { type FlagSpecs, type Parsed, UsageError, givenFlags, parseFlags, required, usage } from './args.js';
import { progressBars } from './progress.js';
import { backendFlag, chooseBackend, repoDefault } from './common.js';
import { type Pooling, poolings } from '../nn/roberta.js';

const D = posttrainDefaults;
const common = (quick: boolean): FlagSpecs => ({
  steps: { kind: 'int', help: `optimizer steps per domain (default ${D.steps}${quick ? '; --quick 30' : ''})`, gt: 0 },
  'batch-size': { kind: 'int', help: `chunks per step (default ${D.batchSize}${quick ? '; --quick 8' : ''})`, gt: 0 },
  'seq-len': { kind: 'int', help: `tokens per chunk (default ${D.seqLen}${quick ? '; --quick 64' : ''}; the paper uses 164)`, gt: 0 },
  'grad-accum': { kind: 'int', help: 'micro-batches per optimizer step (gradient accumulation): a step trains on grad-accum × batch-size chunks, batch-size at a time, and equals one batch of that size to f32 rounding (micro-batches draw their own dropout masks), except that DAS\'s contrastive in-batch negatives are those of each micro-batch (docs/method.md §6.3); the soft mask is applied once per step', default: 1, gt: 0 },
  lr: { kind: 'number', help: `peak learning rate; linear warm-up over 10 % of the steps, then linear decay (default ${D.lr}, docs/method.md §7.1)`, gt: 0 },
  'contrast-weight': { kind: 'number', help: `λ in L_MLM + λ·L_CKI (default ${contrastDefaults.contrastWeight}, docs/method.md §12.11)`, min: 0 },
  'reference-compat': { kind: 'boolean', help: 'reproduce the reference code: soft-mask axes, tiled contrastive pairs, MLM importance on original ids, cumulative signed aggregation, KL proxy without dropout' },
  'soft-mask-target': { kind: 'string', help: 'gradient (paper and code) or update (experimental, docs/method.md §6.7)', default: D.softMaskTarget, choices: SOFT_MASK_TARGETS },
  'importance-subset': { kind: 'int', help: `chunks of the importance subset (first N, docs/method.md §3.3; default ${D.importanceSubset}${quick ? '; --quick 64' : ''})`, gt: 0 },
  'importance-batch-size': { kind: 'int', help: 'batch size of the importance pass', default: D.importanceBatchSize, gt: 0 },
  'save-every': { kind: 'int', help: 'resumable checkpoint every N steps', default: D.saveEvery, gt: 0 },
});

/** Every method's own settings as flags (no default in the spec, so a given one can be told from an absent one). */
const optionFlags: FlagSpecs = Object.fromEntries(Object.values(METHODS).flatMap((m) => Object.entries(m.options ?? {}).map(([k, o]) => [k, {
  kind: o.kind, help: `${o.help} (default ${o.default})`, ...(o.choices ? { choices: o.choices } : {}), ...(o.min !== undefined ? { min: o.min } : {}), ...(o.gt !== undefined ? { gt: o.gt } : {}),
} as FlagSpecs[string]])));
/** The common flags only some methods read (Method.flags). */
const METHOD_FLAGS = ['contrast-weight', 'reference-compat', 'soft-mask-target', 'importance-subset', 'importance-batch-size'];

/**
 * Refuses a given flag that none of `methods` reads (naming the methods that do), and returns the
 * given method settings (absent when none).
 */
function methodSettings(argv: readonly string[], p: Parsed, methods: readonly Method[], cmd: string, recorded?: Readonly<Record<string, unknown>>): { options?: Record<string, number | string> } {
  const given = givenFlags(argv);
  const readers = (f: string) => Object.values(METHODS).filter((m) => (m.flags ?? []).includes(f) || m.options?.[f] !== undefined).map((m) => m.name);
  // continuing a run with some of its methods: a flag equal to the run's recorded setting is its own, not a mistake
  const camel = (f: string) => f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const asRecorded = (f: string) => recorded !== undefined && (recorded[camel(f)] ?? (recorded.options as Record<string, unknown> | undefined)?.[f]) === p[f];
  for (const f of [...METHOD_FLAGS, ...Object.keys(optionFlags)]) {
    if (!given.has(f) || asRecorded(f) || methods.some((m) => (m.flags ?? []).includes(f) || m.options?.[f] !== undefined)) continue;
    const r = readers(f);
    throw new UsageError(`das ${cmd}: --${f} is a setting of ${r.join(', ')}; --method ${methods.map((m) => m.name).join(',')} does not ${r.length === 1 ? 'run it' : 'run any of them'}`);
  }
  const options = Object.fromEntries(Object.keys(optionFlags).filter((k) => given.has(k)).map((k) => [k, p[k] as number | string]));
  return Object.keys(options).length > 0 ? { options } : {};
}

const posttrainFlags: FlagSpecs = {
  model: { kind: 'string', help: 'Hugging Face directory to start from (with MLM head and tokenizer files)', required: true },
  corpus: { kind: 'string', help: 'the domain corpus: plain text, one passage per line', required: true },
  out: { kind: 'string', help: 'output directory: model/, importance/ (das), checkpoint/ while training, log.jsonl, result.json, settings.json; one holding other settings is refused', required: true },
  method: { kind: 'string', help: 'das (soft-masking + contrastive, then MLM importance), ncl (plain MLM), or any method of das run (its training of one domain)', default: 'das', choices: methodNames },
  importance: { kind: 'list', help: 'das: prior importance directories (KL proxy before the first domain, then MLM of each earlier domain); normalised and max-accumulated' },
  ...common(false),
  ...optionFlags,
  seed: { kind: 'int', help: 'seed for batches, masking, dropout and the importance subset (the reference post-trains with 111)', default: D.seed },
  ...backendFlag,
  quiet: { kind: 'boolean', help: 'no progress output' },
  help: { kind: 'boolean', help: 'show this help' },
};

const ftFlags = (prefix: string, quick: boolean): FlagSpecs => ({
  [`${prefix}epochs`]: { kind: 'int', help: `fine-tuning epochs (default ${finetuneDefaults.epochs}${quick ? '; --quick 3' : ''}; the paper: 5–15 by task)`, gt: 0 },
  [`${prefix}lr`]: { kind: 'number', help: `fine-tuning learning rate (default ${finetuneDefaults.lr} for small models; roberta-base in the paper: 3e-5)`, gt: 0 },
  [`${prefix}batch-size`]: { kind: 'int', help: `fine-tuning batch size (default ${finetuneDefaults.batchSize})`, gt: 0 },
  [`${prefix}seq-len`]: { kind: 'int', help: `fine-tuning max tokens, truncated (default ${finetuneDefaults.seqLen}${quick ? '; --quick 64' : ''})`, gt: 0 },
  [`${prefix}weight-decay`]: { kind: 'number', help: 'decoupled weight decay on all parameters', default: finetuneDefaults.weightDecay, min: 0 },
  [`${prefix}pool`]: { kind: 'string', help: 'what the classifier reads: cls (the <s> position, the paper) or mean (average over real tokens)', default: 'cls', choices: poolings },
  [`${prefix}max-train`]: { kind: 'int', help: `use the first N training examples${quick ? ' (--quick 200)' : ''}`, gt: 0 },
  [`${prefix}max-test`]: { kind: 'int', help: `use the first N test examples${quick ? ' (--quick 100)' : ''}`, gt: 0 },
});

const finetuneFlags: FlagSpecs = {
  model: { kind: 'string', help: 'Hugging Face directory (with tokenizer files); the MLM head is dropped', required: true },
  'task-train': { kind: 'string', help: 'training examples, JSON lines {"text", "label"}', required: true },
  'task-test': { kind: 'string', help: 'test examples, same format', required: true },
  labels: { kind: 'string', help: 'labels.json: the ordered label names', required: true },
  out: { kind: 'string', help: 'optional output directory: model/ (fine-tuned, with its head), predictions.jsonl, scores.json (per-class precision, recall, F1 and the confusion matrix), result.json, settings.json' },
  ...ftFlags('', false),
  seed: { kind: 'int', help: 'seed for the head, batch order and dropout', default: 2021 },
  'no-dropout': { kind: 'boolean', help: 'turn dropout off while training' },
  ...backendFlag,
  quiet: { kind: 'boolean', help: 'no progress output' },
  help: { kind: 'boolean', help: 'show this help' },
};

const runFlags: FlagSpecs = {
  sequence: { kind: 'string', help: 'sequence.json: ordered domains, each with corpus, end task and labels', default: 'data/sequence.json' },
  model: { kind: 'string', help: 'the base model (Hugging Face directory with MLM head and tokenizer files)', required: true },
  method: { kind: 'string', help: `${methodNames.join(' | ')}, a comma list (one combined table, in the paper's order), or all (the roster: ${ROSTER.join(', ')})`, default: 'das' },
  out: { kind: 'string', help: 'run directory (default runs/<methods>); an interrupted run continues here' },
  seeds: { kind: 'int', help: `number of seeds, taken from ${REFERENCE_SEEDS.join(', ')}`, default: 1, gt: 0, max: REFERENCE_SEEDS.length },
  'seed-list': { kind: 'string', help: 'explicit comma-separated seeds (overrides --seeds)' },
  domains: { kind: 'int', help: 'use only the first N domains of the sequence', gt: 0 },
  matrix: { kind: 'string', help: "full (every seen task after every domain) or diagonal-final (A[k][k] and the last row: enough for the table, FR and transfer)", default: 'full', choices: ['full', 'diagonal-final'] },
  quick: { kind: 'boolean', help: 'small settings for a demo or smoke test (each can still be overridden)' },
  'held-out': { kind: 'int', help: "held-out MLM loss after every domain on at most N chunks of each text (the general validation text, each seen domain's held-out lines); 0 = off", default: 0, min: 0 },
  'no-base': { kind: 'boolean', help: 'do not fine-tune the base model directly (drops the "vs base" columns; one fine-tune fewer per task and seed)' },
  shard: { kind: 'string', help: 'K/N: run only the K-th of N disjoint parts of the work (base fine-tunes per seed, base held-out loss, each method × seed chain; every N-th from the K-th), e.g. one Slurm array task or Kubernetes pod each, in one --out on a shared file system; parts are locked (a part held by another live process is waited for); writes no table: the same command without --shard, afterwards, finds everything done and writes it (deploy/README.md)' },
  ...common(true),
  ...optionFlags,
  ...ftFlags('ft-', true),
  ...backendFlag,
  quiet: { kind: 'boolean', help: 'no progress output' },
  help: { kind: 'boolean', help: 'show this help' },
};

const num = (p: Parsed, k: string, dflt: number): number => (p[k] as number | undefined) ?? dflt;
/** --grad-accum as an option: absent when 1 (the recorded settings of runs without accumulation stay as they were). */
const gradAccum = (p: Parsed): { gradAccum?: number } => ((p['grad-accum'] as number) > 1 ? { gradAccum: p['grad-accum'] as number } : {});

export async function posttrainCommand(argv: string[]): Promise<number> {
  const cmd = 'posttrain';
  const p = parseFlags(argv, posttrainFlags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'post-train one domain with DAS (or plain MLM: ncl), then compute its MLM importance', posttrainFlags)); return 0; }
  const method = p.method as string;
  const own = methodSettings(argv, p, [METHODS[method]], cmd);
  const backend = await chooseBackend(p.backend, cmd);
  const r = await posttrain({
    model: required(p, 'model', cmd), corpus: required(p, 'corpus', cmd), out: required(p, 'out', cmd), method,
    importance: p.importance as string[] | undefined, steps: num(p, 'steps', D.steps), batchSize: num(p, 'batch-size', D.batchSize), ...gradAccum(p), seqLen: num(p, 'seq-len', D.seqLen),
    lr: num(p, 'lr', D.lr), seed: p.seed as number, contrastWeight: p['contrast-weight'] as number | undefined, referenceCompat: Boolean(p['reference-compat']),
    softMaskTarget: p['soft-mask-target'] as SoftMaskTarget, saveEvery: p['save-every'] as number, importanceSubset: num(p, 'importance-subset', D.importanceSubset),
    importanceBatchSize: p['importance-batch-size'] as number, ...own, backend, quiet: Boolean(p.quiet), progress: progressBars(Boolean(p.quiet)),
  });
  process.stdout.write(`${JSON.stringify({ backend: backend.name, ...r })}\n`);
  return r.stoppedOnNaN ? 1 : 0;
}

export async function finetuneCommand(argv: string[]): Promise<number> {
  const cmd = 'finetune';
  const p = parseFlags(argv, finetuneFlags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'fine-tune a checkpoint with a fresh classification head; macro-F1 and accuracy on the test split', finetuneFlags)); return 0; }
  const backend = await chooseBackend(p.backend, cmd);
  const r = await finetuneFiles({
    model: required(p, 'model', cmd), taskTrain: required(p, 'task-train', cmd), taskTest: required(p, 'task-test', cmd), labels: required(p, 'labels', cmd),
    epochs: num(p, 'epochs', finetuneDefaults.epochs), lr: num(p, 'lr', finetuneDefaults.lr), batchSize: num(p, 'batch-size', finetuneDefaults.batchSize),
    seqLen: num(p, 'seq-len', finetuneDefaults.seqLen), weightDecay: p['weight-decay'] as number, seed: p.seed as number, dropout: !p['no-dropout'],
    pool: p.pool as Pooling, maxTrain: p['max-train'] as number | undefined, maxTest: p['max-test'] as number | undefined, backend, quiet: Boolean(p.quiet),
    out: p.out as string | undefined, progress: progressBars(Boolean(p.quiet)),
  });
  const { predictions: _p, ...rest } = r;
  process.stdout.write(`${JSON.stringify({ backend: backend.name, ...rest })}\n`);
  return 0;
}

export async function runCommand(argv: string[]): Promise<number> {
  const cmd = 'run';
  const p = parseFlags(argv, runFlags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'a whole domain sequence for DAS and its baselines: post-training, importance, progressive fine-tuning matrix, forgetting and transfer', runFlags)); return 0; }
  let methods: string[];
  try { methods = expandMethods(p.method as string); } catch (e) { throw new UsageError(`das ${cmd}: ${(e as Error).message}`); }
  const runJson = join((p.out as string | undefined) ?? `runs/${(p.method as string).split(',').map((x) => x.trim()).join('+')}${p.quick ? '-quick' : ''}`, 'run.json');
  const recorded = existsSync(runJson) ? (JSON.parse(readFileSync(runJson, 'utf8')) as { fingerprint?: { posttrain?: Record<string, unknown> } }).fingerprint?.posttrain : undefined;
  const own = methodSettings(argv, p, methods.map((m) => METHODS[m]), cmd, recorded);
  for (const f of ['sequence', 'model']) if (typeof p[f] === 'string') repoDefault(p[f], f, cmd); // data/…, models/…: repo checkout only
  let seeds: number[];
  if (p['seed-list'] !== undefined) {
    seeds = (p['seed-list'] as string).split(',').map((s) => Number(s.trim()));
    if (!seeds.every(Number.isSafeInteger)) throw new UsageError(`das ${cmd}: --seed-list must be comma-separated integers, got '${String(p['seed-list'])}'`);
  } else {
    seeds = REFERENCE_SEEDS.slice(0, p.seeds as number);
  }
  const q = Boolean(p.quick);
  const shard = p.shard === undefined ? undefined : parseShard(p.shard as string);
  if (typeof shard === 'string') throw new UsageError(`das ${cmd}: ${shard}`);
  const backend = await chooseBackend(p.backend, cmd);
  const out = (p.out as string | undefined) ?? `runs/${(p.method as string).split(',').map((x) => x.trim()).join('+')}${q ? '-quick' : ''}`;
  // killed (Slurm's scancel, Kubernetes' eviction, Ctrl-C): release the part locks first; everything written is resumable
  const onSignal = (sig: NodeJS.Signals) => { releaseAllLocks(); process.exit(sig === 'SIGINT' ? 130 : 143); };
  process.once('SIGTERM', onSignal).once('SIGINT', onSignal);
  const s = await runSequence({
    sequence: p.sequence as string, model: required(p, 'model', cmd), out, shard,
    methods, seeds, domains: p.domains as number | undefined, matrix: p.matrix as 'full' | 'diagonal-final', baseFinetune: !p['no-base'],
    heldOut: (p['held-out'] as number) > 0 ? { maxChunks: p['held-out'] as number } : undefined,
    posttrain: {
      steps: num(p, 'steps', q ? 30 : D.steps), batchSize: num(p, 'batch-size', q ? 8 : D.batchSize), ...gradAccum(p), seqLen: num(p, 'seq-len', q ? 64 : D.seqLen), lr: num(p, 'lr', D.lr),
      contrastWeight: p['contrast-weight'] as number | undefined, referenceCompat: Boolean(p['reference-compat']), softMaskTarget: p['soft-mask-target'] as SoftMaskTarget,
      saveEvery: p['save-every'] as number, importanceSubset: num(p, 'importance-subset', q ? 64 : D.importanceSubset), importanceBatchSize: p['importance-batch-size'] as number,
      ...own,
    },
    finetune: {
      epochs: num(p, 'ft-epochs', q ? 3 : finetuneDefaults.epochs), lr: num(p, 'ft-lr', finetuneDefaults.lr), batchSize: num(p, 'ft-batch-size', finetuneDefaults.batchSize),
      seqLen: num(p, 'ft-seq-len', q ? 64 : finetuneDefaults.seqLen), weightDecay: p['ft-weight-decay'] as number, pool: p['ft-pool'] as Pooling,
      maxTrain: (p['ft-max-train'] as number | undefined) ?? (q ? 200 : undefined), maxTest: (p['ft-max-test'] as number | undefined) ?? (q ? 100 : undefined),
    },
    backend, quiet: Boolean(p.quiet), progress: progressBars(Boolean(p.quiet)),
  }).finally(() => { process.off('SIGTERM', onSignal).off('SIGINT', onSignal); });
  if (shard !== undefined) {
    process.stdout.write(`${JSON.stringify({ backend: backend.name, out, shard: `${shard.index}/${shard.count}`, parts: s.parts, seconds: s.seconds })}\n`);
    return 0;
  }
  const r = s.results;
  process.stdout.write(`${JSON.stringify({
    backend: backend.name, out, table: join(out, 'results.md'), sequence: basename(r.sequence), domains: r.domains, seeds: r.seeds, seconds: s.seconds,
    methods: r.methods.map((m) => ({ method: m.method, mf1: m.average.mf1, acc: m.average.acc, fr: m.forgetting, vsOne: m.vsOne && { mf1: m.vsOne.mf1.average, acc: m.vsOne.acc.average }, vsBase: m.vsBase && { mf1: m.vsBase.mf1.average, acc: m.vsBase.acc.average } })),
    base: r.base?.average ?? null,
  })}\n`);
  return 0;
}
