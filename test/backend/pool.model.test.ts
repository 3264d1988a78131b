// Model-based test of the buffer pool: it never hands out a live buffer and counts bytes exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferPool, roundBytes } from '../../src/backend/webgpu/pool.js';

interface Fake { id: number; bytes: number; destroyed: boolean }
interface Model { live: Map<Fake, number> }
interface Real { pool: BufferPool<Fake>; held: Fake[]; all: Fake[] }

class Acquire implements fc.Command<Model, Real> {
  constructor(readonly bytes: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const b = r.pool.acquire(this.bytes);
    expect(b.destroyed).toBe(false);
    expect(m.live.has(b)).toBe(false); // never a live buffer
    expect(b.bytes).toBe(roundBytes(this.bytes));
    m.live.set(b, b.bytes);
    r.held.push(b);
    expect(r.pool.stats().liveBytes).toBe([...m.live.values()].reduce((a, x) => a + x, 0));
  }
  toString = (): string => `Acquire(${this.bytes})`;
}

class Release implements fc.Command<Model, Real> {
  constructor(readonly k: number) {}
  check = (m: Model): boolean => m.live.size > 0;
  run(m: Model, r: Real): void {
    const [b] = r.held.splice(this.k % r.held.length, 1);
    r.pool.release(b);
    m.live.delete(b);
    expect(r.pool.stats().liveBuffers).toBe(m.live.size);
    expect(() => r.pool.release(b)).toThrow(/not live/);
  }
  toString = (): string => `Release(${this.k})`;
}

class Trim implements fc.Command<Model, Real> {
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.pool.trim();
    const s = r.pool.stats();
    expect(s.pooledBuffers).toBe(0);
    expect(s.pooledBytes).toBe(0);
    for (const b of m.live.keys()) expect(b.destroyed).toBe(false);
  }
  toString = (): string => 'Trim';
}

const fresh = (): Real => {
  const all: Fake[] = [];
  let id = 0;
  const pool = new BufferPool<Fake>((bytes) => { const f = { id: id++, bytes, destroyed: false }; all.push(f); return f; }, (f) => { f.destroyed = true; }, 3);
  return { pool, held: [], all };
};

describe('BufferPool', () => {
  it('never aliases a live buffer, counts bytes exactly, destroys only free buffers', () => {
    const commands = fc.commands([
      fc.constantFrom(4, 16, 64, 100, 1000).map((b) => new Acquire(b)),
      fc.integer({ min: 1, max: 4096 }).map((b) => new Acquire(b)),
      fc.nat().map((k) => new Release(k)),
      fc.constant(new Trim()),
    ], { size: '+1' });
    fc.assert(fc.property(commands, (cmds) => {
      fc.modelRun(() => ({ model: { live: new Map() }, real: fresh() }), cmds);
    }), { numRuns: 200 });
  });

  it('reuses a released buffer of the same size instead of creating one', () => {
    const r = fresh();
    const a = r.pool.acquire(256);
    r.pool.release(a);
    expect(r.pool.acquire(250)).toBe(a);
    expect(r.pool.stats().created).toBe(1);
  });
});
