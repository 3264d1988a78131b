// The measuring loop: every implementation prepares the case, warms up (the first run includes its shader or
// jit compilation), calibrates how many runs make one sample, then samples are taken round-robin across the
// implementations (the starting one rotating), so load from other processes hits them alike. Medians.
import { type CaseSpec, figure, higherIsBetter } from './cases.js';
import { type Impl, type Runner, why } from './impl/types.js';

export interface ImplResult {
  /** GFLOP/s, GB/s, µs per op or ms (the case's unit), from the median sample. */
  figure?: number;
  medianMs?: number;
  /** Milliseconds per run of every sample, in the order taken. */
  samplesMs?: number[];
  /** Runs per sample (small kernels are run back to back so one sync covers several). */
  inner?: number;
  /** The first run, compilation included. */
  firstMs?: number;
  memory?: Record<string, number>;
  /** Runner.extras(): e.g. recordMs, the JS time to record one training step (median). */
  extras?: Record<string, number>;
  skipped?: string;
  error?: string;
  note?: string;
}

export interface CaseResult {
  id: string;
  label: string;
  unit: CaseSpec['unit'];
  higherIsBetter: boolean;
  work: number;
  results: Record<string, ImplResult>;
}

export interface Timing {
  /** Samples per implementation at most and at least. */
  maxReps: number;
  minReps: number;
  /** Time one implementation may spend sampling one case (ms); slow ones take minReps. */
  budgetMs: number;
  /** Small kernels: repeat within a sample until it lasts about this long (ms). */
  sampleMs: number;
}

export const TIMINGS: Record<'full' | 'quick' | 'tiny', Timing> = {
  full: { maxReps: 9, minReps: 3, budgetMs: 6000, sampleMs: 25 },
  quick: { maxReps: 5, minReps: 3, budgetMs: 2500, sampleMs: 15 },
  tiny: { maxReps: 2, minReps: 1, budgetMs: 200, sampleMs: 2 },
};

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2; };

async function sample(impl: Impl, r: Runner, inner: number): Promise<number> {
  await impl.enter?.();
  const t0 = performance.now();
  const own = await r.run(inner);
  const ms = typeof own === 'number' ? own : performance.now() - t0;
  return ms / inner;
}

export async function measureCase(spec: CaseSpec, impls: Impl[], t: Timing, log: (s: string) => void): Promise<CaseResult> {
  const out: CaseResult = { id: spec.id, label: spec.label, unit: spec.unit, higherIsBetter: higherIsBetter(spec.unit), work: spec.work, results: {} };
  const live: { impl: Impl; r: Runner; res: ImplResult; reps: number }[] = [];
  for (const impl of impls) {
    const res: ImplResult = (out.results[impl.id] = {});
    try {
      await impl.enter?.();
      const r = await impl.prepare(spec.case);
      if (typeof r === 'string') { res.skipped = r; continue; }
      if (r.note) res.note = r.note;
      res.firstMs = await sample(impl, r, 1);
      let once = await sample(impl, r, 1);
      const single = spec.case.kind === 'chain' || spec.case.kind === 'step';
      const innerFor = (ms: number) => (single ? 1 : Math.max(1, Math.min(64, Math.ceil(t.sampleMs / Math.max(ms, 1e-3)))));
      let inner = innerFor(once);
      if (inner > 1) {
        // Warm at the sample size, then size again from that: one run alone carries the sync latency.
        once = await sample(impl, r, inner);
        inner = Math.max(inner, innerFor(once));
      }
      res.inner = inner;
      res.samplesMs = [];
      const reps = Math.max(t.minReps, Math.min(t.maxReps, Math.floor(t.budgetMs / Math.max(once * inner, 1e-3))));
      live.push({ impl, r, res, reps });
    } catch (e) {
      res.error = why(e);
    }
  }
  const rounds = Math.max(0, ...live.map((l) => l.reps));
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < live.length; j++) {
      const l = live[(j + round) % live.length];
      if (l.res.error || l.res.samplesMs!.length >= l.reps) continue;
      try { l.res.samplesMs!.push(await sample(l.impl, l.r, l.res.inner!)); } catch (e) { l.res.error = why(e); }
    }
  }
  for (const l of live) {
    if (!l.res.error && l.res.samplesMs!.length > 0) {
      l.res.medianMs = median(l.res.samplesMs!);
      l.res.figure = figure(spec, l.res.medianMs);
    }
    try { const x = l.r.extras?.(); if (x && Object.keys(x).length) l.res.extras = x; } catch { /* none */ }
    try { const m = await l.r.memory?.(); if (m && Object.keys(m).length) l.res.memory = m; } catch { /* no counters */ }
    try { await l.impl.enter?.(); await l.r.dispose(); } catch (e) { l.res.note = `${l.res.note ? `${l.res.note}; ` : ''}dispose failed: ${why(e)}`; }
  }
  const cells = impls.map((i) => { const r = out.results[i.id]; return `${i.id} ${r.figure !== undefined ? fmt(r.figure) : r.skipped ? 'skipped' : r.error ? 'error' : '–'}`; });
  log(`${spec.label} (${spec.unit}): ${cells.join(', ')}`);
  return out;
}

export const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
