// `das grads`: the gradient of the mean MLM loss over every labelled token of a JSONL file, dropout
// off, with respect to every parameter, under Hugging Face names (the tied decoder's gradient is
// part of the word embeddings'). For parity checks against PyTorch.
import { E } from '../fp.js';
import { hfNames, loadCheckpoint, paramsToHf } from '../io/hf-roberta.js';
import { readImportanceDir } from '../das-files/importance-dirs.js';
import { applySoftMask, resolveAxes, softMaskScales } from '../das/soft-mask.js';
import { read } from '../tensor/tensor.js';
import { writeSafetensors } from '../io/safetensors.js';
import { batchesOf, readJsonlExamples } from '../data/mlm-jsonl.js';
import { mlmTargets, toDevice, labelledLogits } from '../nn/mlm.js';
import type { Params } from '../nn/params.js';
import { encode } from '../nn/roberta.js';
import { add, scalarOp } from '../ops/binary.js';
import { crossEntropy } from '../ops/cross-entropy.js';
import { valueAndGrad } from '../autodiff/grad.js';
import { release, tidy } from '../tensor/scope.js';
import { treeMap, treeZip } from '../tensor/tree.js';
import { parseFlags, required, usage, type FlagSpecs, UsageError } from './args.js';
import { backendFlag, chooseBackend } from './common.js';

const flags: FlagSpecs = {
  model: { kind: 'string', help: 'Hugging Face directory (config.json + model.safetensors with an MLM head)', required: true },
  examples: { kind: 'string', help: 'pre-tokenized JSON lines {"input_ids", "attention_mask", "labels"}', required: true },
  out: { kind: 'string', help: 'output .safetensors file (gradients under Hugging Face names)', required: true },
  importance: { kind: 'string', help: 'directory with accumulated importance {head,intermediate,output}_impt.npy in [0, 1]: soft-mask (docs/method.md §6.6)' },
  'reference-compat': { kind: 'boolean', help: 'soft-mask on the reference code\'s axes (Q/K/V columns, attention-output bias masked)' },
  'soft-mask-target': { kind: 'string', help: 'gradient: write masked gradients; update: write plain gradients plus softmask.update_scale.<name> (AdamW update scales)', default: 'gradient', choices: ['gradient', 'update'] },
  'batch-size': { kind: 'int', help: 'examples per forward pass (does not change the result)', default: 16, gt: 0 },
  ...backendFlag,
  help: { kind: 'boolean', help: 'show this help' },
};

export async function gradsCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, flags, 'grads');
  if (p.help) { process.stdout.write(usage('grads', 'gradient of the mean MLM loss over a JSONL file', flags)); return 0; }
  const backend = await chooseBackend(p.backend, 'grads');
  const dir = required<string>(p, 'model', 'grads');
  const out = required<string>(p, 'out', 'grads');
  const ck = await loadCheckpoint(dir, backend);
  if (E.isLeft(ck)) throw ck.left;
  const { cfg, params } = ck.right;
  if (params.lmHead === undefined) throw new Error(`${dir} has no MLM head (lm_head.*)`);
  const target = p['soft-mask-target'];
  if (p.importance === undefined && p['reference-compat'] === true) throw new UsageError('das grads: --reference-compat needs --importance');
  const axes = resolveAxes({ referenceCompat: p['reference-compat'] === true });
  const impt = typeof p.importance === 'string' ? await readImportanceDir(p.importance, cfg, backend) : undefined;
  if (impt !== undefined && E.isLeft(impt)) throw impt.left;
  const scales = impt === undefined || E.isLeft(impt) ? undefined : softMaskScales(impt.right, cfg, axes);
  const examples = readJsonlExamples(required(p, 'examples', 'grads'), { vocabSize: cfg.vocabSize });
  const batches = batchesOf(examples, p['batch-size'] as number, cfg.padId);
  let total: Params | undefined, count = 0;
  for (const hb of batches) {
    const t = mlmTargets(hb, backend);
    if (t.count === 0) { release(t); continue; }
    count += t.count;
    const next = tidy(() => {
      const batch = toDevice(cfg, hb, backend);
      const f = (a: { params: Params }) => crossEntropy(labelledLogits(cfg, a.params, encode(cfg, a.params, batch), t), t.labels, { reduction: 'sum' });
      const g = valueAndGrad(f, ['params'])({ params })[1].params;
      return total === undefined ? g : treeZip(total, g, (a, b) => add(a, b));
    });
    release(total, t);
    total = next;
  }
  if (total === undefined) throw new Error(`${String(p.examples)}: no labelled token (labels other than −100) in any example`);
  const mean = tidy(() => treeMap(total!, (g) => scalarOp('mul', g, 1 / count)));
  const masked = scales !== undefined && target === 'gradient' ? tidy(() => applySoftMask(mean, scales)) : mean;
  const tensors = await paramsToHf(cfg, masked);
  const meta: Record<string, string> = { labelledTokens: String(count), model: dir };
  if (scales !== undefined) {
    Object.assign(meta, { importance: String(p.importance), softMaskTarget: target, headMaskQKVAxis: axes.headMaskQKVAxis, maskAttnOutBias: String(axes.maskAttnOutBias) });
    const names = hfNames(cfg, { mlm: true });
    if (target === 'update') for (const [path, s] of scales) tensors.set(`softmask.update_scale.${names.get(path)![0]}`, { dtype: 'f32', shape: [...s.shape], data: Float32Array.from(await read(s)) });
  }
  await writeSafetensors(out, tensors, meta);
  release(total, mean, masked, params, impt !== undefined && E.isRight(impt) ? impt.right : undefined, [...(scales?.values() ?? [])]);
  process.stdout.write(`${JSON.stringify({ out, examples: examples.length, labelledTokens: count })}\n`);
  return 0;
}
