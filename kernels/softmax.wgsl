// softmax.wgsl — softmax (LOG = 0) or log-softmax (LOG = 1) along r of x viewed as [outer, r, inner].
// bindings: 0 x (read) [outer·r·inner]; 1 y (write) same; 2 params { outer, r, inner }
// geometry: a row is one (outer, inner) pair, elements `inner` apart. MODE 0: one thread per row,
// serial loops (best on lavapipe, where barriers are slow). MODE 1: one workgroup per row, WG lanes
// stride the row, tree reductions in workgroup memory (WG a power of two). Workgroups fold into x/y.
// numerics: subtracts the row max, so every exp argument is <= 0 and the sum is >= 1.
override LOG: u32 = 0u;
override MODE: u32 = 0u;
override WG: u32 = 64u;
struct Params { outer: u32, r: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> scratch: array<f32, WG>;

fn tree(lane: u32, v: f32, is_max: bool) -> f32 {
  scratch[lane] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lane < s) {
      let o = scratch[lane + s];
      scratch[lane] = select(scratch[lane] + o, max(scratch[lane], o), is_max);
    }
    workgroupBarrier();
  }
  let out = scratch[0];
  workgroupBarrier();
  return out;
}

fn out(v: f32, m: f32, inv: f32, log_s: f32) -> f32 {
  if (LOG == 1u) { return (v - m) - log_s; }
  return exp(v - m) * inv;
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
      var m = -3.402823466e38;
      for (var k = 0u; k < r; k++) { m = max(m, x[base + k * st]); }
      var s = 0.0;
      for (var k = 0u; k < r; k++) { s += exp(x[base + k * st] - m); }
      let inv = 1.0 / s;
      let log_s = log(s);
      for (var k = 0u; k < r; k++) { y[base + k * st] = out(x[base + k * st], m, inv, log_s); }
    }
  } else {
    // No early return: the barriers in `tree` must stay in uniform control flow.
    let live = flat < params.outer * st;
    let base = (flat / st) * r * st + flat % st;
    let n = select(0u, r, live);
    var m = -3.402823466e38;
    for (var k = lane; k < n; k += WG) { m = max(m, x[base + k * st]); }
    m = tree(lane, m, true);
    var s = 0.0;
    for (var k = lane; k < n; k += WG) { s += exp(x[base + k * st] - m); }
    s = tree(lane, s, false);
    let inv = 1.0 / s;
    let log_s = log(s);
    for (var k = lane; k < n; k += WG) { y[base + k * st] = out(x[base + k * st], m, inv, log_s); }
  }
}
