// The fused model (linear epilogues, packed q·k·v with one-dispatch attention, add + layer norm) equals
// the plain composition of ops (`fused: false`, the reference) to f32 rounding: loss, hidden states and
// every gradient, with padding, with library-RNG dropout (the same bits) and with gates.
import { describe, expect, it } from 'vitest';
import { type Backend, type Tensor, add, fromArray, key, randomNormal, read, release, scalarOp, tidy, valueAndGrad } from '../../src/index.js';
import { type RobertaConfig, smallConfig, tinyTestConfig } from '../../src/nn/config.js';
import { type Gates, type Params, initParams } from '../../src/nn/params.js';
import { type ForwardOptions, encode } from '../../src/nn/roberta.js';
import { type HostBatch, mlmLoss, mlmTargets, toDevice } from '../../src/nn/mlm.js';
import { treeLeavesWithPaths, treeMap } from '../../src/tensor/tree.js';
import { backends, gpu } from '../support/devices.js';
import { expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

/** Parameters with non-zero biases and norm offsets everywhere (initParams zeroes them). */
function params(cfg: RobertaConfig, be: Backend): Params {
  const p = initParams(cfg, key(3), be, { mlm: true });
  let n = 0;
  const q = treeMap(p, (t) => add(t, randomNormal(key(100 + n++), t.shape, { std: 0.05, backend: be })));
  release(p);
  return q;
}

function batch(cfg: RobertaConfig, B: number, T: number): HostBatch {
  const ids = Int32Array.from(seededValues(B * T, 5, 3, cfg.vocabSize - 1), Math.floor);
  for (let b = 1; b < B; b += 2) for (let t = T - 3; t < T; t++) ids[b * T + t] = cfg.padId; // padding at the end of odd rows
  const labels = Int32Array.from(ids, (v, i) => (i % 5 === 1 && v !== cfg.padId ? (v * 7) % cfg.vocabSize : -100));
  return { B, T, ids, labels };
}

const gatesFor = (cfg: RobertaConfig, be: Backend, B: number, perExample: boolean): Gates =>
  Array.from({ length: cfg.layers }, (_, l) => ({
    head: fromArray(seededValues(perExample ? B * cfg.heads : cfg.heads, 10 + l, 0.3, 1.3), perExample ? [B, cfg.heads] : [cfg.heads], { backend: be }),
    intermediate: fromArray(seededValues(cfg.intermediate, 20 + l, 0.3, 1.3), [cfg.intermediate], { backend: be }),
    output: fromArray(seededValues(cfg.width, 30 + l, 0.3, 1.3), [cfg.width], { backend: be }),
  }));

interface Variant { name: string; dropout: boolean; gates: 'none' | 'heads' | 'batch' }
const variants: Variant[] = [
  { name: 'plain', dropout: false, gates: 'none' },
  { name: 'dropout (library RNG)', dropout: true, gates: 'none' },
  { name: 'gates [H] with dropout', dropout: true, gates: 'heads' },
  { name: 'per-example gates [B, H]', dropout: false, gates: 'batch' },
];

/** Loss, hidden states and every gradient (parameters, then gates) as host arrays with their paths. */
async function run(cfg: RobertaConfig, be: Backend, hb: HostBatch, v: Variant, fused: boolean): Promise<[string, Float32Array | Float64Array | Int32Array][]> {
  const p = params(cfg, be), b = toDevice(cfg, hb, be), t = mlmTargets(hb, be);
  const gates = v.gates === 'none' ? undefined : gatesFor(cfg, be, hb.B, v.gates === 'batch');
  const o = (g?: Gates): ForwardOptions => ({ fused, gates: g, ...(v.dropout ? { dropout: { key: key(42) } } : {}) });
  const [z, loss, gr] = tidy(() => {
    const z = encode(cfg, p, b, o(gates));
    const [loss, gr] = valueAndGrad((a: { params: Params; gates?: Gates }) => mlmLoss(cfg, a.params, b, t, o(a.gates)), gates ? ['params', 'gates'] : ['params'])({ params: p, gates });
    return [z, loss, gr] as [Tensor, Tensor, { params: Params; gates?: Gates }];
  });
  const out: [string, Float32Array | Float64Array | Int32Array][] = [['loss', await read(loss)], ['hidden', await read(z)]];
  for (const [path, g] of treeLeavesWithPaths(gr)) out.push([path, await read(g)]);
  release(p, b, t, gates, z, loss, gr);
  return out;
}

const configs: [string, RobertaConfig, number, number][] = [
  ['tiny (D 24, H 3, Dh 8, F 40)', { ...tinyTestConfig, initializerRange: 0.2, hiddenDropout: 0.1, attentionDropout: 0.2 }, 3, 13],
  ['bench-like (D 128, H 4, Dh 32, F 512)', { ...smallConfig(300), initializerRange: 0.05 }, 4, 64],
];

describe('fused RoBERTa equals the unfused composition', () => {
  for (const be of backends) {
    for (const [cname, cfg, B, T] of configs) {
      for (const v of variants) {
        it(`${be.name} ${cname}, ${v.name}: loss, hidden states and all gradients agree to f32 rounding`, async () => {
          const hb = batch(cfg, B, T);
          const fused = await run(cfg, be, hb, v, true), plain = await run(cfg, be, hb, v, false);
          expect(fused.map(([k]) => k)).toEqual(plain.map(([k]) => k));
          fused.forEach(([k, a], i) => {
            try {
              // key biases have an exactly-zero true gradient (softmax ignores a per-query constant): both are rounding noise
              if (k.endsWith('key.bias')) expectAllClose(a, plain[i][1], { rtol: 0, atol: 1e-7 });
              else expectCloseToScale(a, plain[i][1], 2e-5);
            } catch (e) { throw new Error(`${k}: ${(e as Error).message}`); }
          });
        });
      }
    }
  }

  it.skipIf(!gpu)('a training step of the fused model records fewer dispatches than the unfused one', async () => {
    const cfg = { ...smallConfig(300), initializerRange: 0.05 }, hb = batch(cfg, 2, 16);
    const count = async (fused: boolean) => {
      const p = params(cfg, gpu!), b = toDevice(cfg, hb, gpu!), t = mlmTargets(hb, gpu!);
      const d0 = gpu!.counters.dispatches;
      const r = tidy(() => valueAndGrad((a: { params: Params }) => scalarOp('mul', mlmLoss(cfg, a.params, b, t, { fused, dropout: { key: key(1) } }), 1), ['params'])({ params: p }));
      const n = gpu!.counters.dispatches - d0;
      release(p, b, t, r);
      return n;
    };
    const [f, u] = [await count(true), await count(false)];
    expect(f).toBeLessThan(u * 0.8);
  });
});
