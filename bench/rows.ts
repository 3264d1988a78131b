// Row kernels on the default WebGPU adapter: GB/s (bytes read + written once) per geometry.
// Run: npx vite-node bench/rows.ts
import { type Tensor, closeWebgpu, fromArray, tidy, webgpu } from '../src/index.js';
import { type RowGeometry, logSoftmax, softmax, softmaxBackward, softmaxBackwardComposed } from '../src/ops/softmax.js';
import { layerNorm, layerNormBackward } from '../src/ops/layer-norm.js';
import { crossEntropy } from '../src/ops/cross-entropy.js';

const gpu = await webgpu();
if (gpu === null) throw new Error('no WebGPU adapter');
const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 4 - 2);
const t = (shape: number[], dtype: 'f32' | 'i32' = 'f32', v?: ArrayLike<number>) =>
  fromArray(v ?? rand(shape.reduce((a, b) => a * b, 1)), shape, { backend: gpu, dtype });

async function gbps(bytes: number, f: () => Tensor | Tensor[]): Promise<string> {
  const run = () => tidy(() => { f(); });
  run(); await gpu!.sync();
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500 || reps < 3) { run(); reps++; await gpu!.sync(); }
  const ms = (performance.now() - t0) / reps;
  return `${(bytes / ms / 1e6).toFixed(2)} GB/s (${ms.toFixed(2)} ms)`;
}

const [R, C] = [1024, 1024], [LR, LC] = [1024, 256], [ER, EC] = [1024, 2000];
const x = t([R, C]), g = t([R, C]), lx = t([LR, LC]), lg = t([LR, LC]), w = t([LC]), b = t([LC]);
const logits = t([ER, EC]), labels = t([ER], 'i32', Int32Array.from({ length: ER }, (_, i) => (i % 7 === 0 ? -100 : (i * 31) % EC)));
const y = softmax(x);
const ln = { mean: t([LR]), rstd: t([LR], 'f32', new Float32Array(LR).fill(1)) };
const mb = (n: number) => n * 4;
for (const geometry of ['thread', 'workgroup'] as RowGeometry[]) {
  gpu.setKernelOptions({ rows: { geometry } });
  console.log(`-- ${geometry}`);
  console.log(`softmax ${R}×${C}          `, await gbps(mb(2 * R * C), () => softmax(x)));
  console.log(`logSoftmax ${R}×${C}       `, await gbps(mb(2 * R * C), () => logSoftmax(x)));
  console.log(`softmax VJP fused          `, await gbps(mb(3 * R * C), () => softmaxBackward(y, g, { axis: 1, log: false })));
  console.log(`softmax VJP composed       `, await gbps(mb(3 * R * C), () => softmaxBackwardComposed(y, g, { axis: 1, log: false })));
  console.log(`softmax axis 0 ${R}×${C}   `, await gbps(mb(2 * R * C), () => softmax(x, 0)));
  console.log(`layerNorm ${LR}×${LC}       `, await gbps(mb(2 * LR * LC), () => layerNorm(lx, w, b)));
  console.log(`layerNorm VJP ${LR}×${LC}   `, await gbps(mb(3 * LR * LC), () => layerNormBackward(lx, w, ln.mean, ln.rstd, lg)));
  console.log(`crossEntropy ${ER}×${EC}   `, await gbps(mb(ER * EC), () => crossEntropy(logits, labels)));
}
closeWebgpu();
