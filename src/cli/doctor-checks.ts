// One small case per kernel (and per op variant that selects different kernel code).
import * as o from '../ops/index.js';
import type { DoctorCheck } from './doctor.js';

const pos = { lo: 0.1, hi: 4 };

export function doctorChecks(): DoctorCheck[] {
  const unary: DoctorCheck[] = ([
    ['neg', o.neg, {}], ['exp', o.exp, {}], ['log', o.log, pos], ['sqrt', o.sqrt, pos], ['rsqrt', o.rsqrt, pos],
    ['tanh', o.tanh, {}], ['erf', o.erfOp, {}], ['gelu', o.gelu, {}], ['abs', o.abs, {}], ['sigmoid', o.sigmoid, {}],
    ['square', o.square, {}], ['reciprocal', o.reciprocal, pos], ['relu', o.relu, {}], ['geluDeriv', o.geluDeriv, {}],
  ] as const).map(([name, f, r]) => ({ name: `unary ${name}`, kernels: ['unary'], inputs: [{ shape: [37, 29], ...r }], run: f, atol: 1e-6, rtol: 1e-5 }));
  return [
    ...unary,
    { name: 'binary add (broadcast)', kernels: ['binary'], inputs: [{ shape: [5, 1, 7] }, { shape: [3, 1] }], run: o.add },
    { name: 'binary div', kernels: ['binary'], inputs: [{ shape: [131] }, { shape: [131], lo: 0.5, hi: 3 }], run: o.div },
    { name: 'binary greater (scalar)', kernels: ['binary'], inputs: [{ shape: [300] }], run: (x) => o.greater(x, 0.3) },
    { name: 'reduce sum (axis 1)', kernels: ['reduce'], inputs: [{ shape: [13, 257, 3] }], run: (x) => o.sum(x, 1) },
    { name: 'reduce max (long rows)', kernels: ['reduce'], inputs: [{ shape: [2, 5000] }], run: (x) => o.max(x, 1) },
    { name: 'broadcastTo', kernels: ['binary'], inputs: [{ shape: [4, 1, 3] }], run: (x) => o.broadcastTo(x, [2, 4, 5, 3]) },
    { name: 'fill / arange', kernels: ['fill'], inputs: [{ shape: [3] }], run: (x) => o.add(o.arange(0, 3, 1, { backend: x.backend }), o.full([3], 2, { backend: x.backend })) },
    { name: 'cast f32 → i32 → f32', kernels: ['cast'], inputs: [{ shape: [50], lo: -9, hi: 9 }], run: (x) => o.cast(o.cast(x, 'i32'), 'f32') },
  ];
}
