// reduce.wgsl — y[o, i] = scale · REDUCE_r x[o, r, i] for x viewed as [outer, r, inner].
// bindings: 0 x (read) [outer·r·inner]; 1 y (write) [outer·inner]; 2 params { outer, r, inner, scale }
// OP: 0 sum, 1 max. MODE 0: one thread per output, serial loop over r (best on lavapipe, where
// barriers are slow). MODE 1 (inner = 1): one workgroup per row, WG threads stride r, then a tree
// reduction in workgroup memory (for few long rows).
// numerics: f32 accumulation; max ignores nothing (NaN propagates through max() as the GPU does).
override OP: u32 = 0u;
override MODE: u32 = 0u;
override WG: u32 = 256u;
struct Params { outer: u32, r: u32, inner: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> scratch: array<f32, WG>;

fn init() -> f32 { if (OP == 1u) { return -3.402823466e38; } return 0.0; }
fn combine(a: f32, b: f32) -> f32 { if (OP == 1u) { return max(a, b); } return a + b; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  if (MODE == 0u) {
    let j = flat * WG + lane;
    if (j < params.outer * params.inner) {
      let o = j / params.inner;
      let i = j % params.inner;
      var acc = init();
      let base = o * params.r * params.inner + i;
      for (var r = 0u; r < params.r; r++) { acc = combine(acc, x[base + r * params.inner]); }
      y[j] = acc * select(1.0, params.scale, OP == 0u);
    }
  } else {
    // MODE 1: workgroup `flat` reduces row `flat`; no early return, so the barriers stay uniform.
    let row = flat;
    var acc = init();
    if (row < params.outer) {
      for (var r = lane; r < params.r; r += WG) { acc = combine(acc, x[row * params.r + r]); }
    }
    scratch[lane] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lane < s) { scratch[lane] = combine(scratch[lane], scratch[lane + s]); }
      workgroupBarrier();
    }
    if (lane == 0u && row < params.outer) { y[row] = scratch[0] * select(1.0, params.scale, OP == 0u); }
  }
}
