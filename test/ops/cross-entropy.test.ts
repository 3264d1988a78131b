import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type HostArray, type Reduction, type RowGeometry, type Tensor, ShapeError, cast, cpu, crossEntropy, fromArray, read,
  release, tidy, vjp,
} from '../../src/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { cpuBackend, gpu } from '../support/devices.js';
import { geometries, tiny, withGeometry } from '../support/row-geometry.js';
import { checkVjp, expectAllClose, on, seededValues } from '../support/oracle.js';


const IGNORE = -100;
interface Case { shape: number[]; logits: ArrayLike<number>; labels: number[] }

/** Logits in ±range, labels in [0, C) with about a quarter of the rows ignored. */
function makeCase(shape: number[], seed: number, range = 6): Case {
  const c = shape[shape.length - 1], rows = sizeOfShape(shape) / c;
  const u = seededValues(rows, seed + 1, 0, 1);
  return {
    shape,
    logits: seededValues(rows * c, seed, -range, range),
    labels: u.map((v) => (v < 0.25 ? IGNORE : Math.min(c - 1, Math.floor(((v - 0.25) / 0.75) * c)))),
  };
}

/** [loss, dlogits] for one reduction on one backend (cotangent 1, or seeded values for 'none'). */
async function lossAndGrad(be: Backend, c: Case, reduction: Reduction): Promise<HostArray[]> {
  const x = on(be, c.logits, c.shape), labels = on(be, c.labels, c.shape.slice(0, -1), 'i32');
  const outs = tidy(() => {
    const [y, pull] = vjp((a: { x: Tensor }) => crossEntropy(a.x, labels, { reduction }), ['x'])({ x });
    const ct = reduction === 'none' ? on(be, seededValues(y.size, 5), y.shape) : on(be, [1], y.shape);
    return [y, pull(ct).x];
  });
  const host = await Promise.all(outs.map((t) => read(t)));
  release(outs, x, labels);
  return host;
}

async function expectBackendsAgree(c: Case, reductions: Reduction[] = ['none', 'sum', 'mean']): Promise<void> {
  const classes = c.shape[c.shape.length - 1], rows = c.labels.length;
  for (const reduction of reductions) {
    const [wantLoss, wantGrad] = await lossAndGrad(cpuBackend, c, reduction);
    const [gotLoss, gotGrad] = await lossAndGrad(gpu!, c, reduction);
    // f32 logsumexp over C terms; 'sum' adds up to `rows` of them.
    const perRow = 2e-6 * Math.sqrt(classes) * (1 + Math.log(classes));
    expectAllClose(gotLoss, wantLoss, { rtol: 1e-5, atol: reduction === 'sum' ? perRow * Math.sqrt(rows) : perRow });
    expectAllClose(gotGrad, wantGrad, { rtol: 1e-4, atol: 1e-6 });
  }
}

describe('crossEntropy', () => {
  for (const g of geometries) {
    it.skipIf(!gpu)(`${g} per row: losses and gradients on WebGPU equal the CPU reference for every reduction`, async () => {
      await withGeometry(g, () => fc.assert(fc.asyncProperty(arbShape({ minRank: 1, maxRank: 3, maxSize: 3000 }), fc.nat(1000), async (shape, seed) => {
        await expectBackendsAgree(makeCase(shape, seed));
      }), { numRuns: 10 }));
    });
  }

  it.skipIf(!gpu)('awkward rows × classes agree with the CPU (rows 1, primes; classes 1, 3, 257, 2000)', async () => {
    for (const g of geometries) {
      await withGeometry(g, async () => {
        for (const shape of [[1, 1], [1, 2000], [7, 1], [13, 3], [31, 257], [3, 2000], [2, 5, 33]]) await expectBackendsAgree(makeCase(shape, shape[0]));
      });
    }
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups fold correctly (rows in both geometries, elements in the backward)', async () => {
    for (const g of geometries) await withGeometry(g, () => expectBackendsAgree(makeCase([70_001, 3], 3), ['none']), tiny);
    await expectBackendsAgree(makeCase([4100, 4099], 4), ['mean']); // 16.8M gradient elements > 65,535 · 256
  });

  for (const reduction of ['none', 'sum', 'mean'] as const) {
    it(`'${reduction}': VJP with respect to the logits agrees with central differences (f64)`, () => {
      fc.assert(fc.property(arbShape({ minRank: 1, maxRank: 3, maxSize: 80 }), fc.nat(1000), (shape, seed) => {
        const c = makeCase(shape, seed, 3);
        const labels = fromArray(c.labels, shape.slice(0, -1), { backend: cpu(), dtype: 'i32' });
        checkVjp((x) => crossEntropy(x, labels, { reduction }), [{ values: c.logits, shape }]);
      }), { numRuns: 15 });
    });
  }

  it('ignored rows get zero gradient; other rows get gradients summing to 0', async () => {
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const c = makeCase([40, 9], 7);
      const [, grad] = await lossAndGrad(be, c, 'mean');
      c.labels.forEach((l, r) => {
        const row = Array.from(grad.slice(r * 9, r * 9 + 9));
        if (l === IGNORE) expect(row.every((v) => v === 0)).toBe(true);
        else expect(Math.abs(row.reduce((a, v) => a + v, 0))).toBeLessThan(1e-7);
      });
    }
  });

  it('with every label ignored, the mean and the sum are 0 and the gradient is zero (PyTorch gives NaN)', async () => {
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const c = { ...makeCase([5, 4], 9), labels: new Array(5).fill(IGNORE) };
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const [loss, grad] = await lossAndGrad(be, c, reduction);
        expect(Array.from(loss).every((v) => v === 0)).toBe(true);
        expect(Array.from(grad).every((v) => v === 0)).toBe(true);
      }
    }
  });

  it('huge difference between logits ([-1000, 1000]) gives finite losses and gradients', async () => {
    const c: Case = { shape: [3, 3], logits: [-1000, 1000, 0, 1000, -1000, 999, -1000, -1000, -1000], labels: [0, 1, 2] };
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      for (const g of geometries) {
        await withGeometry(g, async () => {
          const [loss, grad] = await lossAndGrad(be, c, 'none');
          expect(Array.from(loss).concat(Array.from(grad)).every(Number.isFinite)).toBe(true);
          expectAllClose(loss, [2000, 2000.3132616875183, 1.0986122886681098], { rtol: 1e-6, atol: 1e-4 }); // ulp(1000) in f32 ≈ 6e-5
        });
      }
    }
  });

  it('uniform logits cost log C per labelled row', async () => {
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const c: Case = { shape: [4, 257], logits: new Array(4 * 257).fill(0.25), labels: [0, 256, IGNORE, 17] };
      const [mean] = await lossAndGrad(be, c, 'mean');
      const [total] = await lossAndGrad(be, c, 'sum');
      expectAllClose(mean, [Math.log(257)], { rtol: 1e-6, atol: 0 });
      expectAllClose(total, [3 * Math.log(257)], { rtol: 1e-6, atol: 0 });
    }
  });

  it('a label outside [0, C) that is not the ignore index throws on the CPU and for host-made GPU labels', () => {
    const run = (be: Backend, labels: Tensor) => tidy(() => crossEntropy(on(be, [1, 2, 3, 4, 5, 6], [2, 3]), labels));
    expect(() => run(cpu(), fromArray([0, 3], [2], { backend: cpu(), dtype: 'i32' }))).toThrow(/crossEntropy: label 3 at row 1 is outside \[0, 3\)/);
    expect(() => run(cpu(), fromArray([-1, 0], [2], { backend: cpu(), dtype: 'i32' }))).toThrow(RangeError);
    if (gpu) {
      const labels = fromArray([0, 7], [2], { backend: gpu, dtype: 'i32' });
      expect(() => run(gpu!, labels)).toThrow(/label 7 at row 1/);
      labels.dispose();
    }
  });

  it.skipIf(!gpu)('GPU labels without a host copy: an out-of-range label makes its row NaN', async () => {
    const made = on(gpu!, [0, 7, IGNORE], [3]);
    const labels = cast(made, 'i32');
    expect(labels.hostMirror).toBeUndefined();
    const loss = crossEntropy(on(gpu!, seededValues(9, 1), [3, 3]), labels, { reduction: 'none' });
    const out = await read(loss);
    expect([Number.isFinite(out[0]), Number.isNaN(out[1]), out[2]]).toEqual([true, true, 0]);
    release(made, labels, loss);
  });

  it('matches PyTorch (float64) on the composite-lnce fixture', async () => {
    const file = await readSafetensors(new URL('../fixtures/composite-lnce.safetensors', import.meta.url).pathname);
    if (file._tag === 'Left') throw new Error(file.left.message);
    const t = (name: string) => file.right.tensors.get(name)!;
    const logits = t('out.logits'), labels = t('in.labels');
    for (const be of [cpuBackend, ...(gpu ? [gpu] : [])]) {
      const loss = tidy(() => crossEntropy(on(be, logits.data, logits.shape), on(be, labels.data, labels.shape, 'i32')));
      expectAllClose(await read(loss), t('out.loss.f64').data, { rtol: 1e-6, atol: 0 });
      loss.dispose();
    }
  });

  it('rejects mismatched labels, float labels, an empty class axis and unknown reductions', () => {
    const be = cpu();
    const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend: be });
    expect(() => crossEntropy(x, fromArray([0, 1, 2], [3], { backend: be, dtype: 'i32' }))).toThrow(/labels \[3\] must be logits \[2, 3\] without the class axis/);
    expect(() => crossEntropy(x, fromArray([0, 1], [2], { backend: be }))).toThrow(/dtype f32/);
    expect(() => crossEntropy(fromArray([], [2, 0], { backend: be }), fromArray([0, 0], [2], { backend: be, dtype: 'i32' }))).toThrow(ShapeError);
    expect(() => crossEntropy(x, fromArray([0, 1], [2], { backend: be, dtype: 'i32' }), { reduction: 'avg' as Reduction })).toThrow(/unknown reduction 'avg'/);
  });
});
