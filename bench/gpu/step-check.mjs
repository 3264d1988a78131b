// Times the bench's training step shape and softmax rows with dist/ (no dev dependencies needed).
import * as o from '../../dist/index.js';
import { parseConfig } from '../../dist/nn/config.js';
import { initParams } from '../../dist/nn/params.js';
import { adamwInit, adamwDefaults } from '../../dist/optim/adamw.js';
import { mlmTrainStep } from '../../dist/train/mlm-step.js';
const be = await o.webgpu();
const cfg = parseConfig({ model_type: 'roberta', vocab_size: 2000, hidden_size: 128, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 512, max_position_embeddings: 66, type_vocab_size: 1, pad_token_id: 1, layer_norm_eps: 1e-5 }).right;
const B = 16, T = 64;
const ids = Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 7919) % 1990));
const labels = Int32Array.from(ids, (v, i) => (i % 7 === 0 ? v : -100));
let p = initParams(cfg, o.key(1), be); let s = { params: p, opt: adamwInit(p) };
const ts = [];
for (let i = 0; i < 40; i++) {
  const t0 = performance.now();
  const [n, l] = mlmTrainStep(cfg, s, { B, T, ids, labels }, 1e-4, adamwDefaults, null, be);
  o.release(s); s = n; await o.read(l); l.dispose(); ts.push(performance.now() - t0);
}
ts.sort((a, b) => a - b);
const x = o.randomNormal(o.key(2), [1024, 1024], { backend: be });
const ss = [];
for (let i = 0; i < 30; i++) { await be.sync(); const t0 = performance.now(); const y = o.softmax(x); await be.sync(); ss.push(performance.now() - t0); y.dispose(); }
ss.sort((a, b) => a - b);
console.log(JSON.stringify({ stepMs: ts[20], tokensPerSecond: Math.round(B * T / ts[20] * 1000), softmaxMs: ss[15], softmaxGBs: (2 * 4 * 1024 * 1024 / ss[15] / 1e6).toFixed(1) }));
o.closeWebgpu();
