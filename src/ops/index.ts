// The op surface. `ops` lists every op record explicitly (tests iterate it); no registration side effects.
import type { OpDef } from './define.js';
import { binaryOps, scalarBinary } from './binary.js';
import { castOp, fillOp } from './creation.js';
import { broadcastOp, reduceAxis } from './reduce.js';
import { reshapeOp } from './reshape.js';
import { unaryOps } from './unary.js';

export * from './binary.js';
export * from './unary.js';
export * from './reduce.js';
export * from './reshape.js';
export * from './creation.js';
export { defineOp, apply, apply1, type OpDef } from './define.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous table of op records
export const ops: Readonly<Record<string, OpDef<any>>> = {
  ...unaryOps, ...binaryOps, scalarBinary, reduceAxis, broadcastTo: broadcastOp, reshape: reshapeOp, fill: fillOp, cast: castOp,
};
