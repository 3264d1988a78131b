// Composite functions against PyTorch (test/fixtures/gen_composite.py) and against central
// differences: an MLP, an attention block with a padding mask, layer norm + cross-entropy.
import { describe, expect, it } from 'vitest';
import {
  type Backend, type Tensor, add, crossEntropy, fromArray, gelu, layerNorm, linear, matmul, mean, mul, permute, read, release, reshape,
  scalarOp, softmax, square, sub, sum, valueAndGrad,
} from '../../src/index.js';
import { backends, cpuBackend } from '../support/devices.js';
import { loadFixture, type Fixture } from '../support/fixtures.js';
import { checkVjp, expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

const T = (fx: Fixture, name: string, be: Backend, dtype: 'f32' | 'i32' = 'f32'): Tensor => {
  const t = fx.get(name);
  return fromArray(t.data, t.shape, { backend: be, dtype });
};

type Lin = { weight: Tensor; bias: Tensor };
const lin = (fx: Fixture, name: string, be: Backend): Lin => ({ weight: T(fx, `${name}.weight`, be), bias: T(fx, `${name}.bias`, be) });

const mlp = (p: { fc1: Lin; fc2: Lin; x: Tensor }, target: Tensor) =>
  mean(square(sub(linear(gelu(linear(p.x, p.fc1.weight, p.fc1.bias)), p.fc2.weight, p.fc2.bias), target)));

/** 3-head self-attention with an additive key mask; x [B, T, D]. */
function attention(p: { query: Lin; key: Lin; value: Lin; output: Lin; x: Tensor }, maskBias: Tensor, heads: number): Tensor {
  const [B, Tn, D] = p.x.shape;
  const dh = D / heads;
  const split = (l: Lin) => permute(reshape(linear(p.x, l.weight, l.bias), [B, Tn, heads, dh]), [0, 2, 1, 3]);
  const s = add(scalarOp('mul', matmul(split(p.query), split(p.key), { transB: true }), 1 / Math.sqrt(dh)), maskBias);
  const ctx = reshape(permute(matmul(softmax(s), split(p.value)), [0, 2, 1, 3]), [B, Tn, D]);
  return linear(ctx, p.output.weight, p.output.bias);
}

async function expectGrads(fx: Fixture, grads: Record<string, unknown>, prefix = ''): Promise<void> {
  for (const [k, v] of Object.entries(grads)) {
    const name = prefix ? `${prefix}.${k}` : k;
    // the key bias has an exactly-zero true gradient (softmax ignores a per-query constant)
    if (name === 'key.bias') expectAllClose(await read(v as Tensor), fx.get(`grad.${name}`).data, { rtol: 0, atol: 1e-5 });
    else if (v && typeof v === 'object' && 'shape' in v) expectCloseToScale(await read(v as Tensor), fx.get(`grad.${name}`).data, 1e-4);
    else await expectGrads(fx, v as Record<string, unknown>, name);
  }
}

describe('composite functions match PyTorch', () => {
  for (const be of backends) {
    it(`${be.name}: MLP with exact GELU and MSE`, async () => {
      const fx = await loadFixture('composite-mlp.safetensors');
      const p = { fc1: lin(fx, 'fc1', be), fc2: lin(fx, 'fc2', be), x: T(fx, 'in.x', be) };
      const target = T(fx, 'in.target', be);
      const [loss, g] = valueAndGrad((a: { p: typeof p }) => mlp(a.p, target), ['p'])({ p });
      expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 5);
      await expectGrads(fx, g.p);
      release(loss, g, p, target);
    });

    it(`${be.name}: attention block with a padding mask`, async () => {
      const fx = await loadFixture('composite-attention.safetensors');
      const p = { query: lin(fx, 'query', be), key: lin(fx, 'key', be), value: lin(fx, 'value', be), output: lin(fx, 'output', be), x: T(fx, 'in.x', be) };
      const m = fx.get('in.attention_mask');
      const maskBias = fromArray(Array.from(m.data, (v) => (v ? 0 : -10000)), [m.shape[0], 1, 1, m.shape[1]], { backend: be });
      const ct = T(fx, 'in.cotangent', be);
      const [loss, g] = valueAndGrad((a: { p: typeof p }) => sum(mul(attention(a.p, maskBias, 3), ct)), ['p'])({ p });
      expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 4);
      await expectGrads(fx, g.p);
      release(loss, g, p, maskBias, ct);
    });

    it(`${be.name}: layer norm + linear + cross-entropy with ignored labels`, async () => {
      const fx = await loadFixture('composite-lnce.safetensors');
      const p = { ln: lin(fx, 'ln', be), linear: lin(fx, 'linear', be), x: T(fx, 'in.x', be) };
      const labels = T(fx, 'in.labels', be, 'i32');
      const f = (a: { p: typeof p }) => crossEntropy(linear(layerNorm(a.p.x, a.p.ln.weight, a.p.ln.bias), a.p.linear.weight, a.p.linear.bias), labels);
      const [loss, g] = valueAndGrad(f, ['p'])({ p });
      expect((await read(loss))[0]).toBeCloseTo(fx.get('out.loss').data[0], 5);
      await expectGrads(fx, g.p);
      release(loss, g, p, labels);
    });
  }

  it('the same composites agree with central differences in f64', () => {
    const mask = fromArray([0, 0, 0, -10000, -10000, 0, 0, 0, 0, 0], [2, 1, 1, 5], { dtype: 'f64', backend: cpuBackend });
    const shapes = [[2, 5, 8], [8, 8], [8], [8, 8], [8], [8, 8], [8], [8, 8], [8]];
    const inputs = shapes.map((shape, i) => ({ shape, values: seededValues(shape.reduce((a, b) => a * b, 1), 40 + i) }));
    checkVjp((x, qw, qb, kw, kb, vw, vb, ow, ob) => attention({ x, query: { weight: qw, bias: qb }, key: { weight: kw, bias: kb }, value: { weight: vw, bias: vb }, output: { weight: ow, bias: ob } }, mask, 2), inputs);
    checkVjp((x, w1, b1, w2, b2) => mlp({ x, fc1: { weight: w1, bias: b1 }, fc2: { weight: w2, bias: b2 } }, fromArray(seededValues(6, 3), [2, 3], { dtype: 'f64', backend: cpuBackend })),
      [[2, 4], [5, 4], [5], [3, 5], [3]].map((shape, i) => ({ shape, values: seededValues(shape.reduce((a, b) => a * b, 1), 60 + i) })));
    release(mask);
  });
});
