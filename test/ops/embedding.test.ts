import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type Tensor, ShapeError, cast, counters, cpu, cpuRead, fromArray, gather, gatherBackward, oneHot, read, sum, tidy, valueAndGrad,
} from '../../src/index.js';
import { backwardPlan } from '../../src/ops/embedding.js';
import { arbShape, sizeOfShape } from '../support/arbitraries.js';
import { backends, cpuBackend, gpu } from '../support/devices.js';
import { checkVjp, expectAllClose, runOn, seededValues } from '../support/oracle.js';

const exact = { rtol: 0, atol: 0 };
const lookup = (table: Tensor, ids: Tensor) => gather(table, ids);

/** A table [V, D] and ids of any shape drawn from [0, V) (so ids repeat whenever V is small). */
const arbLookup = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.oneof(fc.constantFrom(1, 3, 17, 64, 257), fc.integer({ min: 1, max: 40 })), arbShape({ minRank: 0, maxRank: 3, maxSize: 300 }))
  .chain(([V, D, idShape]) => fc.tuple(fc.constant(V), fc.constant(D), fc.constant(idShape),
    fc.array(fc.nat({ max: V - 1 }), { minLength: sizeOfShape(idShape), maxLength: sizeOfShape(idShape) })));

/** Runs the embedding backward on a backend and reads it back. */
async function backwardOn(be: Backend, g: ArrayLike<number>, ids: number[], idShape: number[], V: number, D: number, paddingIdx?: number): Promise<Float32Array> {
  const tg = fromArray(g, [...idShape, D], { backend: be });
  const tids = fromArray(ids, idShape, { backend: be, dtype: 'i32' });
  const out = tidy(() => gatherBackward(tg, tids, V, { paddingIdx }));
  const host = await read(out);
  out.dispose(); tg.dispose(); tids.dispose();
  return host as Float32Array;
}

describe('gather', () => {
  it.skipIf(!gpu)('WebGPU equals the CPU reference, with repeated ids and awkward D', async () => {
    await fc.assert(fc.asyncProperty(arbLookup, async ([V, D, idShape, ids]) => {
      const inputs = [{ values: seededValues(V * D, V + D), shape: [V, D] }, { values: ids, shape: idShape, dtype: 'i32' as const }];
      const want = await runOn(cpuBackend, lookup, inputs);
      const got = await runOn(gpu!, lookup, inputs);
      expect(Array.from(want.slice(0, D))).toEqual(Array.from(inputs[0].values.slice(ids[0] * D, ids[0] * D + D), Math.fround));
      expectAllClose(got, want, exact);
    }), { numRuns: 20 });
  });

  it('looks rows up into [...ids.shape, D], i32 tables included', async () => {
    for (const be of backends) {
      const y = await runOn(be, lookup, [{ values: [1, 2, 3, 4, 5, 6], shape: [3, 2] }, { values: [2, 0, 2, 1], shape: [2, 2], dtype: 'i32' }]);
      expect(Array.from(y)).toEqual([5, 6, 1, 2, 5, 6, 3, 4]);
      const z = await runOn(be, lookup, [{ values: [7, -8, 9], shape: [3, 1], dtype: 'i32' }, { values: [1, 1], shape: [2], dtype: 'i32' }]);
      expect(Array.from(z)).toEqual([-8, -8]);
    }
  });

  it('out-of-range ids throw naming the id (CPU, and GPU ids from host data)', () => {
    for (const be of backends) {
      const table = fromArray([1, 2, 3, 4], [2, 2], { backend: be });
      const ids = fromArray([0, 5, 1], [3], { backend: be, dtype: 'i32' });
      expect(() => gather(table, ids)).toThrow(/gather: id 5 at position 1 is outside the table's 2 rows/);
      const neg = fromArray([-1], [1], { backend: be, dtype: 'i32' });
      expect(() => gather(table, neg)).toThrow(ShapeError);
      table.dispose(); ids.dispose(); neg.dispose();
    }
  });

  it.skipIf(!gpu)('on the GPU, ids computed on the device that fall outside the table give zero rows', async () => {
    const table = fromArray([1, 2, 3, 4], [2, 2], { backend: gpu! });
    const f = fromArray([1, 7, -3, 0], [4], { backend: gpu! });
    const y = tidy(() => gather(table, cast(f, 'i32'))); // no host mirror: nothing to validate against
    expect(Array.from(await read(y))).toEqual([3, 4, 0, 0, 0, 0, 1, 2]);
    y.dispose(); table.dispose(); f.dispose();
  });

  it('rejects a table that is not [V, D] and non-i32 ids', () => {
    const t = fromArray([1, 2], [2], { backend: cpu() });
    const ids = fromArray([0], [1], { backend: cpu(), dtype: 'i32' });
    expect(() => gather(t, ids)).toThrow(/gather: table must be \[V, D\], got \[2\]/);
    expect(() => gather(fromArray([1, 2], [1, 2], { backend: cpu() }), fromArray([0], [1], { backend: cpu() }))).toThrow(/gather: dtype f32 of \[1\] not supported \(expected i32\)/);
  });

  it.skipIf(!gpu)('grids past 65,535 workgroups in one dimension fold correctly', async () => {
    const V = 13, D = 4096, N = 4099; // N·D = 16.8M outputs: more than 65,535 workgroups of 256
    const table = Float32Array.from({ length: V * D }, (_, i) => i);
    const ids = Array.from({ length: N }, (_, t) => (t * 7) % V);
    const y = await runOn(gpu!, lookup, [{ values: table, shape: [V, D] }, { values: ids, shape: [N], dtype: 'i32' }]);
    for (const t of [0, 1, 2047, 4000, N - 1]) {
      for (const d of [0, 1, 1000, D - 1]) expect(y[t * D + d]).toBe(ids[t] * D + d);
    }
  });

  it('VJP with respect to the table agrees with central differences', () => {
    fc.assert(fc.property(arbLookup.filter(([V, D, s]) => V * D <= 400 && sizeOfShape(s) * D <= 2000), ([V, D, idShape, idv]) => {
      const ids = fromArray(idv, idShape, { backend: cpu(), dtype: 'i32' });
      checkVjp((t) => gather(t, ids), [{ values: seededValues(V * D, 3), shape: [V, D] }]);
      ids.dispose();
    }), { numRuns: 15 });
  });
});

describe('gatherBackward', () => {
  it('the host plan sorts positions by id, stably, leaving out padding', () => {
    const { plan, unique } = backwardPlan([3, 1, 3, 0, 1, 3], 5, 0);
    expect(unique).toBe(2);
    // segment starts [0, 2, 5], then the positions of id 1, then those of id 3
    expect(Array.from(plan)).toEqual([0, 2, 5, 1, 4, 0, 2, 5]);
    expect(() => backwardPlan([0, 9], 5, -1)).toThrow(/gatherBackward: id 9 at position 1/);
  });

  it('sums the cotangent rows of each id; rows without tokens and the padding row stay zero', async () => {
    for (const be of backends) {
      const g = [1, 2, 10, 20, 100, 200, 1000, 2000];
      expect(Array.from(await backwardOn(be, g, [2, 0, 2, 3], [4], 5, 2))).toEqual([10, 20, 0, 0, 101, 202, 1000, 2000, 0, 0]);
      expect(Array.from(await backwardOn(be, g, [2, 0, 2, 3], [2, 2], 5, 2, 2))).toEqual([10, 20, 0, 0, 0, 0, 1000, 2000, 0, 0]);
      expect(Array.from(await backwardOn(be, g, [2, 0, 2, 3], [4], 5, 2, -2))).toEqual([10, 20, 0, 0, 101, 202, 0, 0, 0, 0]);
    }
  });

  it.skipIf(!gpu)('WebGPU gives the same bits as the CPU, and the same bits every run', async () => {
    await fc.assert(fc.asyncProperty(arbLookup, fc.boolean(), async ([V, D, idShape, ids], padded) => {
      const g = seededValues(ids.length * D, 99 + D, -10, 10);
      const pad = padded ? ids[0] ?? 0 : undefined;
      const want = await backwardOn(cpuBackend, g, ids, idShape, V, D, pad);
      const got = await backwardOn(gpu!, g, ids, idShape, V, D, pad);
      expectAllClose(got, want, exact);
    }), { numRuns: 20 });
    // one heavy id (a long serial segment) among many rare ones, twice
    const V = 3000, D = 96, N = 5000;
    const ids = Array.from({ length: N }, (_, t) => (t % 3 === 0 ? 7 : (t * 131) % V));
    const g = seededValues(N * D, 5, -1, 1);
    const first = await backwardOn(gpu!, g, ids, [N], V, D);
    const second = await backwardOn(gpu!, g, ids, [N], V, D);
    expect(new Uint32Array(second.buffer)).toEqual(new Uint32Array(first.buffer));
    expect(new Uint32Array(first.buffer)).toEqual(new Uint32Array((await backwardOn(cpuBackend, g, ids, [N], V, D)).buffer));
  });

  it.skipIf(!gpu)('on the GPU, ids without host data are refused with a clear message', () => {
    const g = fromArray([1, 2], [2, 1], { backend: gpu! });
    const f = fromArray([0, 1], [2], { backend: gpu! });
    tidy(() => {
      expect(() => gatherBackward(g, cast(f, 'i32'), 2)).toThrow(/gatherBackward: the WebGPU embedding backward sorts ids on the host, but ids \[2\] were not created from host data/);
    });
    g.dispose(); f.dispose();
  });

  it('rejects a cotangent that does not match the ids and an invalid paddingIdx', () => {
    const ids = fromArray([0, 1], [2], { backend: cpu(), dtype: 'i32' });
    expect(() => gatherBackward(fromArray([1, 2, 3], [3, 1], { backend: cpu() }), ids, 4)).toThrow(/gatherBackward: cotangent \[3, 1\] does not match ids \[2\] \+ \[D\]/);
    expect(() => gatherBackward(fromArray([1, 2], [2, 1], { backend: cpu() }), ids, 4, { paddingIdx: 4 })).toThrow(/paddingIdx 4 is outside/);
  });

  it('gradients flow to the table through valueAndGrad on every backend (padding row excluded)', async () => {
    for (const be of backends) {
      const table = fromArray(seededValues(12, 1), [4, 3], { backend: be });
      const ids = fromArray([1, 3, 1, 0, 1], [5], { backend: be, dtype: 'i32' });
      const [loss, grads] = valueAndGrad((a: { table: typeof table }) => sum(gather(a.table, ids, { paddingIdx: 3 })), ['table'])({ table });
      expect(Array.from(await read(grads.table))).toEqual([1, 1, 1, 3, 3, 3, 0, 0, 0, 0, 0, 0]);
      loss.dispose(); grads.table.dispose(); table.dispose(); ids.dispose();
    }
  });
});

describe('temporaries', () => {
  it('gatherBackward (with its uploaded plan) and oneHot leave only their result alive', () => {
    for (const be of backends) {
      const g = fromArray([1, 2, 3], [3, 1], { backend: be });
      const ids = fromArray([2, 0, 2], [3], { backend: be, dtype: 'i32' });
      const before = counters.liveTensors;
      const ys = [gatherBackward(g, ids, 4), oneHot(ids, 3)];
      expect(counters.liveTensors).toBe(before + 2);
      for (const t of [...ys, g, ids]) t.dispose();
    }
  });
});

describe('oneHot', () => {
  it('gives f32 rows with a 1 at each id and zero rows for ids outside [0, n)', async () => {
    for (const be of backends) {
      const y = await runOn(be, (ids) => oneHot(ids, 3), [{ values: [2, 0, 5, -1], shape: [2, 2], dtype: 'i32' }]);
      expect(y).toBeInstanceOf(Float32Array);
      expect(Array.from(y)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    expect(oneHot(fromArray([1], [1], { backend: cpu(), dtype: 'i32' }), 4).shape).toEqual([1, 4]);
    expect(() => oneHot(fromArray([1], [1], { backend: cpu() }), 4)).toThrow(/oneHot: dtype f32/);
    expect(cpuRead(oneHot(fromArray([0], [], { backend: cpu(), dtype: 'i32' }), 2))).toEqual(new Float32Array([1, 0]));
  });
});
