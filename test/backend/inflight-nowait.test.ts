// Where the backend cannot wait for the GPU from synchronous code (here: Dawn's event pump made to fail),
// recording past the bound throws a clear error at an op boundary instead of handing the driver more, and
// the backend works again once the caller awaits. Likewise for bind groups created while the event loop
// does not run.
import { describe, expect, it, vi } from 'vitest';
import { type Tensor, add, fromArray, release, toArray } from '../../src/index.js';
import { gpu } from '../support/devices.js';

vi.mock('../../src/backend/webgpu/dawn-node.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/backend/webgpu/dawn-node.js')>()),
  pumpEvents: () => false,
}));

describe.skipIf(!gpu)('work in flight when the backend cannot wait', () => {
  it('throws a clear error past maxDispatchesInFlight; an await clears it and results stay exact', async () => {
    const be = gpu!;
    const x = fromArray(new Array(16).fill(0), [16], { backend: be });
    await be.sync();
    let y: Tensor = x;
    let n = 0;
    const chain = (count: number) => {
      for (let i = 0; i < count; i++) {
        const z = add(y, 1);
        if (y !== x) y.dispose();
        y = z;
        n++;
      }
    };
    expect(() => chain(3 * be.maxDispatchesInFlight)).toThrow(/submitted but not known to be complete.*await backend\.sync\(\)/s);
    expect(n).toBeGreaterThan(be.maxDispatchesInFlight);
    expect(n).toBeLessThanOrEqual(be.maxDispatchesInFlight + be.maxDispatchesPerSubmit + 1);
    await be.sync(); // the event loop runs: everything submitted is known complete
    expect(be.stats().dispatchesInFlight).toBe(0);
    chain(100);
    const out = await toArray(y);
    expect(out.every((v) => v === n)).toBe(true);
    release(x, y);
  }, 120_000);

  it('throws a clear error past maxBindGroupsPerTurn; the next event-loop turn clears it', async () => {
    const be = gpu!;
    await be.sync();
    const saved = be.maxBindGroupsPerTurn;
    be.maxBindGroupsPerTurn = 40;
    const held: Tensor[] = [];
    try {
      // Every op binds a fresh buffer (all are kept live), so each needs a new bind group.
      const grow = (count: number) => {
        for (let i = 0; i < count; i++) { const a = fromArray([i], [1], { backend: be }); held.push(a, add(a, 1)); }
      };
      expect(() => grow(200)).toThrow(/bind groups were created while the event loop did not run/);
      await new Promise((r) => setImmediate(r));
      grow(10);
      await be.sync();
    } finally {
      be.maxBindGroupsPerTurn = saved;
      release(held);
    }
  }, 120_000);
});
