// RoBERTa-base size on this machine's WebGPU adapter (`npm run bench -- --size=base`; not part of the
// default run: on a 2-core CPU with lavapipe one step takes minutes). ONE step of each, batch 16 × 164
// (the paper's chunk length), a randomly initialised model of roberta-base's shape (D 768, H 12, F 3072,
// L 12, V 50,265, 514 positions; what `das init` writes):
//   mlm         a post-training MLM step (NCL): forward, backward, HF AdamW
//   das         a DAS step: MLM pass + three contrastive passes (two full, one gated by the importance),
//               L_MLM + λ·L_CKI, soft-masked HF AdamW
//   importance  one batch of the MLM importance (per-example gate gradients, abs-per-example)
//   finetune    a fine-tuning step: encoder + fresh classification head, cross-entropy, HF AdamW with decay
// For each: seconds (the first step in the process, so shader compilation is included: on lavapipe it is
// far below the step), tokens/s, the live tensor bytes before it (parameters, optimizer state) and the
// peak of live tensor bytes during it (memoryStats: the pool may hold more). A watchdog stops the process
// when the machine's available memory falls under 1.5 GiB, reporting that the case does not fit.
//   --case=mlm|das|importance|finetune (default: all, in that order, one process), --batch=16, --seq=164,
//   --shape=D,H,F,L,V (default 768,12,3072,12,50265), --out=DIR, --machine=NAME
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { valueAndGrad } from '../src/autodiff/grad.js';
import { webgpu } from '../src/backend/webgpu/webgpu.js';
import { posttrainAdamw } from '../src/continual/posttrain.js';
import { dasLoss } from '../src/das/contrastive.js';
import { gateGrads } from '../src/das/importance.js';
import { softMask, softMaskScales } from '../src/das/soft-mask.js';
import { E } from '../src/fp.js';
import { type RobertaConfig, parseConfig } from '../src/nn/config.js';
import { type HostBatch, mlmTargets, toDevice } from '../src/nn/mlm.js';
import { type Params, initClassifier, initParams } from '../src/nn/params.js';
import { classifierLogits, encode } from '../src/nn/roberta.js';
import { full } from '../src/ops/creation.js';
import { crossEntropy } from '../src/ops/cross-entropy.js';
import { key } from '../src/ops/random.js';
import { sum } from '../src/ops/reduce.js';
import { abs } from '../src/ops/unary.js';
import { adamw, adamwInit } from '../src/optim/adamw.js';
import { applyGradients, chain, emptyState } from '../src/optim/transform.js';
import { release, tidy } from '../src/tensor/scope.js';
import { type Tensor, counters, fromArray, read } from '../src/tensor/tensor.js';
import { mlmTrainStep } from '../src/train/mlm-step.js';

export const BASE_CASES = ['mlm', 'das', 'importance', 'finetune'] as const;
export type BaseCase = (typeof BASE_CASES)[number];
export interface BaseCaseResult { case: BaseCase; status: 'ok' | 'failed'; seconds?: number; tokensPerSecond?: number; stateBytes?: number; peakBytes?: number; note?: string }

export function baseConfig(shape = [768, 12, 3072, 12, 50265]): RobertaConfig {
  const [D, H, F, L, V] = shape;
  const c = parseConfig({
    model_type: 'roberta', vocab_size: V, hidden_size: D, num_attention_heads: H, num_hidden_layers: L, intermediate_size: F, max_position_embeddings: 514,
    type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  });
  if (E.isLeft(c)) throw c.left;
  return c.right;
}

/** Random chunks (no padding) with ~15 % labelled positions, and their uncorrupted ids. */
function batchOf(cfg: RobertaConfig, B: number, T: number): { hb: HostBatch; original: HostBatch } {
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const ids = Int32Array.from({ length: B * T }, () => 3 + Math.floor(r() * (cfg.vocabSize - 4)));
  const labels = Int32Array.from(ids, (id) => (r() < 0.15 ? id : -100));
  const corrupted = Int32Array.from(ids, (id, i) => (labels[i] >= 0 ? cfg.vocabSize - 1 : id));
  return { hb: { B, T, ids: corrupted, labels }, original: { B, T, ids } };
}

const GiB = 2 ** 30;
function availableBytes(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Infinity;
}

/** Runs the cases; returns their results (a failed case is recorded, the others still run). */
export async function baseSizeBench(o: { cases?: readonly BaseCase[]; batch?: number; seq?: number; shape?: number[]; log: (s: string) => void }): Promise<BaseCaseResult[]> {
  const gpu = await webgpu();
  if (gpu === null) throw new Error('no WebGPU adapter');
  const cfg = baseConfig(o.shape), B = o.batch ?? 16, T = o.seq ?? 164, tokens = B * T;
  const { hb, original } = batchOf(cfg, B, T);
  let current: BaseCase | 'set-up' = 'set-up';
  const guard = setInterval(() => {
    if (availableBytes() < 1.5 * GiB) {
      process.stderr.write(`[base] ${current}: the machine's available memory fell under 1.5 GiB (live tensors ${(counters.liveBytes / GiB).toFixed(2)} GiB): stopped — this case does not fit here\n`);
      process.exit(3);
    }
  }, 250);
  guard.unref();
  const results: BaseCaseResult[] = [];
  const measure = async (c: BaseCase, f: () => Promise<unknown>) => {
    current = c;
    const stateBytes = counters.liveBytes;
    counters.peakBytes = counters.liveBytes;
    const t0 = performance.now();
    try {
      await f();
      await gpu.sync();
      const seconds = (performance.now() - t0) / 1000;
      results.push({ case: c, status: 'ok', seconds, tokensPerSecond: tokens / seconds, stateBytes, peakBytes: counters.peakBytes });
      o.log(`${c}: ${seconds.toFixed(1)} s, ${(tokens / seconds).toFixed(1)} tokens/s, state ${(stateBytes / GiB).toFixed(2)} GiB, peak live ${(counters.peakBytes / GiB).toFixed(2)} GiB`);
    } catch (e) {
      results.push({ case: c, status: 'failed', note: (e as Error).message.split('\n')[0] });
      o.log(`${c}: failed: ${(e as Error).message}`);
    }
  };
  const cases = o.cases ?? BASE_CASES;
  // one storage binding per tensor: a parameter larger than the adapter allows cannot run at all (lavapipe: 128 MiB)
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  const word = cfg.vocabSize * cfg.width * 4;
  if (word > limit) {
    const note = `the word embeddings [${cfg.vocabSize}, ${cfg.width}] take ${(word / 2 ** 20).toFixed(1)} MiB, more than this adapter's maxStorageBufferBindingSize of ${(limit / 2 ** 20).toFixed(0)} MiB (one tensor is one binding); lower the vocabulary to ≤ ${Math.floor(limit / 4 / cfg.width)} (--shape) or use an adapter with a larger limit`;
    o.log(note);
    clearInterval(guard);
    return cases.map((c) => ({ case: c, status: 'failed', note }));
  }
  const params = initParams(cfg, key(1), gpu, { mlm: true });
  o.log(`model: D ${cfg.width}, H ${cfg.heads}, F ${cfg.intermediate}, L ${cfg.layers}, V ${cfg.vocabSize}; ${(counters.liveBytes / 4 / 1e6).toFixed(1)} M parameters; batch ${B} × ${T}`);
  const dk = { key: key(7) };
  for (const c of cases) {
    if (c === 'mlm') {
      await measure(c, async () => {
        const s = { params, opt: adamwInit(params) };
        const [next, loss] = mlmTrainStep(cfg, s, hb, 1e-4, posttrainAdamw, key(2), gpu);
        await read(loss);
        release(next, loss, s.opt);
      });
    } else if (c === 'das') {
      const importance = Array.from({ length: cfg.layers }, () => ({
        head: full([cfg.heads], 0.5, { backend: gpu }), intermediate: full([cfg.intermediate], 0.5, { backend: gpu }), output: full([cfg.width], 0.5, { backend: gpu }),
      }));
      const scales = softMaskScales(importance, cfg);
      await measure(c, async () => {
        const opt = adamwInit(params);
        const [next, loss] = tidy(() => {
          const batch = { corrupted: toDevice(cfg, hb, gpu), original: toDevice(cfg, original, gpu) };
          const t = mlmTargets(hb, gpu);
          const [l, g] = valueAndGrad((a: { params: Params }) => dasLoss(cfg, a.params, batch, t, { importance, dropoutKey: key(3) })[0], ['params'])({ params });
          const [p, [, s]] = applyGradients(chain(softMask<Params>(scales), adamw<Params>({ ...posttrainAdamw, lr: 1e-4 })), params, g.params, [emptyState, opt]);
          return [{ params: p, opt: s }, l] as [unknown, Tensor];
        });
        await read(loss);
        release(next, loss, opt);
      });
      release(importance, [...scales.values()]);
    } else if (c === 'importance') {
      await measure(c, async () => {
        const g = gateGrads(cfg, params, hb, { loss: 'mlm', perExample: true, dropout: [dk] });
        const sums = tidy(() => Object.values(g).map((t) => sum(abs(t))));   // abs-per-example: |per-example gradients| summed
        await Promise.all(sums.map((x) => read(x)));
        release(g, sums);
      });
    } else {
      const { lmHead: _head, ...encoder } = params;
      const ft: Params = { ...encoder, classifier: initClassifier(cfg, 4, key(5), gpu) };
      await measure(c, async () => {
        const opt = adamwInit(ft);
        const [next, loss] = tidy(() => {
          const batch = toDevice(cfg, original, gpu);
          const y = fromArray(Int32Array.from({ length: B }, (_, i) => i % 4), [B], { dtype: 'i32', backend: gpu });
          const f = (a: { params: Params }) => crossEntropy(classifierLogits(cfg, a.params.classifier!, encode(cfg, a.params, batch, { dropout: dk }), dk), y, { reduction: 'mean' });
          const [l, g] = valueAndGrad(f, ['params'])({ params: ft });
          const [p, s] = applyGradients(adamw<Params>({ ...posttrainAdamw, weightDecay: 0.01, lr: 1e-4 }), ft, g.params, opt);
          return [{ params: p, opt: s }, l] as [unknown, Tensor];
        });
        await read(loss);
        release(next, loss, opt, ft.classifier);
      });
    }
  }
  clearInterval(guard);
  release(params);
  return results;
}

/** `npm run bench -- --size=base [--case=…]`: runs, prints and writes <out>/<machine>-<date>-base.json. */
export async function baseSizeMain(arg: (k: string) => string | undefined, outDir: string): Promise<void> {
  const cases = arg('case') === undefined ? undefined : (arg('case')!.split(',') as BaseCase[]);
  const bad = cases?.filter((c) => !(BASE_CASES as readonly string[]).includes(c)) ?? [];
  if (bad.length > 0) throw new Error(`--case: unknown ${bad.join(', ')} (known: ${BASE_CASES.join(', ')})`);
  const shape = arg('shape')?.split(',').map(Number);
  const batch = Number(arg('batch') ?? 16), seq = Number(arg('seq') ?? 164);
  const t0 = Date.now();
  const results = await baseSizeBench({ cases, batch, seq, shape, log: (s) => process.stderr.write(`[base] ${s}\n`) });
  const machine = arg('machine') ?? hostname();
  const file = join(outDir, `${machine}-${new Date().toISOString().slice(0, 10)}-base${cases ? `-${cases.join('+')}` : ''}.json`);
  mkdirSync(outDir, { recursive: true });
  const doc = { schema: 'das-webgpu-bench-base/1', date: new Date().toISOString(), machine, shape: shape ?? [768, 12, 3072, 12, 50265], batch, seq, seconds: (Date.now() - t0) / 1000, results };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  const row = (r: BaseCaseResult) => `| ${r.case} | ${r.status === 'ok' ? r.seconds!.toFixed(1) : r.note} | ${r.tokensPerSecond?.toFixed(1) ?? '–'} | ${r.stateBytes !== undefined ? (r.stateBytes / GiB).toFixed(2) : '–'} | ${r.peakBytes !== undefined ? (r.peakBytes / GiB).toFixed(2) : '–'} |`;
  process.stdout.write(`| case | s/step | tokens/s | state GiB | peak live GiB |\n|---|---:|---:|---:|---:|\n${results.map(row).join('\n')}\n(${file})\n`);
}
