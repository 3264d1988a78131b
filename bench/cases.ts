// What the side-by-side benchmark measures: one record per figure, with the work that turns a median
// time into the figure (FLOPs for GFLOP/s, bytes moved once for GB/s), in three sizes.
import { mlmCollate } from '../src/data/mlm-batches.js';
import type { HostBatch } from '../src/nn/mlm.js';
import { key } from '../src/ops/random.js';

/** The small RoBERTa of the training-step figures (issue 6): the same dimensions for every implementation. */
export interface ModelDims { vocab: number; hidden: number; heads: number; ffn: number; layers: number; seq: number; batch: number; maxPositions: number; eps: number }

export type Case =
  | { kind: 'matmul'; M: number; K: number; N: number }
  | { kind: 'softmax'; R: number; C: number }
  | { kind: 'layernorm'; R: number; C: number; backward: boolean }
  | { kind: 'gelu'; R: number; C: number }
  | { kind: 'xent'; R: number; C: number }
  | { kind: 'adamw'; n: number }
  | { kind: 'chain'; ops: number; n: number }
  | { kind: 'step'; model: ModelDims; batch: StepBatch }
  /** The DAS step (das: true) or the MLM step with dropout 0.1 (false): only PyTorch takes it, from impl/das.ts. */
  | { kind: 'das_step'; model: ModelDims; batch: StepBatch & { originalIds: number[] }; das: boolean };

/** One MLM batch on the host, shared by every implementation (ids, positions and labelled positions). */
export interface StepBatch { ids: number[]; positions: number[]; labelIndex: number[]; labels: number[] }

export type Unit = 'GFLOP/s' | 'GB/s' | 'µs/op' | 'ms';
export interface CaseSpec { id: string; label: string; unit: Unit; case: Case; /** FLOPs or bytes per run; ops for µs/op. */ work: number }

/** Figure of a median time: rates are higher-is-better, times lower-is-better. */
export function figure(spec: CaseSpec, ms: number): number {
  switch (spec.unit) {
    case 'GFLOP/s': return spec.work / ms / 1e6;
    case 'GB/s': return spec.work / ms / 1e6;
    case 'µs/op': return (ms * 1000) / spec.work;
    case 'ms': return ms;
  }
}
export const higherIsBetter = (u: Unit): boolean => u === 'GFLOP/s' || u === 'GB/s';

export const FULL_MODEL: ModelDims = { vocab: 2000, hidden: 128, heads: 4, ffn: 512, layers: 2, seq: 64, batch: 16, maxPositions: 66, eps: 1e-5 };
export const TINY_MODEL: ModelDims = { vocab: 100, hidden: 32, heads: 2, ffn: 64, layers: 1, seq: 16, batch: 2, maxPositions: 18, eps: 1e-5 };

/** RoBERTa's special ids in the synthetic vocabulary: <s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 4. */
export const SPECIALS = { bos: 0, pad: 1, eos: 2, unk: 3, mask: 4 };

/** A deterministic batch: random tokens between <s> and </s>, no padding, masked as the trainer masks (15 %, 80/10/10). */
export function makeBatch(m: ModelDims, seed = 6): { host: HostBatch; originalIds: Int32Array; batch: StepBatch } {
  let s = seed >>> 0;
  const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const chunks = Array.from({ length: m.batch }, () => Int32Array.from({ length: m.seq }, (_, t) =>
    t === 0 ? SPECIALS.bos : t === m.seq - 1 ? SPECIALS.eos : 5 + Math.floor(next() * (m.vocab - 5))));
  const { batch: hb } = mlmCollate(chunks, { specials: SPECIALS }, m.vocab, key(seed));
  const positions: number[] = [], labelIndex: number[] = [], labels: number[] = [];
  for (let b = 0; b < m.batch; b++) for (let t = 0; t < m.seq; t++) positions.push(SPECIALS.pad + 1 + t); // no padding: HF positions
  hb.labels.forEach((l, i) => { if (l !== -100) { labelIndex.push(i); labels.push(l); } });
  return { host: { B: hb.B, T: hb.T, ids: hb.ids, attention: hb.attention, labels: hb.labels }, originalIds: hb.originalIds, batch: { ids: Array.from(hb.ids), positions, labelIndex, labels } };
}

export type Size = 'full' | 'quick' | 'tiny';

export function cases(size: Size): CaseSpec[] {
  const mm = (M: number, K: number, N: number): CaseSpec => ({
    id: `matmul_${M}x${K}x${N}`, label: M === K && K === N ? `matmul ${M}³` : `matmul [${M}×${K}]·[${K}×${N}]`, unit: 'GFLOP/s', case: { kind: 'matmul', M, K, N }, work: 2 * M * K * N,
  });
  const f = 4; // bytes per f32
  const rows = (R: number, C: number, LR: number, LC: number, ER: number, EC: number, G: number, A: number): CaseSpec[] => [
    { id: `softmax_${R}x${C}`, label: `softmax rows [${R}×${C}]`, unit: 'GB/s', case: { kind: 'softmax', R, C }, work: 2 * R * C * f },
    { id: `layernorm_${LR}x${LC}`, label: `layer norm [${LR}×${LC}] fwd`, unit: 'GB/s', case: { kind: 'layernorm', R: LR, C: LC, backward: false }, work: 2 * LR * LC * f },
    { id: `layernorm_bwd_${LR}x${LC}`, label: `layer norm [${LR}×${LC}] fwd+bwd`, unit: 'GB/s', case: { kind: 'layernorm', R: LR, C: LC, backward: true }, work: 5 * LR * LC * f },
    { id: `gelu_${G}x${G}`, label: `GELU (erf) [${G}×${G}]`, unit: 'GB/s', case: { kind: 'gelu', R: G, C: G }, work: 2 * G * G * f },
    { id: `xent_${ER}x${EC}`, label: `cross-entropy [${ER}×${EC}]`, unit: 'GB/s', case: { kind: 'xent', R: ER, C: EC }, work: ER * EC * f },
    { id: `adamw_${A}`, label: `fused AdamW, ${A >= 1 << 20 ? `${A / (1 << 20)}M` : A} params`, unit: 'GB/s', case: { kind: 'adamw', n: A }, work: 7 * A * f },
  ];
  const chain = (ops: number): CaseSpec => ({ id: `chain_${ops}`, label: `per-op cost, ${ops} chained small ops`, unit: 'µs/op', case: { kind: 'chain', ops, n: 256 }, work: ops });
  const step = (m: ModelDims): CaseSpec => ({
    id: 'train_step', label: `train step (h${m.hidden}, ${m.heads} heads, FFN ${m.ffn}, ${m.layers} layers, ${m.batch}×${m.seq}, V ${m.vocab})`,
    unit: 'ms', case: { kind: 'step', model: m, batch: makeBatch(m).batch }, work: m.batch * m.seq,
  });
  if (size === 'tiny') return [mm(64, 64, 64), ...rows(64, 64, 64, 32, 64, 100, 64, 4096), chain(10), step(TINY_MODEL)];
  if (size === 'quick') return [mm(256, 256, 256), mm(1024, 1024, 1024), mm(1024, 128, 2000), ...rows(1024, 1024, 1024, 256, 1024, 2000, 1024, 1 << 20), chain(100), step(FULL_MODEL)];
  return [
    mm(128, 128, 128), mm(256, 256, 256), mm(512, 512, 512), mm(1024, 1024, 1024), mm(1024, 128, 512), mm(1024, 512, 128), mm(1024, 128, 2000),
    ...rows(1024, 1024, 1024, 256, 1024, 2000, 1024, 1 << 20), chain(100), step(FULL_MODEL),
  ];
}

/** Synthetic inputs: the same deterministic values in every implementation (uniform in [lo, hi)). */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo); }
  return out;
}
/** Class labels for cross-entropy: row r → (r·31) mod C. */
export const xentLabels = (R: number, C: number): Int32Array => Int32Array.from({ length: R }, (_, r) => (r * 31) % C);

/** The AdamW options of the kernel figure (torch.optim.AdamW semantics: decay before, ε on √v̂). */
export const ADAMW = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 } as const;
/** The optimizer of the training step: adamwDefaults (ε 1e-6, no decay), lr 1e-4. */
export const STEP_ADAM = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-6 } as const;
