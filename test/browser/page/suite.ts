// The browser side of test/browser/library.test.ts: runs in a page, against the library bundle only (every
// import of src/ is rewritten to ./das-webgpu.js when this file is bundled), on the browser's WebGPU
// adapter. Each entry of `dasSuite` returns what failed (empty: passed) for the Node side to assert.
import {
  type Backend, type HostBatch, type Params, type Tensor, type WebGpuBackend, cpu, cpuRead, crossEntropy, encode, fromArray, gelu, hfNames,
  initParams, key, layerNorm, matmul, mlmCollate, mlmLogits, mlmLoss, mlmTargets, mul, ops, parseConfig, paramsFromHf, parseSafetensors,
  read, release, reshape, softmax, sum, tidy, tinyTestConfig, toDevice, treeLeaves, treeLeavesWithPaths, treeMap, valueAndGrad, webgpu,
} from '../../../src/browser.js';
import { checkCase, disagreement, disagreementToScale, opCases } from '../../support/op-cases.js';

type Failures = string[];
let gpu: WebGpuBackend | null = null;
const ran = new Set<string>();
const cpuBe = cpu();

async function info(): Promise<{ adapter: string | null; userAgent: string; software: boolean; bundleHasNoNode: boolean }> {
  gpu = await webgpu();
  if (gpu !== null) {
    // Which ops reach the GPU: the suite's coverage check (an instance wrapper, for this page only).
    const run = gpu.run.bind(gpu);
    gpu.run = (op, ...rest) => { ran.add(op.name); return run(op, ...rest); };
  }
  const i = gpu?.opened.info;
  const g = globalThis as { process?: unknown; Buffer?: unknown; require?: unknown };
  return {
    adapter: i ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') : null,
    userAgent: navigator.userAgent, software: gpu?.software ?? false,
    bundleHasNoNode: g.process === undefined && g.Buffer === undefined && g.require === undefined,
  };
}

const needGpu = (): WebGpuBackend => { if (gpu === null) throw new Error('no WebGPU adapter in this browser'); return gpu; };

/** Every op case: WebGPU against the CPU reference on random shapes, outputs and VJPs. */
async function opsAgree(o: { runs: number; seed: number }): Promise<{ failures: Failures; ms: Record<string, number> }> {
  const g = needGpu();
  const failures: Failures = [], ms: Record<string, number> = {};
  for (const c of opCases) {
    const t0 = performance.now();
    try { const f = await checkCase(c, cpuBe, g, o); if (f) failures.push(f); } catch (e) { failures.push(`${c.name}: threw ${(e as Error).stack ?? e}`); }
    ms[c.name] = Math.round(performance.now() - t0);
  }
  return { failures, ms };
}

/** Deterministic test values in [lo, hi). */
function values(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return lo + (s / 4294967296) * (hi - lo); });
}

const copyTo = async <P>(tree: P, be: Backend): Promise<P> => {
  const host = await Promise.all(treeLeaves(tree).map((t) => read(t)));
  let i = 0;
  return treeMap(tree, (t) => fromArray(host[i++], t.shape, { backend: be, dtype: t.dtype }));
};

/** A tiny RoBERTa's MLM loss and every parameter gradient, WebGPU against the CPU reference (reaches the model's fused ops). */
async function modelAgrees(o: { seed: number }): Promise<Failures> {
  const g = needGpu();
  const cfg = tinyTestConfig, failures: Failures = [];
  const onCpu = initParams(cfg, key(o.seed), cpuBe, { mlm: true });
  const onGpu = await copyTo(onCpu, g);
  const B = 2 + (o.seed % 3), T = 7 + (o.seed % 11);
  const v = values(B * T, o.seed, 5, cfg.vocabSize);
  const chunks = Array.from({ length: B }, (_, b) => Int32Array.from({ length: T }, (_, t) => (t === 0 ? 0 : t === T - 1 ? 2 : Math.floor(v[b * T + t]))));
  const { batch } = mlmCollate(chunks, { specials: { bos: 0, pad: 1, eos: 2, unk: 3, mask: 4 } }, cfg.vocabSize, key(o.seed + 1), { prob: 0.3 });
  const hb: HostBatch = { B, T, ids: batch.ids, attention: batch.attention, labels: batch.labels };
  const run = async (be: Backend, params: Params) => {
    const t = mlmTargets(hb, be), dev = toDevice(cfg, hb, be);
    const [loss, grads] = valueAndGrad((a: { params: Params }) => mlmLoss(cfg, a.params, dev, t), ['params'])({ params });
    const out = { loss: (await read(loss))[0], grads: await Promise.all(treeLeavesWithPaths(grads.params).map(async ([p, x]) => [p, await read(x)] as const)) };
    release(loss, grads, t, dev);
    return out;
  };
  const want = await run(cpuBe, onCpu), got = await run(g, onGpu);
  if (!(Math.abs(got.loss - want.loss) <= 1e-4 * Math.max(1, Math.abs(want.loss)))) failures.push(`loss: gpu ${got.loss}, cpu ${want.loss}`);
  for (const [i, [path, w]] of want.grads.entries()) {
    // key biases have an exactly-zero true gradient (softmax ignores a per-query constant): rounding noise on both
    const d = path.endsWith('key.bias') ? disagreement(got.grads[i][1], w, { rtol: 0, atol: 1e-6 }) : disagreementToScale(got.grads[i][1], w, 2e-4);
    if (d) failures.push(`gradient ${path}: ${d}`);
  }
  release(onCpu, onGpu);
  return failures;
}

/** Ops with a WebGPU rule that no case and no model run has reached. */
function uncovered(): string[] {
  return Object.values(ops).filter((op) => op.gpu !== undefined && !ran.has(op.name)).map((op) => op.name);
}

/**
 * Gradient check on the GPU: for a composite (matmul, GELU, layer norm, softmax), the directional
 * derivative ⟨∇f(x), v⟩ from the WebGPU backward pass against central differences of f in f64 on the CPU.
 */
async function gradCheck(o: { seed: number }): Promise<Failures> {
  const g = needGpu();
  const failures: Failures = [];
  const [M, K, N] = [5, 13, 7];
  const x0 = values(M * K, o.seed), w0 = values(K * N, o.seed + 1), lw = values(N, o.seed + 2, 0.5, 1.5), lb = values(N, o.seed + 3), c = values(M * N, o.seed + 4);
  const f = (be: Backend, dtype: 'f32' | 'f64') => (a: { x: Tensor; w: Tensor }) => {
    const h = layerNorm(gelu(matmul(a.x, a.w)), fromArray(lw, [N], { backend: be, dtype }), fromArray(lb, [N], { backend: be, dtype }));
    return sum(mul(softmax(mul(h, 2), -1), fromArray(c, [M, N], { backend: be, dtype })));
  };
  const x = fromArray(x0, [M, K], { backend: g }), w = fromArray(w0, [K, N], { backend: g });
  const [, grads] = valueAndGrad(f(g, 'f32'), ['x', 'w'])({ x, w });
  const [gx, gw] = [await read(grads.x), await read(grads.w)];
  release(x, w, grads);
  const at = (dx: Float64Array, dw: Float64Array, s: number): number => tidy(() => {
    const xs = fromArray(x0.map((v, i) => v + s * dx[i]), [M, K], { backend: cpuBe, dtype: 'f64' });
    const ws = fromArray(w0.map((v, i) => v + s * dw[i]), [K, N], { backend: cpuBe, dtype: 'f64' });
    return cpuRead(f(cpuBe, 'f64')({ x: xs, w: ws }))[0];
  });
  for (let d = 0; d < 4; d++) {
    const dx = values(M * K, 100 + d), dw = values(K * N, 200 + d), eps = 1e-6;
    const numeric = (at(dx, dw, eps) - at(dx, dw, -eps)) / (2 * eps);
    let analytic = 0;
    gx.forEach((v, i) => { analytic += v * dx[i]; });
    gw.forEach((v, i) => { analytic += v * dw[i]; });
    if (!(Math.abs(numeric - analytic) <= 1e-6 + 2e-3 * Math.abs(numeric))) failures.push(`direction ${d}: WebGPU ⟨∇f, v⟩ = ${analytic}, central differences (f64) ${numeric}`);
  }
  return failures;
}

/** One RoBERTa forward and backward on the GPU against the committed PyTorch fixture (test/fixtures/gen_roberta.py). */
async function parity(o: { url: string }): Promise<{ failures: Failures; loss: number; tensors: number }> {
  const g = needGpu();
  const failures: Failures = [];
  const st = parseSafetensors(new Uint8Array(await (await fetch(o.url)).arrayBuffer()), o.url);
  if (st._tag === 'Left') throw st.left;
  const fx = st.right.tensors;
  const get = (n: string) => { const t = fx.get(n); if (!t) throw new Error(`fixture has no ${n}`); return t; };
  const cfg = parseConfig(JSON.parse(st.right.metadata.config));
  if (cfg._tag === 'Left') throw cfg.left;
  const only = new Map([...fx].filter(([k]) => !/^(in|out|grad)\./.test(k)));
  const params = paramsFromHf(cfg.right, only, g);
  if (params._tag === 'Left') throw params.left;
  const ids = get('in.input_ids');
  const [B, T] = ids.shape;
  const hb: HostBatch = { B, T, ids: ids.data as Int32Array, attention: get('in.attention_mask').data as Int32Array, labels: get('in.labels').data as Int32Array };
  const C = cfg.right, batch = toDevice(C, hb, g), labels = fromArray(hb.labels!, [B * T], { dtype: 'i32', backend: g });
  const [z, logits] = tidy(() => { const z = encode(C, params.right, batch); return [z, mlmLogits(C, params.right.lmHead!, params.right.embeddings.word, z)]; });
  const check = (what: string, d: string | null) => { if (d) failures.push(`${what}: ${d}`); };
  check('last hidden state', disagreementToScale(await read(z), get('out.last_hidden_state').data, 1e-4));
  check('logits', disagreementToScale(await read(logits), get('out.logits').data, 1e-4));
  const full = (a: { params: Params }) => crossEntropy(reshape(mlmLogits(C, a.params.lmHead!, a.params.embeddings.word, encode(C, a.params, batch)), [B * T, C.vocabSize]), labels);
  const [loss, grads] = valueAndGrad(full, ['params'])({ params: params.right });
  const l = (await read(loss))[0];
  check('loss', disagreement([l], get('out.loss').data, { rtol: 0, atol: 5e-5 }));
  const names = hfNames(C, { mlm: true });
  let tensors = 0;
  for (const [path, gr] of treeLeavesWithPaths(grads.params)) {
    const hf = names.get(path)![0];
    const want = get(`grad.${hf}`).data;
    tensors++;
    // key biases have an exactly-zero true gradient (softmax ignores a per-query constant)
    check(`gradient ${hf}`, hf.endsWith('attention.self.key.bias') ? disagreement(await read(gr), want, { rtol: 0, atol: 1e-6 }) : disagreementToScale(await read(gr), want, 2e-4));
  }
  release(z, logits, loss, grads, params.right, batch, labels);
  return { failures, loss: l, tensors };
}

(globalThis as { dasSuite?: unknown }).dasSuite = { info, opsAgree, modelAgrees, uncovered, gradCheck, parity, caseNames: () => opCases.map((c) => c.name) };
