// Parity with PyTorch (test/fixtures/gen_roberta.py): logits, loss and every parameter gradient on both
// backends, relative to the largest magnitude of each tensor.
import { describe, expect, it } from 'vitest';
import { type Backend, crossEntropy, fromArray, read, release, reshape, tidy, valueAndGrad } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { parseConfig } from '../../src/nn/config.js';
import { hfNames, paramsFromHf } from '../../src/io/hf-roberta.js';
import type { Gates, Params } from '../../src/nn/params.js';
import { classifierLogits, encode, mlmLogits } from '../../src/nn/roberta.js';
import { mlmLoss, mlmTargets, toDevice, type HostBatch } from '../../src/nn/mlm.js';
import { treeLeavesWithPaths } from '../../src/tensor/tree.js';
import { backends } from '../support/devices.js';
import { loadFixture, type Fixture } from '../support/fixtures.js';
import { expectAllClose, expectCloseToScale } from '../support/oracle.js';

async function setup(file: string, be: Backend) {
  const fx = await loadFixture(file);
  const cfg = parseConfig(JSON.parse(fx.metadata.config));
  if (E.isLeft(cfg)) throw cfg.left;
  const only = new Map([...fx.tensors].filter(([k]) => !/^(in|out|grad)\./.test(k)));
  const params = paramsFromHf(cfg.right, only, be);
  if (E.isLeft(params)) throw params.left;
  const ids = fx.get('in.input_ids');
  const [B, T] = ids.shape;
  const hb: HostBatch = { B, T, ids: ids.data as Int32Array, attention: fx.get('in.attention_mask').data as Int32Array, labels: fx.tensors.has('in.labels') && fx.get('in.labels').shape.length === 2 ? fx.get('in.labels').data as Int32Array : undefined };
  return { fx, cfg: cfg.right, params: params.right, hb };
}

const gatesFrom = (fx: Fixture, layers: number, be: Backend): Gates =>
  Array.from({ length: layers }, (_, l) => {
    const row = (name: string) => { const t = fx.get(name); const n = t.shape[1]; return fromArray((t.data as Float32Array).slice(l * n, (l + 1) * n), [n], { backend: be }); };
    return { head: row('in.gates.head'), intermediate: row('in.gates.intermediate'), output: row('in.gates.output') };
  });

async function compareGrads(cfg: Parameters<typeof hfNames>[0], fx: Fixture, grads: Params, classes?: number): Promise<void> {
  const names = hfNames(cfg, { mlm: classes === undefined, classes });
  for (const [path, g] of treeLeavesWithPaths(grads)) {
    const hf = names.get(path)![0];
    const want = fx.get(`grad.${hf}`).data;
    // key biases have an exactly-zero true gradient (softmax ignores a per-query constant)
    if (hf.endsWith('attention.self.key.bias')) { expectAllClose(await read(g), want, { rtol: 0, atol: 1e-6 }); continue; }
    try { expectCloseToScale(await read(g), want, 2e-4); } catch (e) { throw new Error(`${hf}: ${(e as Error).message}`); }
  }
}

describe('RoBERTa parity with PyTorch', () => {
  for (const be of backends) {
    for (const file of ['roberta-A.safetensors', 'roberta-B.safetensors']) {
      it(`${be.name} ${file}: logits, hidden states, loss and all gradients`, async () => {
        const { fx, cfg, params, hb } = await setup(file, be);
        const batch = toDevice(cfg, hb, be);
        const labels = fromArray(hb.labels!, [hb.B * hb.T], { dtype: 'i32', backend: be });
        const [z, logits] = tidy(() => { const z = encode(cfg, params, batch); return [z, mlmLogits(cfg, params.lmHead!, params.embeddings.word, z)]; });
        expectCloseToScale(await read(z), fx.get('out.last_hidden_state').data, 1e-4);
        expectCloseToScale(await read(logits), fx.get('out.logits').data, 1e-4);
        const full = (a: { params: Params }) => crossEntropy(reshape(mlmLogits(cfg, a.params.lmHead!, a.params.embeddings.word, encode(cfg, a.params, batch)), [hb.B * hb.T, cfg.vocabSize]), labels);
        const [loss, g] = valueAndGrad(full, ['params'])({ params });
        expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 4);
        await compareGrads(cfg, fx, g.params);
        // the labelled-positions-only path gives the same loss and gradients
        const t = mlmTargets(hb, be);
        const [loss2, g2] = valueAndGrad((a: { params: Params }) => mlmLoss(cfg, a.params, batch, t), ['params'])({ params });
        expect((await read(loss2))[0]).toBeCloseTo(fx.get('out.loss').data[0], 4);
        await compareGrads(cfg, fx, g2.params);
        release(z, logits, loss, g, loss2, g2, t, params, batch, labels);
      });
    }

    it(`${be.name} roberta-C: gated model, gradients with respect to the gates`, async () => {
      const { fx, cfg, params, hb } = await setup('roberta-C.safetensors', be);
      const batch = toDevice(cfg, hb, be);
      const gates = gatesFrom(fx, cfg.layers, be);
      const t = mlmTargets(hb, be);
      const [loss, g] = valueAndGrad((a: { params: Params; gates: Gates }) => mlmLoss(cfg, a.params, batch, t, { gates: a.gates }), ['params', 'gates'])({ params, gates });
      expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 4);
      await compareGrads(cfg, fx, g.params);
      for (const kind of ['head', 'intermediate', 'output'] as const) {
        const got = (await Promise.all(g.gates.map((l) => read(l[kind])))).flatMap((a) => Array.from(a));
        expectCloseToScale(got, fx.get(`grad.gates.${kind}`).data, 2e-4);
      }
      release(loss, g, t, params, batch, gates);
    });

    it(`${be.name} roberta-cls: classification head logits, loss and gradients`, async () => {
      const { fx, cfg, params, hb } = await setup('roberta-cls.safetensors', be);
      const batch = toDevice(cfg, { ...hb, labels: undefined }, be);
      const y = fx.get('in.labels');
      const labels = fromArray(y.data, [y.shape[0]], { dtype: 'i32', backend: be });
      const f = (a: { params: Params }) => crossEntropy(classifierLogits(cfg, a.params.classifier!, encode(cfg, a.params, batch)), labels);
      const logits = tidy(() => classifierLogits(cfg, params.classifier!, encode(cfg, params, batch)));
      expectCloseToScale(await read(logits), fx.get('out.logits').data, 1e-4);
      const [loss, g] = valueAndGrad(f, ['params'])({ params });
      expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 4);
      await compareGrads(cfg, fx, g.params, params.classifier!.out.weight.shape[0]);
      release(logits, loss, g, params, batch, labels);
    });
  }
});
