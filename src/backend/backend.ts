// The backend contract lives on the tensor floor (src/tensor/backend.ts); re-exported here for the backends.
export type { Backend, BackendName, KernelOp } from '../tensor/backend.js';
