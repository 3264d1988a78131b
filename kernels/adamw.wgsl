// adamw.wgsl — fused AdamW step over n elements: reads p, g, m, v (and an update scale s), writes
// p', m', v' in one pass. Host-side constants (src/ops/adamw.ts) carry the bias corrections:
//   m' = b1·m + c1·g                    c1 = 1 − β1
//   v' = b2·v + c2·g²                   c2 = 1 − β2
//   a  = step_size·m' / (sqrt(v')/d + eps)
//        torch.optim.AdamW:  step_size = lr/(1−β1^t),        d = sqrt(1−β2^t)   (ε on sqrt(v̂))
//        transformers.AdamW: step_size = lr·sqrt(1−β2^t)/(1−β1^t), d = 1         (ε on sqrt(v))
//   AFTER = 0 (torch):        p' = p − s·(lrwd·p + a)        = p·(1 − lr·wd) − a when s = 1
//   AFTER = 1 (transformers): p' = p − s·(a + lrwd·(p − a))  = (p − a)·(1 − lr·wd) when s = 1
// SCALE: 0 s = 1 (binding 4 aliases g and is not read); 1 s has p's shape; 2 s broadcasts to p
// through dims: output dims [0..6), s strides [6..12) (0 on broadcast axes), rank ≤ 6.
// bindings: 0 p, 1 g, 2 m, 3 v, 4 s (read); 5 p', 6 m', 7 v' (write) [n]; 8 params.
// geometry: one thread per element, WG threads per workgroup, workgroups folded into x/y.
// numerics: f32 throughout; zero g with lrwd = 0 leaves p, m, v bit-identical (a = 0·…/eps).
override SCALE: u32 = 0u;
override AFTER: u32 = 0u;
override WG: u32 = 256u;
struct Params {
  n: u32, rank: u32, b1: f32, b2: f32,
  c1: f32, c2: f32, step_size: f32, d: f32,
  eps: f32, lrwd: f32, pad0: u32, pad1: u32,
  dims: array<vec4u, 3>,
}
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> s: array<f32>;
@group(0) @binding(5) var<storage, read_write> p_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

fn dim_at(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

fn scale_at(i: u32) -> f32 {
  if (SCALE == 0u) { return 1.0; }
  if (SCALE == 1u) { return s[i]; }
  var rest = i;
  var si = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let dim = dim_at(k);
    si += (rest % dim) * dim_at(6u + k);
    rest = rest / dim;
  }
  return s[si];
}

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
  p_out[i] = pi - scale_at(i) * delta;
  m_out[i] = mi;
  v_out[i] = vi;
}
