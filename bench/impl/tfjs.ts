// TensorFlow.js 4.22 anchors: the WebGPU backend on a Dawn device of our own `webgpu` package, and the wasm backend.
// tfjs has one global engine: enter() switches it to this anchor's backend before each timed run.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';
import { ADAMW, type Case, type ModelDims, STEP_ADAM, values, xentLabels } from '../cases.js';
import { dawnGpu } from './dawn.js';
import type { Impl, Runner } from './types.js';

type Tensor = TF.Tensor;
let tfMod: typeof TF | undefined;
const require = createRequire(import.meta.url);

/**
 * tfjs-core with its gradients registered. The harness runs under vite-node, which loads tfjs's ESM build (one
 * engine for core and both backends); the gradients live in a side-effect module that @tensorflow/tfjs imports.
 */
async function loadTf(): Promise<typeof TF> {
  if (tfMod === undefined) {
    tfMod = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    if (tfMod.getGradient('Neg') === undefined) throw new Error('tfjs gradients are not registered (run the bench under vite-node: npm run bench)');
  }
  return tfMod;
}

export class Tfjs implements Impl {
  readonly id: string;
  readonly label: string;
  private tf!: typeof TF;
  private device?: GPUDevice;
  private backend?: { commandEncoder: GPUCommandEncoder | null; endComputePassEncoder(): void; submitQueue(): void };

  constructor(readonly kind: 'webgpu' | 'wasm') {
    this.id = `tfjs-${kind}`;
    this.label = `tfjs-${kind}`;
  }

  async init(): Promise<string> {
    const tf = (this.tf = await loadTf());
    if (this.kind === 'webgpu') {
      const gpu = dawnGpu();
      const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
      // What the package's own factory does (base.ts), minus its navigator.gpu lookup, which Node lacks.
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('no WebGPU adapter');
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize, maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      const be = new WebGPUBackend(device, adapter.info);
      this.device = device;
      this.backend = be as unknown as NonNullable<Tfjs['backend']>;
      tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => be, 1);
      if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its webgpu backend');
      return `@tensorflow/tfjs-backend-webgpu ${tf.version_core} on Dawn (${adapter.info.description || adapter.info.vendor})`;
    }
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not start its wasm backend');
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return `@tensorflow/tfjs-backend-wasm ${tf.version_core} (simd ${simd}, multithread support ${mt}, threads ${wasm.getThreadsCount()})`;
  }

  async enter(): Promise<void> { if (this.tf.getBackend() !== this.kind) await this.tf.setBackend(this.kind); }

  /** Waits until the device has finished everything queued (no read-back). */
  private async sync(): Promise<void> {
    if (this.device === undefined) return; // wasm runs synchronously
    const be = this.backend!;
    if (be.commandEncoder !== null) { be.endComputePassEncoder(); be.submitQueue(); } // what tfjs does before a read
    await this.device.queue.onSubmittedWorkDone();
  }

  private loop(f: () => Tensor | Tensor[] | void, inputs: Tensor[], extra: Partial<Runner> = {}): Runner {
    const tf = this.tf;
    return {
      run: async (inner) => {
        for (let i = 0; i < inner; i++) tf.dispose(tf.tidy(() => f()) as Tensor | Tensor[]);
        await this.sync();
      },
      dispose: () => tf.dispose(inputs),
      ...extra,
    };
  }

  async prepare(c: Case): Promise<Runner | string> {
    const tf = this.tf;
    await this.enter();
    const t = (v: Float32Array | Int32Array, shape: number[]) => tf.tensor(v, shape, v instanceof Int32Array ? 'int32' : 'float32');
    switch (c.kind) {
      case 'matmul': {
        const a = t(values(c.M * c.K, 1), [c.M, c.K]), b = t(values(c.K * c.N, 2), [c.K, c.N]);
        return this.loop(() => tf.matMul(a, b), [a, b]);
      }
      case 'softmax': {
        const x = t(values(c.R * c.C, 3, -4, 4), [c.R, c.C]);
        return this.loop(() => tf.softmax(x), [x]);
      }
      case 'layernorm': {
        const x = t(values(c.R * c.C, 4, -2, 2), [c.R, c.C]), w = t(values(c.C, 5, 0.5, 1.5), [c.C]), b = t(values(c.C, 6), [c.C]);
        const dy = t(values(c.R * c.C, 7), [c.R, c.C]);
        const ln = (x: Tensor, w: Tensor, b: Tensor) => layerNorm(tf, x, w, b, 1e-5);
        if (!c.backward) return this.loop(() => ln(x, w, b), [x, w, b, dy]);
        const g = tf.grads((x: Tensor, w: Tensor, b: Tensor) => ln(x, w, b));
        return this.loop(() => g([x, w, b], dy), [x, w, b, dy]);
      }
      case 'gelu': {
        const x = t(values(c.R * c.C, 8, -3, 3), [c.R, c.C]);
        return this.loop(() => gelu(tf, x), [x]);
      }
      case 'xent': {
        const z = t(values(c.R * c.C, 9, -4, 4), [c.R, c.C]);
        const flat = t(Int32Array.from(xentLabels(c.R, c.C), (l, r) => r * c.C + l), [c.R]);
        return this.loop(() => xent(tf, z, flat), [z, flat]);
      }
      case 'adamw': {
        const [p, g, m] = [10, 11, 12].map((s) => t(values(c.n, s), [c.n]));
        const v = t(values(c.n, 13, 0, 1), [c.n]);
        return this.loop(() => adamw(tf, p, g, m, v), [p, g, m, v]);
      }
      case 'chain': {
        const x = t(values(c.n, 14), [c.n]), k = t(values(c.n, 15), [c.n]);
        // tfjs-webgpu runs ops on inputs under 1000 elements in JS when their data is on the CPU
        // (WEBGPU_CPU_FORWARD): off here, so every op is a device dispatch as in the other WebGPU libraries.
        const forward = this.kind === 'webgpu' ? tf.env().getBool('WEBGPU_CPU_FORWARD') : false;
        return {
          run: async (inner) => {
            if (this.kind === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
            try {
              for (let i = 0; i < inner; i++) {
                const y = tf.tidy(() => { let y = x; for (let j = 0; j < c.ops; j++) y = tf.add(y, k); return y; });
                await y.data();
                y.dispose();
              }
            } finally {
              if (this.kind === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', forward);
            }
          },
          dispose: () => tf.dispose([x, k]),
          ...(this.kind === 'webgpu' ? { note: 'WEBGPU_CPU_FORWARD off (tfjs would otherwise run these 256-element adds in JS)' } : {}),
        };
      }
      case 'step': return this.step(c.model, c.batch);
      case 'das_step': return 'the DAS step is measured for ours and PyTorch only';
    }
  }

  /** The same RoBERTa MLM step as ours: variables, tf.train.adam (= AdamW without decay), minimize. */
  private step(m: ModelDims, b: { ids: number[]; positions: number[]; labelIndex: number[]; labels: number[] }): Runner {
    const tf = this.tf;
    const p = robertaParams<Tensor, Tensor>(m, (shape, init) => tf.variable(init(shape)), (shape) => tf.randomNormal(shape, 0, 0.02), tf.zeros, tf.ones);
    // tfjs-wasm has no UnsortedSegmentSum kernel (the gradient of gather): there the gathers are one-hot matmuls.
    const oneHot = this.kind === 'wasm';
    const idx = (v: number[], n: number) => (oneHot ? tf.oneHot(tf.tensor1d(v, 'int32'), n) : tf.tensor1d(v, 'int32'));
    const ids = idx(b.ids, m.vocab), pos = idx(b.positions, m.maxPositions), li = idx(b.labelIndex, m.batch * m.seq);
    const maskBias = tf.zeros([m.batch, 1, 1, m.seq]); // additive key mask (no padding in the batch), as ours adds it
    const flatLabels = oneHot ? tf.oneHot(tf.tensor1d(b.labels, 'int32'), m.vocab) : tf.tensor1d(b.labels.map((l, k) => k * m.vocab + l), 'int32');
    const opt = tf.train.adam(STEP_ADAM.lr, STEP_ADAM.beta1, STEP_ADAM.beta2, STEP_ADAM.eps);
    const vars = flatParams(p) as TF.Variable[];
    const loss = () => mlmLoss(tf, m, p, ids, pos, maskBias, li, flatLabels, oneHot) as TF.Scalar;
    let mem: Record<string, number> = {};
    return {
      run: async (inner) => {
        for (let i = 0; i < inner; i++) { const l = opt.minimize(loss, true, vars); l?.dispose(); }
        await this.sync();
        const info = tf.memory() as TF.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
        mem = { liveBytes: info.numBytes, ...(info.numBytesAllocatedInGPU !== undefined ? { gpuAllocatedBytes: info.numBytesAllocatedInGPU } : {}) };
      },
      memory: () => mem,
      dispose: () => { opt.dispose(); tf.dispose([...vars, ids, pos, maskBias, li, flatLabels]); },
    };
  }

  close(): void {
    // The global engine keeps the backend; tensors were disposed per case.
  }
}

// ---- the model in tfjs ops (post-LN RoBERTa, as src/nn/roberta.ts) ---------------------------------

type Ops = typeof TF;
const layerNorm = (tf: Ops, x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor => {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
};
const gelu = (tf: Ops, x: Tensor): Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
/** Mean cross-entropy; `flat` holds row·C + label. */
const xent = (tf: Ops, z: Tensor, flat: Tensor): Tensor => tf.neg(tf.mean(tf.gather(tf.reshape(tf.logSoftmax(z), [-1]), flat)));
function adamw(tf: Ops, p: Tensor, g: Tensor, m: Tensor, v: Tensor): Tensor[] {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step } = ADAMW;
  const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
  const upd = tf.div(tf.mul(m1, lr / (1 - b1 ** step)), tf.add(tf.sqrt(tf.div(v1, 1 - b2 ** step)), eps));
  return [tf.sub(tf.mul(p, 1 - lr * wd), upd), m1, v1];
}

export interface Lin<T> { w: T; b: T }
export interface RobertaParams<T> {
  word: T; pos: T; type0: T; embNorm: Lin<T>;
  layers: { q: Lin<T>; k: Lin<T>; v: Lin<T>; o: Lin<T>; n1: Lin<T>; f1: Lin<T>; f2: Lin<T>; n2: Lin<T> }[];
  head: { dense: Lin<T>; norm: Lin<T>; bias: T };
}
/** Parameters in PyTorch layout (Linear weight [out, in]); `wrap` turns an initial value into a variable. */
export function robertaParams<T, I>(m: ModelDims, wrap: (shape: number[], init: (s: number[]) => I) => T, normal: (s: number[]) => I, zeros: (s: number[]) => I, ones: (s: number[]) => I): RobertaParams<T> {
  const D = m.hidden, F = m.ffn;
  const lin = (o: number, i: number): Lin<T> => ({ w: wrap([o, i], normal), b: wrap([o], zeros) });
  const norm = (): Lin<T> => ({ w: wrap([D], ones), b: wrap([D], zeros) });
  return {
    word: wrap([m.vocab, D], normal), pos: wrap([m.maxPositions, D], normal), type0: wrap([D], normal), embNorm: norm(),
    layers: Array.from({ length: m.layers }, () => ({ q: lin(D, D), k: lin(D, D), v: lin(D, D), o: lin(D, D), n1: norm(), f1: lin(F, D), f2: lin(D, F), n2: norm() })),
    head: { dense: lin(D, D), norm: norm(), bias: wrap([m.vocab], zeros) },
  };
}
export const flatParams = <T>(p: RobertaParams<T>): T[] => [
  p.word, p.pos, p.type0, p.embNorm.w, p.embNorm.b,
  ...p.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.n1, l.f1, l.f2, l.n2].flatMap((x) => [x.w, x.b])),
  p.head.dense.w, p.head.dense.b, p.head.norm.w, p.head.norm.b, p.head.bias,
];

function mlmLoss(tf: Ops, m: ModelDims, p: RobertaParams<Tensor>, ids: Tensor, pos: Tensor, maskBias: Tensor, li: Tensor, flatLabels: Tensor, oneHot: boolean): Tensor {
  const { batch: B, seq: T, hidden: D, heads: H } = m, Dh = D / H;
  const lin = (x: Tensor, l: Lin<Tensor>) => tf.add(tf.matMul(x, l.w, false, true), l.b);
  const ln = (x: Tensor, n: Lin<Tensor>) => layerNorm(tf, x, n.w, n.b, m.eps);
  const split = (x: Tensor) => tf.transpose(tf.reshape(x, [B, T, H, Dh]), [0, 2, 1, 3]);
  const rows = (table: Tensor, i: Tensor) => (oneHot ? tf.matMul(i, table) : tf.gather(table, i));
  let x = ln(tf.add(tf.add(rows(p.word, ids), rows(p.pos, pos)), p.type0), p.embNorm); // [B·T, D]
  for (const l of p.layers) {
    const q = split(lin(x, l.q)), k = split(lin(x, l.k)), v = split(lin(x, l.v));
    const probs = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(Dh)), maskBias)); // [B, H, T, T]
    const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [B * T, D]);
    const h = ln(tf.add(lin(ctx, l.o), x), l.n1);
    x = ln(tf.add(lin(gelu(tf, lin(h, l.f1)), l.f2), h), l.n2);
  }
  const hm = ln(gelu(tf, lin(rows(x, li), p.head.dense)), p.head.norm);
  const logits = tf.add(tf.matMul(hm, p.word, false, true), p.head.bias);
  // tfjs-wasm: labels one-hot (the gradient of gather needs UnsortedSegmentSum); otherwise row·V + label.
  return oneHot ? tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), flatLabels))), flatLabels.shape[0]) : xent(tf, logits, flatLabels);
}
