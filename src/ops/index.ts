// The op surface. `ops` lists every op record explicitly (tests iterate it); no registration side effects.
import type { OpDef } from './define.js';
import { binaryOps, scalarBinary } from './binary.js';
import { castOp, fillOp } from './creation.js';
import { broadcastOp, reduceAxis } from './reduce.js';
import { reshapeOp } from './reshape.js';
import { geluBackwardOp, unaryOps } from './unary.js';
import { concatOp, padOp, permuteOp, sliceOp } from './movement.js';
import { gatherBackwardOp, gatherOp } from './embedding.js';
import { whereOp } from './where.js';
import { randomOp } from './random.js';
import { adamwOp } from './adamw.js';
import { softmaxOps } from './softmax.js';
import { layerNormOps } from './layer-norm.js';
import { crossEntropyOps } from './cross-entropy.js';
import { linearOp, matmulOp } from './matmul.js';
import { attentionOps } from './attention.js';

export * from './binary.js';
export * from './unary.js';
export * from './reduce.js';
export * from './reshape.js';
export * from './creation.js';
export * from './movement.js';
export * from './embedding.js';
export * from './where.js';
export * from './random.js';
export * from './adamw.js';
export * from './clip.js';
export * from './softmax.js';
export * from './layer-norm.js';
export * from './cross-entropy.js';
export * from './matmul.js';
export * from './attention.js';
export { defineOp, apply, apply1, type OpDef } from './define.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous table of op records
export const ops: Readonly<Record<string, OpDef<any>>> = {
  ...unaryOps, ...binaryOps, scalarBinary, reduceAxis, broadcastTo: broadcastOp, reshape: reshapeOp, fill: fillOp, cast: castOp,
  permute: permuteOp, slice: sliceOp, pad: padOp, concat: concatOp, gather: gatherOp, gatherBackward: gatherBackwardOp, where: whereOp,
  random: randomOp, adamwUpdate: adamwOp, ...softmaxOps, ...layerNormOps, ...crossEntropyOps,
  matmul: matmulOp, linear: linearOp, geluBackward: geluBackwardOp, ...attentionOps,
};
