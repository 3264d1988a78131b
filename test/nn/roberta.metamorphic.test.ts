// Metamorphic tests of the RoBERTa forward pass (docs/method.md §2.3, §11 item 2): gates of ones are the
// plain model; a zero head / intermediate / output gate equals the model with that unit's weights
// zeroed; padding leaves real tokens alone; dropout with a key is a pure function of the key.
// Parameters live on the host under Hugging Face names so that "the same model with some weights
// edited" is a plain array edit.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Backend, fromArray, key, read, release, tidy } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { type RobertaConfig, tinyTestConfig } from '../../src/nn/config.js';
import { hfNames, paramsFromHf } from '../../src/io/hf-roberta.js';
import type { HostArray as StArray } from '../../src/io/safetensors.js';
import type { Gates, Params } from '../../src/nn/params.js';
import { type DropoutSource, encode } from '../../src/nn/roberta.js';
import { type HostBatch, IGNORE, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { backends } from '../support/devices.js';
import { expectAllClose, seededValues } from '../support/oracle.js';

type HostParams = Map<string, StArray>;

/** The awkward tiny config (D 24, H 3, Dh 8, F 40, L 2) and a single-head one (D 8, F 12). */
const awkward: RobertaConfig = { ...tinyTestConfig, initializerRange: 0.5 };
const oneHead: RobertaConfig = { ...tinyTestConfig, width: 8, heads: 1, headDim: 8, intermediate: 12, vocabSize: 30, maxPositions: 20, initializerRange: 0.5 };
const configs: [string, RobertaConfig][] = [['D24 H3 F40', awkward], ['D8 H1 F12', oneHead]];

/** Random weights in [−s, s] (s = initializerRange), norm scales around 1, non-zero biases everywhere. */
function hostParams(cfg: RobertaConfig, seed: number, heads: { mlm: boolean; classes?: number } = { mlm: true }): HostParams {
  const out: HostParams = new Map();
  let n = 0;
  for (const [, [hf, shape]] of hfNames(cfg, heads)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isNormScale = /(LayerNorm|layer_norm)\.weight$/.test(hf);
    const s = isNormScale ? 0.3 : cfg.initializerRange;
    const data = Float32Array.from(seededValues(size, seed * 1000 + n++, isNormScale ? 1 - s : -s, isNormScale ? 1 + s : s));
    out.set(hf, { dtype: 'f32', shape: [...shape], data });
  }
  return out;
}

/** A copy of the host parameters with `edit` applied to one tensor's data (a row-major [rows, cols] view). */
function edited(p: HostParams, name: string, edit: (data: Float32Array, cols: number) => void): HostParams {
  const out: HostParams = new Map([...p].map(([k, v]) => [k, { ...v, data: Float32Array.from(v.data as Float32Array) } as StArray]));
  const t = out.get(name);
  if (t === undefined) throw new Error(`no tensor ${name}`);
  edit(t.data as Float32Array, t.shape.length === 2 ? t.shape[1] : 1);
  return out;
}
const zeroColumns = (from: number, to: number) => (d: Float32Array, cols: number) => { for (let i = 0; i < d.length; i++) if (i % cols >= from && i % cols < to) d[i] = 0; };
const scaleRow = (row: number, g: number) => (d: Float32Array, cols: number) => { for (let c = 0; c < cols; c++) d[row * cols + c] *= g; };

const layerName = (l: number, sub: string) => `roberta.encoder.layer.${l}.${sub}`;

interface GateValues { head: number[][]; intermediate: number[][]; output: number[][] }
const onesValues = (cfg: RobertaConfig): GateValues => ({
  head: Array.from({ length: cfg.layers }, () => new Array<number>(cfg.heads).fill(1)),
  intermediate: Array.from({ length: cfg.layers }, () => new Array<number>(cfg.intermediate).fill(1)),
  output: Array.from({ length: cfg.layers }, () => new Array<number>(cfg.width).fill(1)),
});
const gatesOn = (g: GateValues, be: Backend): Gates =>
  g.head.map((_, l) => ({ head: fromArray(g.head[l], undefined, { backend: be }), intermediate: fromArray(g.intermediate[l], undefined, { backend: be }), output: fromArray(g.output[l], undefined, { backend: be }) }));

interface RunOptions { gates?: GateValues; dropout?: number }

/** Last hidden states [B, T, D] and the MLM loss of the batch, read back to the host. */
async function forward(cfg: RobertaConfig, host: HostParams, hb: HostBatch, be: Backend, o: RunOptions = {}): Promise<{ z: Float32Array; loss: number }> {
  const p = paramsFromHf(cfg, host, be);
  if (E.isLeft(p)) throw p.left;
  const params: Params = p.right;
  const batch = toDevice(cfg, hb, be);
  const gates = o.gates && gatesOn(o.gates, be);
  const targets = mlmTargets(hb, be);
  const dropout: DropoutSource | undefined = o.dropout === undefined ? undefined : { key: key(o.dropout) };
  const [z, loss] = tidy(() => [encode(cfg, params, batch, { gates, dropout }), mlmLoss(cfg, params, batch, targets, { gates, dropout })]);
  const out = { z: Float32Array.from(await read(z)), loss: (await read(loss))[0] };
  release(z, loss, params, batch, gates, targets);
  return out;
}

/** Bitwise equal f32 on the CPU (same ops in the same order), within `gpuTol` on WebGPU. */
function expectSame(be: Backend, got: ArrayLike<number>, want: ArrayLike<number>, gpuTol = 1e-6): void {
  if (be.name === 'cpu') {
    expect(got.length).toBe(want.length);
    const g = new Uint32Array(Float32Array.from(got).buffer), w = new Uint32Array(Float32Array.from(want).buffer);
    for (let i = 0; i < g.length; i++) {
      if (g[i] !== w[i]) expect.fail(`element ${i}: got ${got[i]} (0x${g[i].toString(16)}), expected bitwise ${want[i]} (0x${w[i].toString(16)})`);
    }
  } else expectAllClose(got, want, { rtol: gpuTol, atol: gpuTol });
}

/** The edit must matter: otherwise an equality test proves nothing. */
function expectDifferent(a: ArrayLike<number>, b: ArrayLike<number>, atLeast = 1e-3): void {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeGreaterThan(atLeast);
}

/** B sequences of real (non-pad) tokens, every position labelled with a non-pad id. */
function hostBatch(cfg: RobertaConfig, B: number, T: number, seed: number): HostBatch {
  const ids = Int32Array.from(seededValues(B * T, seed, 0, 1), (u) => nonPad(cfg, u));
  const labels = Int32Array.from(seededValues(B * T, seed + 1, 0, 1), (u, i) => (i % 3 === 1 ? IGNORE : nonPad(cfg, u)));
  return { B, T, ids, labels };
}
/** u ∈ [0, 1) → a token id other than padId. */
const nonPad = (cfg: RobertaConfig, u: number): number => { const id = Math.floor(u * (cfg.vocabSize - 1)); return id >= cfg.padId ? id + 1 : id; };

/** Rows of `x` [B, T, D] restricted to positions [from, from + n) of row b. */
const rowSlice = (x: Float32Array, T: number, D: number, b: number, from: number, n: number): Float32Array => x.slice((b * T + from) * D, (b * T + from + n) * D);

describe('RoBERTa metamorphic relations', () => {
  for (const be of backends) {
    for (const [label, cfg] of configs) {
      const host = hostParams(cfg, 11);
      const hb = hostBatch(cfg, 2, 5, 3);
      const Dh = cfg.headDim;

      it(`${be.name} ${label}: gates of ones give the ungated hidden states and MLM loss`, async () => {
        const plain = await forward(cfg, host, hb, be);
        const gated = await forward(cfg, host, hb, be, { gates: onesValues(cfg) });
        expectSame(be, gated.z, plain.z);
        expectSame(be, [gated.loss], [plain.loss]);
        const plainDrop = await forward(cfg, host, hb, be, { dropout: 5 });
        const gatedDrop = await forward(cfg, host, hb, be, { gates: onesValues(cfg), dropout: 5 });
        expectSame(be, gatedDrop.z, plainDrop.z);
        expectSame(be, [gatedDrop.loss], [plainDrop.loss]);
      });

      it(`${be.name} ${label}: a zero head gate equals zeroing that head's columns of W_O`, async () => {
        const plain = await forward(cfg, host, hb, be);
        for (let l = 0; l < cfg.layers; l++) {
          for (let h = 0; h < cfg.heads; h++) {
            const g = onesValues(cfg);
            g.head[l][h] = 0;
            const gated = await forward(cfg, host, hb, be, { gates: g });
            const cut = await forward(cfg, edited(host, layerName(l, 'attention.output.dense.weight'), zeroColumns(h * Dh, (h + 1) * Dh)), hb, be);
            expectSame(be, gated.z, cut.z);
            expectSame(be, [gated.loss], [cut.loss]);
            expectDifferent(gated.z, plain.z);
          }
        }
      });

      it(`${be.name} ${label}: under attention dropout, a zero head gate equals zero W_O columns and a gate of 0.5 equals halving them (same key)`, async () => {
        const g = onesValues(cfg);
        g.head[cfg.layers - 1][0] = 0;
        const gated = await forward(cfg, host, hb, be, { gates: g, dropout: 9 });
        const cut = await forward(cfg, edited(host, layerName(cfg.layers - 1, 'attention.output.dense.weight'), zeroColumns(0, Dh)), hb, be, { dropout: 9 });
        expectSame(be, gated.z, cut.z);
        // A power-of-two head gate is exact in f32: it equals scaling the head's columns of W_O.
        g.head[cfg.layers - 1][0] = 0.5;
        const halved = await forward(cfg, host, hb, be, { gates: g, dropout: 9 });
        const scaled = await forward(cfg, edited(host, layerName(cfg.layers - 1, 'attention.output.dense.weight'), (d, cols) => {
          for (let i = 0; i < d.length; i++) if (i % cols < Dh) d[i] *= 0.5;
        }), hb, be, { dropout: 9 });
        expectAllClose(halved.z, scaled.z, { rtol: 1e-5, atol: 1e-5 });
      });

      it(`${be.name} ${label}: an intermediate gate multiplies the pre-GELU value`, async () => {
        const plain = await forward(cfg, host, hb, be);
        const l = cfg.layers - 1, j = cfg.intermediate - 1;
        const g = onesValues(cfg);
        g.intermediate[l][j] = 0;
        const gated = await forward(cfg, host, hb, be, { gates: g });
        const cut = await forward(cfg, edited(edited(host, layerName(l, 'intermediate.dense.weight'), scaleRow(j, 0)), layerName(l, 'intermediate.dense.bias'), scaleRow(j, 0)), hb, be);
        expectSame(be, gated.z, cut.z);
        expectSame(be, [gated.loss], [cut.loss]);
        expectDifferent(gated.z, plain.z, 1e-4);
        // g = 2 on every neuron of layer 0 equals doubling W_I and b_I (exact in f32); a gate after the
        // GELU would give 2·GELU(u) instead of GELU(2u).
        const g2 = onesValues(cfg);
        g2.intermediate[0].fill(2);
        const doubled = await forward(cfg, host, hb, be, { gates: g2 });
        let scaled = host;
        for (let r = 0; r < cfg.intermediate; r++) {
          scaled = edited(scaled, layerName(0, 'intermediate.dense.weight'), scaleRow(r, 2));
          scaled = edited(scaled, layerName(0, 'intermediate.dense.bias'), scaleRow(r, 2));
        }
        const viaWeights = await forward(cfg, scaled, hb, be);
        expectSame(be, doubled.z, viaWeights.z);
        expectDifferent(doubled.z, plain.z);
      });

      it(`${be.name} ${label}: an output gate of 0 on unit d equals zeroing row d of the FFN output dense, before dropout and residual`, async () => {
        const plain = await forward(cfg, host, hb, be);
        for (const [l, d] of [[0, 0], [cfg.layers - 1, cfg.width - 1]]) {
          const g = onesValues(cfg);
          g.output[l][d] = 0;
          const cutHost = edited(edited(host, layerName(l, 'output.dense.weight'), scaleRow(d, 0)), layerName(l, 'output.dense.bias'), scaleRow(d, 0));
          for (const dropout of [undefined, 4]) {
            const gated = await forward(cfg, host, hb, be, { gates: g, dropout });
            const cut = await forward(cfg, cutHost, hb, be, { dropout });
            expectSame(be, gated.z, cut.z);
            expectSame(be, [gated.loss], [cut.loss]);
          }
          expectDifferent((await forward(cfg, host, hb, be, { gates: g })).z, plain.z, 1e-4);
        }
      });

      it(`${be.name} ${label}: right padding does not change the real tokens' hidden states or the MLM loss`, async () => {
        const n = 4, pads = 3;
        const alone = hostBatch(cfg, 1, n, 21);
        const ids = Int32Array.from([...alone.ids, ...new Array<number>(pads).fill(cfg.padId)]);
        const labels = Int32Array.from([...alone.labels!, ...new Array<number>(pads).fill(IGNORE)]);
        const attention = Int32Array.from({ length: n + pads }, (_, i) => (i < n ? 1 : 0));
        const a = await forward(cfg, host, alone, be);
        const p = await forward(cfg, host, { B: 1, T: n + pads, ids, labels, attention }, be);
        expectAllClose(rowSlice(p.z, n + pads, cfg.width, 0, 0, n), a.z, { rtol: 1e-5, atol: 1e-5 });
        expect(p.loss).toBeCloseTo(a.loss, 5);
      });

      it(`${be.name} ${label}: left padding keeps the real tokens' positions and hidden states`, async () => {
        const n = 4, pads = 2;
        const alone = hostBatch(cfg, 1, n, 22);
        const ids = Int32Array.from([...new Array<number>(pads).fill(cfg.padId), ...alone.ids]);
        const a = await forward(cfg, host, alone, be);
        const p = await forward(cfg, host, { B: 1, T: n + pads, ids }, be); // attention from ids: 0 on pads
        expectAllClose(rowSlice(p.z, n + pads, cfg.width, 0, pads, n), a.z, { rtol: 1e-5, atol: 1e-5 });
      });

      it(`${be.name} ${label}: sequences of a right-padded batch do not see each other`, async () => {
        const T = 5, lengths = [5, 2, 3];
        const rows = lengths.map((n, b) => hostBatch(cfg, 1, n, 40 + b));
        const ids = new Int32Array(lengths.length * T).fill(cfg.padId);
        rows.forEach((r, b) => ids.set(r.ids, b * T));
        const batched = await forward(cfg, host, { B: lengths.length, T, ids }, be);
        for (const [b, r] of rows.entries()) {
          const alone = await forward(cfg, host, { ...r, labels: undefined }, be);
          expectAllClose(rowSlice(batched.z, T, cfg.width, b, 0, r.T), alone.z, { rtol: 1e-5, atol: 1e-5 });
        }
      });

      it(`${be.name} ${label}: dropout with a fixed key is deterministic and changes with the key`, async () => {
        const plain = await forward(cfg, host, hb, be);
        const a = await forward(cfg, host, hb, be, { dropout: 1 });
        const again = await forward(cfg, host, hb, be, { dropout: 1 });
        const other = await forward(cfg, host, hb, be, { dropout: 2 });
        expectSame(be, again.z, a.z, 0);
        expect(again.loss).toBe(a.loss);
        expectDifferent(a.z, other.z);
        expectDifferent(a.z, plain.z);
        expect(other.loss).not.toBe(a.loss);
      });
    }
  }

  if (backends.length > 1) {
    it('cpu and webgpu drop the same elements for the same key', async () => {
      const host = hostParams(awkward, 11);
      const hb = hostBatch(awkward, 2, 5, 3);
      const [c, g] = await Promise.all(backends.map((be) => forward(awkward, host, hb, be, { dropout: 77 })));
      expectAllClose(g.z, c.z, { rtol: 1e-4, atol: 1e-4 });
      expect(g.loss).toBeCloseTo(c.loss, 4);
    });
  }
});

// ---- properties over random tiny configs and batches ---------------------------------------------

const arbCase = fc
  .record({
    heads: fc.integer({ min: 1, max: 3 }),
    headDim: fc.constantFrom(2, 4, 8),
    layers: fc.integer({ min: 1, max: 2 }),
    intermediate: fc.integer({ min: 1, max: 20 }),
    vocabSize: fc.integer({ min: 3, max: 30 }),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
    B: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 6 }),
    layer: fc.nat(),
    head: fc.nat(),
    dropout: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  })
  .chain((c) => fc.array(fc.integer({ min: 1, max: c.T }), { minLength: c.B, maxLength: c.B }).map((lengths) => ({ ...c, lengths })))
  .map((c) => {
    const cfg: RobertaConfig = {
      ...tinyTestConfig, heads: c.heads, headDim: c.headDim, width: c.heads * c.headDim, layers: c.layers,
      intermediate: c.intermediate, vocabSize: c.vocabSize, maxPositions: c.T + 2, initializerRange: 0.5,
    };
    const full = hostBatch(cfg, c.B, c.T, c.seed);
    const ids = full.ids.map((id, i) => (i % c.T < c.lengths[i / c.T | 0] ? id : cfg.padId));
    const labels = full.labels!.map((y, i) => (ids[i] === cfg.padId ? IGNORE : y));
    return { cfg, hb: { B: c.B, T: c.T, ids, labels } as HostBatch, lengths: c.lengths, seed: c.seed, layer: c.layer % c.layers, head: c.head % c.heads, dropout: c.dropout };
  });

describe('RoBERTa metamorphic properties over random tiny models', () => {
  for (const be of backends) {
    const runs = be.name === 'cpu' ? 25 : 8;

    it(`${be.name}: ones gates are the plain model and a zero head gate removes that head's context`, async () => {
      await fc.assert(
        fc.asyncProperty(arbCase, async ({ cfg, hb, seed, layer, head, dropout }) => {
          const host = hostParams(cfg, seed);
          const plain = await forward(cfg, host, hb, be, { dropout });
          expectSame(be, (await forward(cfg, host, hb, be, { gates: onesValues(cfg), dropout })).z, plain.z);
          const g = onesValues(cfg);
          g.head[layer][head] = 0;
          const gated = await forward(cfg, host, hb, be, { gates: g, dropout });
          const cut = await forward(cfg, edited(host, layerName(layer, 'attention.output.dense.weight'), zeroColumns(head * cfg.headDim, (head + 1) * cfg.headDim)), hb, be, { dropout });
          expectSame(be, gated.z, cut.z);
          expectSame(be, [gated.loss], [cut.loss]);
        }),
        { numRuns: runs },
      );
    });

    it(`${be.name}: each row's real tokens are unaffected by padding and by the other rows`, async () => {
      await fc.assert(
        fc.asyncProperty(arbCase, async ({ cfg, hb, lengths, seed }) => {
          const host = hostParams(cfg, seed);
          const batched = await forward(cfg, host, { ...hb, labels: undefined }, be);
          for (const [b, n] of lengths.entries()) {
            const alone = await forward(cfg, host, { B: 1, T: n, ids: hb.ids.slice(b * hb.T, b * hb.T + n) }, be);
            expectAllClose(rowSlice(batched.z, hb.T, cfg.width, b, 0, n), alone.z, { rtol: 1e-5, atol: 1e-5 });
          }
        }),
        { numRuns: runs },
      );
    });
  }
});
