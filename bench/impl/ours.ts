// das-webgpu itself on its WebGPU backend (Dawn): each case through the public ops, forced to completion with sync().
import {
  type Tensor, adamwUpdate, add, counters, crossEntropy, fromArray, gelu, layerNorm, matmul, memoryStats, read, release, softmax, tidy, vjp, webgpu,
} from '../../src/index.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu.js';
import { parseConfig, type RobertaConfig } from '../../src/nn/config.js';
import { initParams } from '../../src/nn/params.js';
import { adamwDefaults, adamwInit } from '../../src/optim/adamw.js';
import { key } from '../../src/ops/random.js';
import { type TrainState, mlmTrainStep } from '../../src/train/mlm-step.js';
import type { HostBatch } from '../../src/nn/mlm.js';
import { ADAMW, type Case, type ModelDims, STEP_ADAM, SPECIALS, values, xentLabels } from '../cases.js';
import type { Impl, Runner } from './types.js';

/** The library's RobertaConfig for the benchmark dims (dropout off: the anchors run without it too). */
export function benchConfig(m: ModelDims): RobertaConfig {
  const c = parseConfig({
    model_type: 'roberta', vocab_size: m.vocab, hidden_size: m.hidden, num_attention_heads: m.heads, num_hidden_layers: m.layers,
    intermediate_size: m.ffn, max_position_embeddings: m.maxPositions, layer_norm_eps: m.eps, type_vocab_size: 1,
    pad_token_id: SPECIALS.pad, bos_token_id: SPECIALS.bos, eos_token_id: SPECIALS.eos, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  });
  if (c._tag === 'Left') throw c.left;
  return c.right;
}

export function hostBatch(m: ModelDims, b: { ids: number[]; labelIndex: number[]; labels: number[] }): HostBatch {
  const labels = new Int32Array(m.batch * m.seq).fill(-100);
  b.labelIndex.forEach((i, k) => { labels[i] = b.labels[k]; });
  return { B: m.batch, T: m.seq, ids: Int32Array.from(b.ids), attention: new Int32Array(m.batch * m.seq).fill(1), labels };
}

/** A training-state holder for the step (and for the DAS step, which reuses it). */
export function trainState(cfg: RobertaConfig, gpu: WebGpuBackend): TrainState {
  const params = initParams(cfg, key(1), gpu, { mlm: true });
  return { params, opt: adamwInit(params) };
}

export class Ours implements Impl {
  readonly id = 'ours';
  readonly label = 'das-webgpu';
  gpu!: WebGpuBackend;

  async init(): Promise<string> {
    const g = await webgpu();
    if (g === null) throw new Error('no WebGPU adapter');
    this.gpu = g;
    const i = g.opened.info;
    return `das-webgpu on Dawn (${[i.vendor, i.architecture, i.description].filter(Boolean).join(' / ')}; ${i.backend})`;
  }

  private t(v: ArrayLike<number>, shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor { return fromArray(v, shape, { backend: this.gpu, dtype }); }

  /** Runs f (inside tidy: every tensor it makes is released) `inner` times, then waits for the device. */
  private loop(f: () => unknown, inputs: Tensor[], extra: Partial<Runner> = {}): Runner {
    return {
      run: async (inner) => { for (let i = 0; i < inner; i++) tidy(() => { f(); }); await this.gpu.sync(); },
      dispose: () => release(inputs),
      ...extra,
    };
  }

  async prepare(c: Case): Promise<Runner | string> {
    switch (c.kind) {
      case 'matmul': {
        const a = this.t(values(c.M * c.K, 1), [c.M, c.K]), b = this.t(values(c.K * c.N, 2), [c.K, c.N]);
        return this.loop(() => matmul(a, b), [a, b]);
      }
      case 'softmax': {
        const x = this.t(values(c.R * c.C, 3, -4, 4), [c.R, c.C]);
        return this.loop(() => softmax(x, -1), [x]);
      }
      case 'layernorm': {
        const x = this.t(values(c.R * c.C, 4, -2, 2), [c.R, c.C]), w = this.t(values(c.C, 5, 0.5, 1.5), [c.C]), b = this.t(values(c.C, 6), [c.C]);
        const dy = this.t(values(c.R * c.C, 7), [c.R, c.C]);
        if (!c.backward) return this.loop(() => layerNorm(x, w, b, 1e-5), [x, w, b, dy]);
        return this.loop(() => {
          const [y, back] = vjp((a: { x: Tensor; w: Tensor; b: Tensor }) => layerNorm(a.x, a.w, a.b, 1e-5), ['x', 'w', 'b'])({ x, w, b });
          back(dy);
          y.dispose();
        }, [x, w, b, dy]);
      }
      case 'gelu': {
        const x = this.t(values(c.R * c.C, 8, -3, 3), [c.R, c.C]);
        return this.loop(() => gelu(x), [x]);
      }
      case 'xent': {
        const z = this.t(values(c.R * c.C, 9, -4, 4), [c.R, c.C]), y = this.t(xentLabels(c.R, c.C), [c.R], 'i32');
        return this.loop(() => crossEntropy(z, y), [z, y]);
      }
      case 'adamw': {
        const [p, g, m] = [10, 11, 12].map((s) => this.t(values(c.n, s), [c.n]));
        const v = this.t(values(c.n, 13, 0, 1), [c.n]);
        return this.loop(() => adamwUpdate(p, g, m, v, { ...ADAMW, decay: 'before', epsOn: 'vhat' }), [p, g, m, v]);
      }
      case 'chain': {
        const x = this.t(values(c.n, 14), [c.n]), k = this.t(values(c.n, 15), [c.n]);
        return {
          run: async (inner) => {
            for (let i = 0; i < inner; i++) {
              const y = tidy(() => { let y = x; for (let j = 0; j < c.ops; j++) y = add(y, k); return y; });
              await read(y);
              y.dispose();
            }
          },
          dispose: () => release(x, k),
        };
      }
      case 'das_step': return 'ours runs the DAS step in impl/das.ts (the library\'s own step)';
      case 'step': {
        const cfg = benchConfig(c.model), hb = hostBatch(c.model, c.batch);
        let s = trainState(cfg, this.gpu);
        await this.gpu.sync();
        let mem: Record<string, number> = {};
        const recordMs: number[] = [];
        return {
          run: async (inner) => {
            for (let i = 0; i < inner; i++) {
              const before = counters.liveBytes;
              counters.peakBytes = before;
              const t0 = performance.now(); // JS time to record the step: from the call until it returns (before reading anything back)
              const [next, loss] = mlmTrainStep(cfg, s, hb, STEP_ADAM.lr, adamwDefaults, null, this.gpu);
              release(s, loss);
              recordMs.push(performance.now() - t0);
              s = next;
              const pool = memoryStats(this.gpu).pool!;
              mem = { stateBytes: before, peakLiveBytes: counters.peakBytes, stepTransientBytes: counters.peakBytes - before, poolAllocatedBytes: pool.liveBytes + pool.pooledBytes };
            }
            await this.gpu.sync();
          },
          memory: () => mem,
          extras: () => ({ recordMs: [...recordMs.slice(2)].sort((a, b) => a - b)[(recordMs.length - 2) >> 1] ?? NaN }),
          dispose: () => release(s),
        };
      }
    }
  }

  close(): void { /* the device stays open for the extras; run.ts closes it */ }
}
