// Unit importance (docs/method.md §4, §5, §12.1–12.7): gate gradients of the KL proxy or the MLM loss,
// aggregated over batches into a raw importance, per-layer normalisation (§4.5) and the element-wise
// max accumulation of normalised sets (§4.6). A set holds head [L, H], intermediate [L, F], output [L, D].
import { grad } from '../autodiff/grad.js';
import type { Backend } from '../backend/backend.js';
import type { RobertaConfig } from '../nn/config.js';
import { type HostBatch, IGNORE, labelledLogits, mlmTargets, toDevice } from '../nn/mlm.js';
import type { Gates, Params } from '../nn/params.js';
import { type Batch, type DropoutSource, encode } from '../nn/roberta.js';
import { add, div, equal, maximum, mul, scalarOp, sub } from '../ops/binary.js';
import { full, zeros } from '../ops/creation.js';
import { crossEntropy } from '../ops/cross-entropy.js';
import { slice, stack } from '../ops/movement.js';
import { type Key, foldIn } from '../ops/random.js';
import { max, mean, sum, variance } from '../ops/reduce.js';
import { reshape } from '../ops/reshape.js';
import { logSoftmax } from '../ops/softmax.js';
import { abs, exp, neg, sqrt, tanh } from '../ops/unary.js';
import { where } from '../ops/where.js';
import { release, tidy } from '../tensor/scope.js';
import { ShapeError, fmt, sameShape } from '../tensor/shape.js';
import { type Tensor, fromArray } from '../tensor/tensor.js';

export const UNIT_KINDS = ['head', 'intermediate', 'output'] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];
/** One tensor per unit kind: head [L, H], intermediate [L, F], output [L, D] (or [B, L, ·] per example). */
export type ImportanceSet = Record<UnitKind, Tensor>;

/** The proxy loss of §5 ('kl', general knowledge) or the domain's MLM loss (§4.3). */
export type ImportanceLoss = 'kl' | 'mlm';
/**
 * How gate gradients become a raw importance (§4.4, §12.4): 'abs-per-example' (paper, default) sums
 * |per-example gradient|; 'signed-batch' sums the signed batch gradients G_k; 'signed-batch-cumulative'
 * (reference code, whose gate .grad is never reset) sums Σ_{j≤k} G_j over k, i.e. Σ_j (K − j + 1)·G_j.
 */
export type Aggregation = 'abs-per-example' | 'signed-batch' | 'signed-batch-cumulative';
/** Softmax axis of the KL proxy (§12.3): over positions per feature (reference), or over features per token. */
export type KlAxis = 'positions' | 'features';
/** MLM importance input (§12.5): the corrupted ids (default) or the uncorrupted ids (reference code). */
export type MlmImportanceInput = 'corrupted' | 'original';

/** The importance subset: the first 10,000 chunks of a domain (docs/method.md §3.3); the one default of every command. */
export const IMPORTANCE_SUBSET = 10000;

export const AGGREGATIONS: readonly Aggregation[] = ['abs-per-example', 'signed-batch', 'signed-batch-cumulative'];

/** A host batch; `originalIds` is needed only for mlmInput 'original'. */
export interface ImportanceBatch extends HostBatch { originalIds?: Int32Array }

export interface ImportanceOptions {
  loss: ImportanceLoss;
  aggregation?: Aggregation;
  klAxis?: KlAxis;
  mlmInput?: MlmImportanceInput;
}

export interface GateGradOptions extends Omit<ImportanceOptions, 'aggregation'> {
  /** Gradients of each example's own loss, [B, L, ·] (one backward pass with per-example gates), or of the batch loss, [L, ·]. */
  perExample?: boolean;
  /** Dropout of each pass: the KL proxy runs two (pass1, pass2), MLM one. Absent entries: no dropout. */
  dropout?: readonly (DropoutSource | undefined)[];
}

export const unitWidths = (cfg: Pick<RobertaConfig, 'heads' | 'intermediate' | 'width'>): Record<UnitKind, number> =>
  ({ head: cfg.heads, intermediate: cfg.intermediate, output: cfg.width });

const mapSet = (f: (k: UnitKind) => Tensor): ImportanceSet => ({ head: f('head'), intermediate: f('intermediate'), output: f('output') });

/** Attention-mask tokens of a host batch (the reference divides the raw importance by their count, §4.4 step 3). */
export const maskTokens = (cfg: RobertaConfig, hb: HostBatch): number => {
  let n = 0;
  for (let i = 0; i < hb.B * hb.T; i++) n += (hb.attention ? hb.attention[i] !== 0 : hb.ids[i] !== cfg.padId) ? 1 : 0;
  return n;
};

/**
 * KL proxy of §5 with our §12.1–12.3 choices: the same model run twice (`z1`, `z2` = last hidden states
 * [B, T, D] of pass1 and pass2), P_i = softmax(z_i) over positions (or features), τ = 1,
 * KL_n = Σ P1 (log P1 − log P2) over example n's positions and features (pass1 is the "model" of docs/method.md §5
 * P_B, pass2 its "teacher" P_A). Padded positions are excluded: −10000 is added to them before a
 * positions softmax, and their per-token KL is zeroed for a features softmax. Returns Σ_n KL_n,
 * divided by B unless `perExample` (the sum of per-example losses, whose per-example gates each see only
 * their own term).
 */
export function klProxyLoss(z1: Tensor, z2: Tensor, batch: Batch, axis: KlAxis = 'positions', perExample = false): Tensor {
  const [B, T] = z1.shape;
  const positions = axis === 'positions';
  const prep = (z: Tensor) => (positions ? add(z, reshape(batch.maskBias, [B, T, 1])) : z);
  const lp1 = logSoftmax(prep(z1), positions ? 1 : 2), lp2 = logSoftmax(prep(z2), positions ? 1 : 2);
  let kl = mul(exp(lp1), sub(lp1, lp2));                                           // [B, T, D]
  if (!positions) kl = mul(kl, reshape(batch.mask, [B, T, 1]));
  const total = sum(kl);
  return perExample ? total : scalarOp('mul', total, 1 / B);
}

/** Per labelled position: 1 / (labelled tokens of its example), so Σ w·CE = Σ_n (mean CE of example n). */
function perExampleWeights(hb: HostBatch): Float32Array {
  const count = new Int32Array(hb.B);
  const labels = hb.labels ?? new Int32Array(0);
  labels.forEach((l, i) => { if (l !== IGNORE) count[Math.floor(i / hb.T)]++; });
  const w: number[] = [];
  labels.forEach((l, i) => { if (l !== IGNORE) w.push(1 / count[Math.floor(i / hb.T)]); });
  return Float32Array.from(w);
}

function gatesOf(cfg: RobertaConfig, backend: Backend, perExample: number | undefined): Gates {
  const lead = perExample === undefined ? [] : [perExample, 1];
  return Array.from({ length: cfg.layers }, () => ({
    head: full(perExample === undefined ? [cfg.heads] : [perExample, cfg.heads], 1, { backend }),
    intermediate: full([...lead, cfg.intermediate], 1, { backend }),
    output: full([...lead, cfg.width], 1, { backend }),
  }));
}

/**
 * Gate gradients at all-ones gates (§4.1): head [L, H], intermediate [L, F], output [L, D] of the batch
 * loss, or [B, L, ·] of each example's own loss with `perExample`. Only the gates are differentiated; the
 * parameters are constants. MLM: batch loss = mean CE over the batch's labelled tokens; example n's loss
 * = mean CE over its own labelled tokens (0, with zero gradient, when it has none). KL: see klProxyLoss.
 */
export function gateGrads(cfg: RobertaConfig, params: Params, hb: ImportanceBatch, o: GateGradOptions): ImportanceSet {
  const backend = params.embeddings.word.backend;
  const perExample = o.perExample ?? false;
  const B = hb.B, W = unitWidths(cfg);
  const shapeOf = (k: UnitKind) => (perExample ? [B, cfg.layers, W[k]] : [cfg.layers, W[k]]);
  const [d1, d2] = o.dropout ?? [];
  return tidy(() => {
    let f: (a: { gates: Gates }) => Tensor;
    if (o.loss === 'kl') {
      const batch = toDevice(cfg, hb, backend);
      f = ({ gates }) => klProxyLoss(encode(cfg, params, batch, { gates, dropout: d1 }), encode(cfg, params, batch, { gates, dropout: d2 }), batch, o.klAxis, perExample);
    } else {
      if (params.lmHead === undefined) throw new Error('MLM importance needs a model with an MLM head (lm_head.*)');
      const original = (o.mlmInput ?? 'corrupted') === 'original';
      if (original && hb.originalIds === undefined) throw new Error("mlmInput 'original' needs the batch's original (uncorrupted) ids");
      const t = mlmTargets(hb, backend);
      if (t.count === 0) return mapSet((k) => zeros(shapeOf(k), { backend }));
      const batch = toDevice(cfg, { ...hb, ids: original ? hb.originalIds! : hb.ids }, backend);
      const w = perExample ? fromArray(perExampleWeights(hb), [t.count], { backend }) : undefined;
      f = ({ gates }) => {
        const logits = labelledLogits(cfg, params, encode(cfg, params, batch, { gates, dropout: d1 }), t);
        return w === undefined ? crossEntropy(logits, t.labels, { reduction: 'mean' }) : sum(mul(crossEntropy(logits, t.labels, { reduction: 'none' }), w));
      };
    }
    const g = grad(f, ['gates'])({ gates: gatesOf(cfg, backend, perExample ? B : undefined) }).gates;
    return mapSet((k) => stack(g.map((layer) => reshape(layer[k], perExample ? [B, W[k]] : [W[k]])), perExample ? 1 : 0));
  });
}

// ---- aggregation over batches ----------------------------------------------------------------

/** Running sums of one importance computation; `running` = Σ_{j≤k} G_j for the cumulative aggregation. */
export interface ImportanceSums {
  readonly aggregation: Aggregation;
  readonly total: ImportanceSet;
  readonly running?: ImportanceSet;
  /** Examples, attention-mask tokens and batches seen. */
  readonly examples: number;
  readonly tokens: number;
  readonly batches: number;
}

export function emptySums(cfg: RobertaConfig, aggregation: Aggregation, backend: Backend): ImportanceSums {
  if (!AGGREGATIONS.includes(aggregation)) throw new Error(`unknown importance aggregation '${aggregation}' (${AGGREGATIONS.join(', ')})`);
  const W = unitWidths(cfg);
  const z = () => tidy(() => mapSet((k) => zeros([cfg.layers, W[k]], { backend })));
  return { aggregation, total: z(), ...(aggregation === 'signed-batch-cumulative' ? { running: z() } : {}), examples: 0, tokens: 0, batches: 0 };
}

/** Adds one batch to the sums; releases the tensors of `s` and returns new sums (loop-carried state). */
export function addBatch(cfg: RobertaConfig, params: Params, s: ImportanceSums, hb: ImportanceBatch, o: Omit<GateGradOptions, 'perExample'>): ImportanceSums {
  const next = tidy(() => {
    if (s.aggregation === 'abs-per-example') {
      const g = gateGrads(cfg, params, hb, { ...o, perExample: true });
      return { total: mapSet((k) => add(s.total[k], sum(abs(g[k]), 0))), running: undefined };
    }
    const g = gateGrads(cfg, params, hb, { ...o, perExample: false });
    if (s.running === undefined) return { total: mapSet((k) => add(s.total[k], g[k])), running: undefined };
    const running = mapSet((k) => add(s.running![k], g[k]));
    return { total: mapSet((k) => add(s.total[k], running[k])), running };
  });
  release(s.total, s.running);
  return {
    aggregation: s.aggregation, total: next.total, ...(next.running ? { running: next.running } : {}),
    examples: s.examples + hb.B, tokens: s.tokens + maskTokens(cfg, hb), batches: s.batches + 1,
  };
}

/** Raw importance = aggregated sum / attention-mask tokens seen (ContinualLM's scale, §4.4 step 3). */
export function rawImportance(s: ImportanceSums): ImportanceSet {
  if (s.tokens === 0) throw new Error('importance: no tokens were seen');
  return tidy(() => mapSet((k) => scalarOp('mul', s.total[k], 1 / s.tokens)));
}

export interface ComputeOptions extends ImportanceOptions {
  /** Dropout key (batch k, pass i uses foldIn(foldIn(key, k), i)); absent: dropout off. Rates come from cfg. */
  dropoutKey?: Key;
  onBatch?: (s: ImportanceSums) => void;
}

export interface ImportanceResult { raw: ImportanceSet; examples: number; tokens: number; batches: number }

/** The raw importance of a model over a stream of batches (§4.4). */
export function computeImportance(cfg: RobertaConfig, params: Params, batches: Iterable<ImportanceBatch>, o: ComputeOptions): ImportanceResult {
  const backend = params.embeddings.word.backend;
  let s = emptySums(cfg, o.aggregation ?? 'abs-per-example', backend);
  for (const hb of batches) {
    const k = o.dropoutKey === undefined ? undefined : foldIn(o.dropoutKey, s.batches);
    const dropout = k === undefined ? undefined : [{ key: foldIn(k, 0) }, { key: foldIn(k, 1) }];
    s = addBatch(cfg, params, s, hb, { loss: o.loss, klAxis: o.klAxis, mlmInput: o.mlmInput, dropout });
    o.onBatch?.(s);
  }
  const raw = rawImportance(s);
  release(s.total, s.running);
  return { raw, examples: s.examples, tokens: s.tokens, batches: s.batches };
}

// ---- normalisation and accumulation -----------------------------------------------------------

/**
 * §4.5 per layer (row of x [L, N]): |tanh((I − mean) / std)| with the unbiased std. A constant row (std
 * 0, or a single unit) gives zeros; std is replaced by 1e-12 only where it is exactly 0 (§12.7).
 * Values lie in [0, 1] (tanh rounds to 1 in f32 beyond ≈ 9 standard deviations).
 */
export function normalizeImportance(x: Tensor): Tensor {
  if (x.shape.length !== 2) throw new ShapeError('normalizeImportance', `expected [L, N], got ${fmt(x.shape)}`);
  return tidy(() => {
    const o = { keepDims: true };
    const constant = equal(max(x, -1, o), neg(max(neg(x), -1, o)));               // [L, 1]
    const sd = sqrt(variance(x, -1, { ...o, correction: 1 }));
    const safe = where(constant, 1, where(equal(sd, 0), 1e-12, sd));
    return where(constant, 0, abs(tanh(div(sub(x, mean(x, -1, o)), safe))));
  });
}

export const normalizeSet = (s: ImportanceSet): ImportanceSet => tidy(() => mapSet((k) => normalizeImportance(s[k])));

/** §4.6 EMax: the element-wise maximum of one or more (normalised) sets of the same shapes. */
export function maxAccumulate(sets: readonly ImportanceSet[]): ImportanceSet {
  if (sets.length === 0) throw new Error('maxAccumulate: needs at least one importance set');
  for (const s of sets) {
    for (const k of UNIT_KINDS) {
      if (!sameShape(s[k].shape, sets[0][k].shape)) throw new ShapeError('maxAccumulate', `${k} shapes differ: ${fmt(sets[0][k].shape)} and ${fmt(s[k].shape)}`);
    }
  }
  return tidy(() => mapSet((k) => sets.slice(1).reduce((acc, s) => maximum(acc, s[k]), sets[0][k])));
}

/** Normalises each raw set, then EMax (§4.6): Ī = max(Î_KL, Î_MLM^(0), …). */
export const accumulateRaw = (raws: readonly ImportanceSet[]): ImportanceSet =>
  tidy(() => maxAccumulate(raws.map(normalizeSet)));

/**
 * A set [L, ·] as per-layer gates (head [H], intermediate [F], output [D]), the layout the gated model
 * and soft-masking take: the one conversion between the stored (stacked) and the per-layer form.
 */
export function toLayerGates(s: ImportanceSet): Gates {
  const L = s.head.shape[0];
  for (const t of [s.head, s.intermediate, s.output]) if (t.shape.length !== 2 || t.shape[0] !== L) throw new ShapeError('toLayerGates', `expected [L, ·] tensors, got ${fmt(t.shape)}`);
  return tidy(() => Array.from({ length: L }, (_, l) => {
    const row = (t: Tensor) => reshape(slice(t, [l, 0], [l + 1, t.shape[1]]), [t.shape[1]]);
    return { head: row(s.head), intermediate: row(s.intermediate), output: row(s.output) };
  }));
}
