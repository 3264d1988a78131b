// The parts of a `das run` and how several processes share them (`--shard K/N`; docs: README
// "More than one machine", deploy/README.md). A run's work falls into independent parts:
//   - base/seed-<s>: the base model fine-tuned on every end task with seed s (the "vs base" transfer);
//   - base/held-out: the base model's held-out MLM losses (--held-out);
//   - <method>/seed-<s>: one method's whole chain for one seed (prepare, every domain, its fine-tunes).
// Parts are listed in that order (the order a single process runs them in); shard K of N takes parts
// K−1, K−1+N, K−1+2N, … Each part is run under a lock file (io/lock.ts) in <out>/locks/, so two
// processes never work on one part; a process that finds a part locked by another live process runs
// its other parts first, then waits for that one (saying which process holds it) and, once it is
// released, finds it finished (or continues it from its checkpoints, if its holder died).
import { join } from 'node:path';
import { type Claim, describeHolder, tryLock } from '../io/lock.js';

export interface Part {
  id: string;
  kind: 'base' | 'baseHeldOut' | 'chain';
  seed?: number;
  method?: string;
}
export interface Shard { index: number; count: number }

/** The parts of a run, in their fixed order. */
export function runParts(o: { methods: readonly string[]; seeds: readonly number[]; baseFinetune?: boolean; heldOut?: unknown }): Part[] {
  return [
    ...(o.baseFinetune === false ? [] : o.seeds.map((seed): Part => ({ id: `base/seed-${seed}`, kind: 'base', seed }))),
    ...(o.heldOut ? [{ id: 'base/held-out', kind: 'baseHeldOut' } as Part] : []),
    ...o.methods.flatMap((method) => o.seeds.map((seed): Part => ({ id: `${method}/seed-${seed}`, kind: 'chain', method, seed }))),
  ];
}

/** Shard K of N (1-based) of the parts: every N-th, starting at the K-th. */
export const shardOf = (parts: readonly Part[], s: Shard | undefined): Part[] => (s === undefined ? [...parts] : parts.filter((_, i) => i % s.count === s.index - 1));

/** `K/N` → a shard, or a message saying what is wrong (1 ≤ K ≤ N). */
export function parseShard(text: string): Shard | string {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) return `--shard must be K/N (e.g. 1/4: the first of four parts), got '${text}'`;
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || index < 1 || index > count) return `--shard ${text}: K must be between 1 and N (shards are numbered from 1), got K = ${index}, N = ${count}`;
  return { index, count };
}

/** The lock file of a part (or of another shared step, e.g. 'timings'). */
export const lockFile = (out: string, id: string): string => join(out, 'locks', `${id.replace(/\//g, '--')}.lock`);

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

/**
 * Runs `run(p)` for every part, each under its lock: parts locked by another live process are done
 * last, after waiting for their lock (polled every `pollMs`); `log` says once who holds each.
 */
export async function forEachClaimed(out: string, parts: readonly Part[], what: string, run: (p: Part) => Promise<void>, log: (s: string) => void, o: { pollMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  let pending = [...parts];
  const told = new Set<string>();
  while (pending.length > 0) {
    const held: Part[] = [];
    for (const p of pending) {
      o.signal?.throwIfAborted();
      const c: Claim = tryLock(lockFile(out, p.id), what);
      if (!c.held) {
        if (!told.has(p.id)) log(`${p.id} is being run by ${describeHolder(c.holder)}; waiting for it (lock ${c.file}: remove it if that process is gone)`);
        told.add(p.id);
        held.push(p);
        continue;
      }
      try { await run(p); } finally { c.release(); }
    }
    pending = held;
    if (pending.length > 0) await sleep(o.pollMs ?? 5000, o.signal);
  }
}

/** Runs `f` under the lock `id` (waiting for it, polled every 100 ms): short shared updates such as timings.json. */
export async function withLock<T>(out: string, id: string, what: string, f: () => Promise<T>): Promise<T> {
  for (;;) {
    const c = tryLock(lockFile(out, id), what);
    if (c.held) {
      try { return await f(); } finally { c.release(); }
    }
    await sleep(100);
  }
}
