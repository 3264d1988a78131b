// The one training loop of the project: pretraining, post-training of a domain and end-task
// fine-tuning all run here. A step is a pure function `state → [state, metrics]` recorded into few
// command buffers; the loop owns everything around it:
//   - resume: an existing checkpoint whose fingerprint matches is continued at its step (bit for bit:
//     the state, the step count and every per-step key come from the checkpoint and the step index);
//     one with other settings is refused, naming what differs;
//   - metrics: read every step (or, pipelined, while the next step is recorded);
//   - NaN/Inf: stops and keeps the last good state and checkpoint (pipelined loops throw instead);
//   - the step log (log.jsonl): one record per step, records after the checkpoint a crash left
//     behind are dropped on resume, so no step is logged twice;
//   - checkpoints every `saveEvery` steps, written atomically;
//   - progress, through the caller's callback.
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { E } from '../fp.js';
import { settingsDiff, truncateStepLog } from '../io/out-dir.js';
import type { HostArray } from '../tensor/dtype.js';
import { type Tensor, read } from '../tensor/tensor.js';
import { type ProgressFactory, noProgress } from './progress.js';

/** What a checkpoint records besides the state: the step reached and what must match to resume. */
export interface TrainerState {
  step: number;
  /** What must match for a resume to continue the same run. */
  fingerprint: Record<string, unknown>;
  history: Record<string, number>[];
}

/** Checkpoint IO of a loop's state (a directory written atomically). */
export interface CheckpointIo<S> {
  dir: string;
  save(dir: string, s: S, trainer: TrainerState): Promise<void>;
  load(dir: string): Promise<E.Either<Error, { s: S; trainer: TrainerState }>>;
}

export interface StepOutput<S> {
  state: S;
  /** Scalar tensors read after the step; `loss` is required (its finiteness is checked). */
  metrics: Record<string, Tensor>;
}

export interface LoopSpec<S> {
  /** Shown with the progress. */
  label: string;
  /** Total steps (a resumed loop starts at its checkpoint's step). */
  steps: number;
  /** The state of a fresh start (no checkpoint, or resume off). */
  init: () => Promise<S>;
  /** One step (synchronous: records GPU work, reads nothing). The loop releases the old state. */
  step: (s: S, step: number) => StepOutput<S>;
  /** Releases a state (a stopped, replaced or failed one). */
  release: (s: S) => void;
  /** Checks before the first step, once the state exists (fresh or resumed); it may throw (the state is released). */
  ready?: (s: S, start: number) => Promise<void>;
  checkpoint?: CheckpointIo<S>;
  /** Must match the checkpoint's to resume it. */
  fingerprint?: Record<string, unknown>;
  /** Resume from an existing checkpoint (default true). */
  resume?: boolean;
  saveEvery?: number;
  /** log.jsonl: one JSON record per step. */
  log?: string;
  /** The log record of a step (default: step and metrics). */
  record?: (step: number, values: Record<string, number>, elapsed: number) => Record<string, unknown>;
  /** After a step's metrics are read (non-pipelined): extra record fields, e.g. a held-out evaluation. */
  after?: (s: S, step: number, values: Record<string, number>, history: Record<string, number>[]) => Promise<Record<string, number> | undefined>;
  /** The fields shown with the progress. */
  fields?: (step: number, values: Record<string, number>) => Record<string, string | number>;
  /** Read step n's metrics while step n + 1 is recorded (the device never waits for the host); a non-finite loss then throws. */
  pipelined?: boolean;
  /** The message of a non-finite loss at `step` (1-based). */
  nonFinite?: (loss: number, step: number, checkpoint: string | null) => string;
  progress?: ProgressFactory;
  signal?: AbortSignal;
  /** Called after every finished step (1-based step count). */
  onStep?: (step: number, values: Record<string, number>) => void;
}

export interface LoopResult<S> {
  /** The final state (the last good one when stopped); the caller owns and releases it. */
  state: S;
  /** Steps done in total (the step a non-finite loss stopped at, when stopped). */
  steps: number;
  resumedAt: number | null;
  stoppedOnNaN: boolean;
  /** Metrics of the last good step (null when no step ran). */
  last: Record<string, number> | null;
  /** Seconds per step in this invocation (null when nothing ran). */
  secondsPerStep: number | null;
  history: Record<string, number>[];
}

const defaultMessage = (loss: number, step: number, ck: string | null) =>
  `the loss became ${loss} at step ${step}; stopped. The last good checkpoint is ${ck ?? '(none yet)'} — lower the learning rate.`;

async function readMetrics(m: Record<string, Tensor>): Promise<Record<string, number>> {
  const keys = Object.keys(m);
  const vals = await Promise.all(keys.map((k) => read(m[k])));
  return Object.fromEntries(keys.map((k, i) => [k, (vals[i] as HostArray)[0]]));
}
const releaseMetrics = (m: Record<string, Tensor>) => { for (const t of Object.values(m)) t.dispose(); };

/** Runs (or resumes) a training loop; see the file header. */
export async function trainLoop<S>(spec: LoopSpec<S>): Promise<LoopResult<S>> {
  const ck = spec.checkpoint;
  const fingerprint = spec.fingerprint ?? {};
  let s: S, start = 0, resumedAt: number | null = null, history: Record<string, number>[] = [];
  if (ck !== undefined && spec.resume !== false && existsSync(join(ck.dir, 'trainer_state.json'))) {
    const r = await ck.load(ck.dir);
    if (E.isLeft(r)) throw new Error(`cannot resume from ${ck.dir}: ${r.left.message} (remove it to start over)`);
    const diff = settingsDiff(r.right.trainer.fingerprint, fingerprint);
    if (diff.length > 0) {
      spec.release(r.right.s);
      throw new Error(`${ck.dir} belongs to a run with other settings:\n${diff.map((d) => `  ${d}`).join('\n')}\nuse another --out or remove it`);
    }
    s = r.right.s;
    start = resumedAt = r.right.trainer.step;
    history = r.right.trainer.history;
  } else s = await spec.init();

  const live = { s };
  try {
    await spec.ready?.(s, start);
    if (spec.log !== undefined) await truncateStepLog(spec.log, start);
    const result = await (spec.pipelined ? runPipelined(spec, live, start) : runSteps(spec, live, start, fingerprint, history));
    return { ...result, resumedAt, history };
  } catch (e) {
    spec.release(live.s);
    throw e;
  }
}

type Run<S> = Omit<LoopResult<S>, 'resumedAt' | 'history'>;

async function runSteps<S>(spec: LoopSpec<S>, live: { s: S }, start: number, fingerprint: Record<string, unknown>, history: Record<string, number>[]): Promise<Run<S>> {
  const ck = spec.checkpoint;
  const progress = (spec.progress ?? noProgress)(spec.label, spec.steps, start);
  const t0 = Date.now();
  let step = start, last: Record<string, number> | null = null;
  for (; step < spec.steps; step++) {
    spec.signal?.throwIfAborted();
    const r = spec.step(live.s, step);
    let values: Record<string, number>;
    try { values = await readMetrics(r.metrics); } catch (e) { spec.release(r.state); throw e; } finally { releaseMetrics(r.metrics); }
    if (!Number.isFinite(values.loss)) {
      spec.release(r.state);
      progress.done((spec.nonFinite ?? defaultMessage)(values.loss, step + 1, ck !== undefined && existsSync(ck.dir) ? ck.dir : null));
      return { state: live.s, steps: step, stoppedOnNaN: true, last, secondsPerStep: null };
    }
    spec.release(live.s);
    live.s = r.state;
    last = values;
    const extra = (await spec.after?.(live.s, step, values, history)) ?? {};
    if (spec.log !== undefined) {
      const rec = { ...(spec.record ?? ((n: number, v: Record<string, number>) => ({ step: n, ...v })))(step + 1, values, (Date.now() - t0) / 1000), ...extra };
      await appendFile(spec.log, `${JSON.stringify(rec)}\n`);
    }
    progress.update(step + 1, (spec.fields ?? ((_n: number, v: Record<string, number>) => v))(step, values), step + 1 === spec.steps);
    if (ck !== undefined && spec.saveEvery !== undefined && (step + 1) % spec.saveEvery === 0 && step + 1 < spec.steps) {
      await ck.save(ck.dir, live.s, { step: step + 1, fingerprint, history });
    }
    spec.onStep?.(step + 1, values);
  }
  progress.done();
  return { state: live.s, steps: step, stoppedOnNaN: false, last, secondsPerStep: step > start ? (Date.now() - t0) / 1000 / (step - start) : null };
}

/** Step n's metrics are read while step n + 1 is recorded; a non-finite loss throws (one step later). */
async function runPipelined<S>(spec: LoopSpec<S>, live: { s: S }, start: number): Promise<Run<S>> {
  const progress = (spec.progress ?? noProgress)(spec.label, spec.steps, start);
  const t0 = Date.now();
  type Pending = { value: Promise<Record<string, number>>; metrics: Record<string, Tensor>; step: number };
  let inflight: Pending | null = null, last: Record<string, number> | null = null;
  const settle = async (p: Pending | null) => {
    if (p === null) return;
    let values: Record<string, number>;
    try { values = await p.value; } finally { releaseMetrics(p.metrics); }
    if (!Number.isFinite(values.loss)) throw new Error((spec.nonFinite ?? defaultMessage)(values.loss, p.step + 1, null));
    last = values;
    progress.update(p.step + 1, (spec.fields ?? ((_n: number, v: Record<string, number>) => v))(p.step, values));
    spec.onStep?.(p.step + 1, values);
  };
  let step = start;
  try {
    for (; step < spec.steps; step++) {
      spec.signal?.throwIfAborted();
      const r = spec.step(live.s, step);
      spec.release(live.s);
      live.s = r.state;
      const prev: Pending | null = inflight;
      inflight = { value: readMetrics(r.metrics), metrics: r.metrics, step };
      await settle(prev);
    }
    const final: Pending | null = inflight;
    inflight = null;
    await settle(final);
  } finally {
    if (inflight !== null) {
      const p = inflight as Pending;
      p.value.catch(() => {});   // an error is already on its way; this read's fate no longer matters
      releaseMetrics(p.metrics);
    }
  }
  progress.done();
  return { state: live.s, steps: step, stoppedOnNaN: false, last, secondsPerStep: step > start ? (Date.now() - t0) / 1000 / (step - start) : null };
}
