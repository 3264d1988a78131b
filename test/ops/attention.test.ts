import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type HostArray, type Tensor, ShapeError, attention, attentionComposed, cpu, cpuRead, fromArray, key, read, release, tidy, vjp,
} from '../../src/index.js';
import type { AttentionOptions } from '../../src/ops/attention.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { checkVjp, expectAllClose, on, seededValues } from '../support/oracle.js';

interface Case { B: number; T: number; H: number; Dh: number; seed: number; drop: number; gate: 'none' | 'heads' | 'batch'; padded: boolean }

/** qkv in [-1.5, 1.5), a mask with −10000 on the last key of odd examples (padding), gates in [0.2, 1.2). */
function data(c: Case) {
  const W = 3 * c.H * c.Dh;
  const mask = Array.from({ length: c.B * c.T }, (_, i) => (c.padded && (i / c.T | 0) % 2 === 1 && i % c.T === c.T - 1 && c.T > 1 ? -10000 : 0));
  return {
    qkv: { values: seededValues(c.B * c.T * W, c.seed, -1.5, 1.5), shape: [c.B, c.T, W] },
    mask: { values: mask, shape: [c.B, 1, 1, c.T] },
    gate: { values: seededValues(c.gate === 'batch' ? c.B * c.H : c.H, c.seed + 1, 0.2, 1.2), shape: c.gate === 'batch' ? [c.B, c.H] : [c.H] },
    g: { values: seededValues(c.B * c.T * c.H * c.Dh, c.seed + 2), shape: [c.B, c.T, c.H * c.Dh] },
  };
}

const opts = (c: Case, gate?: Tensor): AttentionOptions => ({
  heads: c.H, ...(c.drop > 0 ? { dropout: { key: key(c.seed), p: c.drop } } : {}), ...(gate ? { gate } : {}),
});

type Fn = (qkv: Tensor, mask: Tensor, o: AttentionOptions) => Tensor;

/** [ctx, dqkv, dgate?] on one backend. */
async function run(be: Backend, c: Case, f: Fn, dtype: 'f32' | 'f64' = 'f32'): Promise<HostArray[]> {
  const d = data(c);
  const qkv = on(be, d.qkv.values, d.qkv.shape, dtype), mask = on(be, d.mask.values, d.mask.shape, dtype);
  const gate = c.gate === 'none' ? undefined : on(be, d.gate.values, d.gate.shape, dtype), g = on(be, d.g.values, d.g.shape, dtype);
  const outs = tidy(() => {
    const [y, pull] = vjp((a: { qkv: Tensor; gate?: Tensor }) => f(a.qkv, mask, opts(c, a.gate)), gate ? ['qkv', 'gate'] : ['qkv'])({ qkv, gate });
    const gr = pull(g) as { qkv: Tensor; gate?: Tensor };
    return [y, gr.qkv, ...(gr.gate ? [gr.gate] : [])];
  });
  const host = await Promise.all(outs.map((t) => read(t)));
  release(outs, qkv, mask, gate, g);
  return host;
}

const arbCase = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.constantFrom(1, 2, 3, 5, 13, 17, 33, 64, 65),
  H: fc.integer({ min: 1, max: 4 }),
  Dh: fc.constantFrom(1, 3, 4, 8, 13, 32, 64, 80),
  seed: fc.nat(1000),
  drop: fc.constantFrom(0, 0, 0.1, 0.5),
  gate: fc.constantFrom('none' as const, 'heads' as const, 'batch' as const),
  padded: fc.boolean(),
});

describe('attention (fused)', () => {
  it('equals the unfused composition on the CPU in f64 (output and gradients, dropout, gates, padding)', async () => {
    await fc.assert(fc.asyncProperty(arbCase.filter((c) => c.B * c.T * c.T * c.H * c.Dh <= 200_000), async (c) => {
      const got = await run(cpuBackend, c, attention, 'f64'), want = await run(cpuBackend, c, attentionComposed, 'f64');
      got.forEach((t, i) => expectAllClose(t, want[i], { rtol: 1e-10, atol: 1e-12 }));
    }), { numRuns: 25 });
  });

  it('VJP with respect to qkv and the gates agrees with central differences (f64)', () => {
    for (const c of [
      { B: 2, T: 5, H: 2, Dh: 3, seed: 1, drop: 0, gate: 'none', padded: true },
      { B: 2, T: 4, H: 3, Dh: 2, seed: 2, drop: 0.3, gate: 'heads', padded: false },
      { B: 3, T: 3, H: 2, Dh: 4, seed: 3, drop: 0.2, gate: 'batch', padded: true },
    ] as Case[]) {
      const d = data(c);
      const mask = fromArray(d.mask.values, d.mask.shape, { backend: cpu(), dtype: 'f64' });
      if (c.gate === 'none') checkVjp((q) => attention(q, mask, opts(c)), [d.qkv]);
      else checkVjp((q, gt) => attention(q, mask, opts(c, gt)), [d.qkv, d.gate]);
      mask.dispose();
    }
  });

  it.skipIf(!gpu)('WebGPU equals the CPU reference on random shapes (awkward T and head widths, dropout, gates)', async () => {
    await fc.assert(fc.asyncProperty(arbCase.filter((c) => c.B * c.T * c.T * c.H * c.Dh <= 400_000), async (c) => {
      const want = await run(cpuBackend, c, attention), got = await run(gpu!, c, attention);
      // ctx and dqkv sum over T keys of Dh-long dot products; dgate over B·T·T of them.
      const tol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.T * c.Dh) };
      got.forEach((t, i) => expectAllClose(t, want[i], i === 2 ? { rtol: 1e-4, atol: 1e-5 * c.T * Math.sqrt(c.B * c.Dh) } : tol));
    }), { numRuns: 20 });
  });

  it.skipIf(!gpu)('on WebGPU, fused equals the unfused ops (same dropout bits) to f32 rounding', async () => {
    for (const c of [
      { B: 4, T: 64, H: 4, Dh: 32, seed: 5, drop: 0.1, gate: 'none', padded: true },
      { B: 2, T: 33, H: 3, Dh: 8, seed: 6, drop: 0.5, gate: 'heads', padded: true },
      { B: 3, T: 7, H: 2, Dh: 64, seed: 7, drop: 0, gate: 'batch', padded: false },
    ] as Case[]) {
      const fused = await run(gpu!, c, attention), plain = await run(gpu!, c, attentionComposed);
      fused.forEach((t, i) => expectAllClose(t, plain[i], { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.T * c.Dh) * (i === 2 ? c.T : 1) }));
    }
  });

  it.skipIf(!gpu)('is deterministic on WebGPU: the same inputs give the same bits', async () => {
    const c: Case = { B: 3, T: 65, H: 2, Dh: 13, seed: 9, drop: 0.1, gate: 'heads', padded: true };
    const a = await run(gpu!, c, attention), b = await run(gpu!, c, attention);
    a.forEach((t, i) => expect(Buffer.from(t.buffer).equals(Buffer.from(b[i].buffer))).toBe(true));
  });

  it('padding keys get no attention and dropout p = 0 is no dropout', () => {
    const be = cpu();
    const c: Case = { B: 2, T: 4, H: 1, Dh: 2, seed: 4, drop: 0, gate: 'none', padded: true };
    const d = data(c);
    const qkv = fromArray(d.qkv.values, d.qkv.shape, { backend: be }), mask = fromArray(d.mask.values, d.mask.shape, { backend: be });
    const v = Array.from(cpuRead(attention(qkv, mask, { heads: 1 }))), w = Array.from(cpuRead(attention(qkv, mask, { heads: 1, dropout: { key: key(1), p: 0 } })));
    expect(w).toEqual(v);
    // Example 1 cannot see its last key: its context rows are mixes of the first three values only.
    const alt = d.qkv.values.slice();
    for (let k = 0; k < 2; k++) alt[(1 * 4 + 3) * 6 + 4 + k] += 100;
    const u = Array.from(cpuRead(attention(fromArray(alt, d.qkv.shape, { backend: be }), mask, { heads: 1 })));
    expectAllClose(u.slice(8), v.slice(8), { rtol: 1e-6, atol: 1e-6 });
  });

  it('rejects a bad packing, mask or gate', () => {
    const be = cpu();
    const t = (shape: number[]) => fromArray(new Array(shape.reduce((p, q) => p * q, 1)).fill(0), shape, { backend: be });
    expect(() => attention(t([2, 3, 10]), t([2, 3]), { heads: 2 })).toThrow(/attention: qkv must be \[B, T, 3·heads·headDim\]/);
    expect(() => attention(t([2, 3, 12]), t([2, 4]), { heads: 2 })).toThrow(/additive mask \[2, 4\] must hold B·T = 6/);
    expect(() => attention(t([2, 3, 12]), t([2, 3]), { heads: 2, gate: t([3]) })).toThrow(ShapeError);
  });
});
