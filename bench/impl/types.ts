// The contract every implementation (ours and each anchor) fulfils for the harness.
import type { Case } from '../cases.js';

/** A prepared case: run() does the work `inner` times and returns once all of it has completed on the device. */
export interface Runner {
  /** Returns nothing (the harness times the call) or the milliseconds the implementation measured itself (PyTorch). */
  run(inner: number): Promise<number | void>;
  /** Memory figures after the timed runs (bytes), where the implementation has counters. */
  memory?(): Promise<Record<string, number>> | Record<string, number>;
  dispose(): Promise<void> | void;
  /** Other per-run figures (ms), e.g. the JS time to record one training step. */
  extras?(): Record<string, number>;
  /** What this implementation used for the case where it is not obvious (e.g. which AdamW variant). */
  note?: string;
}

export interface Impl {
  /** Stable id used as the JSON key: ours, tfjs-webgpu, jaxjs-webgpu, tfjs-wasm, jaxjs-wasm, torch-cpu, torch-cuda. */
  readonly id: string;
  readonly label: string;
  /** Opens the backend; returns a one-line description (version, device, threads). Throws when unavailable. */
  init(): Promise<string>;
  /** Called (untimed) before each timed run: selects this implementation's backend where a library has one global. */
  enter?(): Promise<void> | void;
  /** A runner, or a string saying why this implementation cannot run the case. */
  prepare(c: Case): Promise<Runner | string>;
  close(): Promise<void> | void;
}

/** The error text of anything thrown, on one line. */
export const why = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0].slice(0, 300);
