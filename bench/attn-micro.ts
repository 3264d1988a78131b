// Micro-benchmark: fused attention forward/backward vs the composition, bench shapes.
import { fromArray, read, release, tidy, webgpu, closeWebgpu, vjp, type Tensor } from '../src/index.js';
import { attention, attentionComposed } from '../src/ops/attention.js';
const gpu = (await webgpu())!;
const B = 16, T = 64, H = 4, Dh = 32, W = 3 * H * Dh;
const qkv = fromArray(Float32Array.from({ length: B * T * W }, (_, i) => Math.sin(i) * 0.5), [B, T, W], { backend: gpu });
const mask = fromArray(new Float32Array(B * T), [B, 1, 1, T], { backend: gpu });
const g = fromArray(Float32Array.from({ length: B * T * H * Dh }, (_, i) => Math.cos(i)), [B, T, H * Dh], { backend: gpu });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [name, f] of [['fused', attention], ['composed', attentionComposed]] as const) {
  for (const mode of ['fwd']) {
    const ts: number[] = [];
    for (let r = 0; r < 9; r++) {
      await gpu.sync();
      const t0 = performance.now();
      const out = tidy(() => {
        if (mode === 'fwd') return [f(qkv, mask, { heads: H })];
        const [y, pull] = vjp((a: { q: Tensor }) => f(a.q, mask, { heads: H }), ['q'])({ q: qkv });
        return [y, pull(g).q];
      });
      await read(out[out.length - 1]);
      ts.push(performance.now() - t0);
      release(out);
    }
    console.log(name, mode, 'min', Math.min(...ts.slice(1)).toFixed(1), 'median', median(ts).toFixed(1), 'ms', ts.map((t) => t.toFixed(0)).join(' '));
  }
}
release(qkv, mask, g);
closeWebgpu();
