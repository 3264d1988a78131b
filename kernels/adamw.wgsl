// adamw.wgsl — fused AdamW step over n elements: reads p, g, m, v, writes the new parameter (or the
// parameter change), m' and v' in one pass. Host-side constants (src/ops/adamw.ts) carry the bias corrections:
//   m' = b1·m + c1·g                    c1 = 1 − β1
//   v' = b2·v + c2·g²                   c2 = 1 − β2
//   a  = step_size·m' / (sqrt(v')/d + eps)
//        torch.optim.AdamW:  step_size = lr/(1−β1^t),        d = sqrt(1−β2^t)   (ε on sqrt(v̂))
//        transformers.AdamW: step_size = lr·sqrt(1−β2^t)/(1−β1^t), d = 1         (ε on sqrt(v))
//   AFTER = 0 (torch):        δ = lrwd·p + a          p' = p − δ = p·(1 − lr·wd) − a
//   AFTER = 1 (transformers): δ = a + lrwd·(p − a)    p' = p − δ = (p − a)·(1 − lr·wd)
// UPDATE = 0 writes p' = p − δ (the fused step); UPDATE = 1 writes the update u = −δ (optax's updates:
// p' = p + u, rounded once more), for transformations that act on the update before it is applied.
// bindings: 0 p, 1 g, 2 m, 3 v (read); 4 p' or u, 5 m', 6 v' (write) [n]; 7 params.
// geometry: one thread per element, WG threads per workgroup, workgroups folded into x/y.
// numerics: f32 throughout; zero g with lrwd = 0 leaves p, m, v bit-identical (a = 0·…/eps).
override UPDATE: u32 = 0u;
override AFTER: u32 = 0u;
override WG: u32 = 256u;
struct Params {
  n: u32, b1: f32, b2: f32, c1: f32,
  c2: f32, step_size: f32, d: f32, eps: f32,
  lrwd: f32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> p_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  let gi = g[i];
  let mi = params.b1 * m[i] + params.c1 * gi;
  let vi = params.b2 * v[i] + params.c2 * gi * gi;
  let a = params.step_size * mi / (sqrt(vi) / params.d + params.eps);
  let pi = p[i];
  var delta = params.lrwd * pi + a;
  if (AFTER == 1u) { delta = a + params.lrwd * (pi - a); }
  if (UPDATE == 1u) { p_out[i] = -delta; } else { p_out[i] = pi - delta; }
  m_out[i] = mi;
  v_out[i] = vi;
}
