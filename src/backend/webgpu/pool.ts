// Buffer pool keyed by exact (rounded) byte size. Device-free: creation and destruction are injected,
// so the pool's bookkeeping is tested without a GPU (test/backend/pool.model.test.ts).

export interface PoolStats {
  liveBuffers: number;
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers ever created: flat after warm-up in a steady loop. */
  created: number;
}

export const roundBytes = (bytes: number): number => Math.max(16, Math.ceil(bytes / 16) * 16);

export class BufferPool<B> {
  private readonly free = new Map<number, B[]>();
  private readonly live = new Map<B, number>();
  private s: PoolStats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0, created: 0 };

  constructor(
    private readonly create: (bytes: number) => B,
    private readonly destroy: (b: B) => void,
    private readonly maxPerSize = 256,
  ) {}

  acquire(requested: number): B {
    const bytes = roundBytes(requested);
    const list = this.free.get(bytes);
    let b = list?.pop();
    if (b !== undefined) {
      this.s.pooledBuffers--;
      this.s.pooledBytes -= bytes;
    } else {
      b = this.create(bytes);
      this.s.created++;
    }
    this.live.set(b, bytes);
    this.s.liveBuffers++;
    this.s.liveBytes += bytes;
    return b;
  }

  release(b: B): void {
    const bytes = this.live.get(b);
    if (bytes === undefined) throw new Error('BufferPool.release: buffer is not live (double release?)');
    this.live.delete(b);
    this.s.liveBuffers--;
    this.s.liveBytes -= bytes;
    const list = this.free.get(bytes) ?? [];
    if (list.length >= this.maxPerSize) { this.destroy(b); return; }
    list.push(b);
    this.free.set(bytes, list);
    this.s.pooledBuffers++;
    this.s.pooledBytes += bytes;
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.s.pooledBuffers = 0;
    this.s.pooledBytes = 0;
  }

  isLive(b: B): boolean { return this.live.has(b); }
  stats(): PoolStats { return { ...this.s }; }
}
