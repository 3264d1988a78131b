// The tape records op applications whose inputs depend on a differentiated leaf. It holds its own
// handles on every recorded tensor, so inner scopes may release theirs before the backward pass.
// It lives with the ops (every application is recorded here); the backward sweep over it is
// src/autodiff/grad.ts, a floor above.
import { type Tensor, alias } from '../tensor/tensor.js';

export interface VjpCall<P> {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  params: P;
  /** needs[i]: input i wants a gradient (skip the work otherwise). */
  needs: readonly boolean[];
}

/** What the tape needs of an op record: its name and its VJP (see OpDef in define.ts). */
export interface TapeOp {
  readonly name: string;
  vjp?(call: VjpCall<unknown>, cotangents: readonly (Tensor | null)[]): readonly (Tensor | null)[];
}

export interface TapeNode {
  readonly op: TapeOp;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly params: unknown;
}

export interface Tape {
  readonly nodes: TapeNode[];
  /** Value ids of tensors that depend on a leaf being differentiated. */
  readonly tracked: Set<number>;
  paused: boolean;
}

const tapes: Tape[] = [];

export function pushTape(leaves: readonly Tensor[]): Tape {
  const tape: Tape = { nodes: [], tracked: new Set(leaves.map((t) => t.vid)), paused: false };
  tapes.push(tape);
  return tape;
}

export function popTape(tape: Tape): void {
  const i = tapes.lastIndexOf(tape);
  if (i >= 0) tapes.splice(i, 1);
}

export const isRecording = (): boolean => tapes.some((t) => !t.paused);

const hold = (t: Tensor): Tensor => alias(t, t.shape, true, false);

export function record(op: TapeOp, inputs: readonly Tensor[], outputs: readonly Tensor[], params: unknown): void {
  for (const tape of tapes) {
    if (tape.paused || !inputs.some((t) => tape.tracked.has(t.vid))) continue;
    if (op.vjp === undefined) throw new Error(`${op.name}: not differentiable, but an input depends on a differentiated argument (use stopGradient)`);
    tape.nodes.push({ op, inputs: inputs.map(hold), outputs: outputs.map(hold), params });
    for (const o of outputs) tape.tracked.add(o.vid);
  }
}

/** Releases the tape's handles. */
export function disposeTape(tape: Tape): void {
  for (const n of tape.nodes) {
    for (const t of n.inputs) t.dispose();
    for (const t of n.outputs) t.dispose();
  }
  tape.nodes.length = 0;
}
