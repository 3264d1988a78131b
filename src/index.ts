// Public API of das-webgpu: tensors, scopes, ops, autodiff, backends.
// The declarations use WebGPU's global types (GPUDevice, GPUBuffer, …): consumers get them from the
// @webgpu/types dependency through this directive, kept in dist/index.d.ts by preserve="true".
/// <reference types="@webgpu/types" preserve="true" />
export { type DType, type HostArray } from './tensor/dtype.js';
export { type Shape, ShapeError, broadcastShapes, sizeOf } from './tensor/shape.js';
export { Tensor, ReleasedTensorError, counters, fromArray, read, readScalar, toArray, getDefaultBackend, setDefaultBackend, alias } from './tensor/tensor.js';
export { tidy, release, keep } from './tensor/scope.js';
export { type Tree, treeLeaves, treeMap, treeZip, treeLeavesWithPaths } from './tensor/tree.js';
export { type Backend, type BackendName } from './backend/backend.js';
export { cpu, cpuRead } from './backend/cpu.js';
export { webgpu, closeWebgpu, WebGpuBackend } from './backend/webgpu/webgpu.js';
export * from './ops/index.js';
export { valueAndGrad, grad, vjp, stopGradient, type Grads, type DefaultArgs } from './autodiff/grad.js';
export { memoryStats } from './memory.js';
