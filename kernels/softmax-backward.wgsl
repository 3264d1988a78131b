// softmax-backward.wgsl — VJP of softmax / log-softmax along r of [outer, r, inner], from the output y.
// LOG = 0: dx = y ⊙ (g − Σ g⊙y). LOG = 1 (y = log-softmax): dx = g − exp(y) · Σ g.
// bindings: 0 y (read); 1 g (read); 2 dx (write), all [outer·r·inner]; 3 params { outer, r, inner }
// geometry: as softmax.wgsl — MODE 0 one thread per row, MODE 1 one workgroup per row (tree sum).
override LOG: u32 = 0u;
override MODE: u32 = 0u;
override WG: u32 = 64u;
struct Params { outer: u32, r: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> scratch: array<f32, WG>;

fn tree_sum(lane: u32, v: f32) -> f32 {
  scratch[lane] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { scratch[lane] += scratch[lane + s]; }
    workgroupBarrier();
  }
  let out = scratch[0];
  workgroupBarrier();
  return out;
}

fn term(i: u32) -> f32 { return select(g[i] * y[i], g[i], LOG == 1u); }

fn grad(i: u32, s: f32) -> f32 {
  if (LOG == 1u) { return g[i] - exp(y[i]) * s; }
  return y[i] * (g[i] - s);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let r = params.r;
  let st = params.inner;
  if (MODE == 0u) {
    let row = flat * WG + lane;
    if (row < params.outer * st) {
      let base = (row / st) * r * st + row % st;
      var s = 0.0;
      for (var k = 0u; k < r; k++) { s += term(base + k * st); }
      for (var k = 0u; k < r; k++) { dx[base + k * st] = grad(base + k * st, s); }
    }
  } else {
    let live = flat < params.outer * st;
    let base = (flat / st) * r * st + flat % st;
    let n = select(0u, r, live);
    var s = 0.0;
    for (var k = lane; k < n; k += WG) { s += term(base + k * st); }
    s = tree_sum(lane, s);
    for (var k = lane; k < n; k += WG) { dx[base + k * st] = grad(base + k * st, s); }
  }
}
