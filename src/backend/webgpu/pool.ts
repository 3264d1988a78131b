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

/**
 * Hands out the free buffer of the size that was created first (lowest serial), not the last released:
 * then the buffers a loop's step gets depend only on which are free, not on the order they were
 * released in, so a steady loop cycles through the same few assignments of buffers to tensors and the
 * WebGPU backend's cached bind groups are found again (with last-released-first, the assignment drifted
 * for hundreds of steps and every step created new bind groups, which a loop that never awaits cannot
 * free; see webgpu.ts).
 */
export class BufferPool<B> {
  /** Free buffers per size, highest serial first (pop() gives the lowest). */
  private readonly free = new Map<number, B[]>();
  private readonly live = new Map<B, number>();
  private readonly serials = new Map<B, number>();
  private nextSerial = 0;
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
      this.serials.set(b, this.nextSerial++);
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
    if (list.length >= this.maxPerSize) { this.serials.delete(b); this.destroy(b); return; }
    // Insert keeping the list sorted by serial, descending (binary search).
    const serial = this.serials.get(b)!;
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.serials.get(list[mid])! > serial) lo = mid + 1; else hi = mid;
    }
    list.splice(lo, 0, b);
    this.free.set(bytes, list);
    this.s.pooledBuffers++;
    this.s.pooledBytes += bytes;
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) { this.serials.delete(b); this.destroy(b); }
    this.free.clear();
    this.s.pooledBuffers = 0;
    this.s.pooledBytes = 0;
  }

  isLive(b: B): boolean { return this.live.has(b); }
  stats(): PoolStats { return { ...this.s }; }
}
