// layer-norm.wgsl — y = (x − mean) · rstd · weight + bias over each row of x[rows, cols];
// also writes mean and rstd = 1/√(var + eps) (biased variance) for the backward.
// bindings: 0 x (read) [rows, cols]; 1 weight [cols]; 2 bias [cols]; 3 y (write) [rows, cols];
// 4 mean (write) [rows]; 5 rstd (write) [rows]; 6 params { rows, cols, eps }
// geometry: MODE 0 one thread per row, serial loops; MODE 1 one workgroup per row, tree reductions.
// numerics: two passes (mean, then Σ(x − mean)²) avoid the cancellation of E[x²] − E[x]²; f32 sums.
override MODE: u32 = 0u;
override WG: u32 = 64u;
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let n = params.cols;
  let inv_n = 1.0 / f32(n);
  if (MODE == 0u) {
    let row = flat * WG + lane;
    if (row < params.rows) {
      let base = row * n;
      var s = 0.0;
      for (var k = 0u; k < n; k++) { s += x[base + k]; }
      let m = s * inv_n;
      var q = 0.0;
      for (var k = 0u; k < n; k++) { let d = x[base + k] - m; q += d * d; }
      let r = inverseSqrt(q * inv_n + params.eps);
      for (var k = 0u; k < n; k++) { y[base + k] = (x[base + k] - m) * r * weight[k] + bias[k]; }
      mean[row] = m;
      rstd[row] = r;
    }
  } else {
    // No early return: the barriers in `tree_sum` must stay in uniform control flow.
    let live = flat < params.rows;
    let base = flat * n;
    let len = select(0u, n, live);
    var s = 0.0;
    for (var k = lane; k < len; k += WG) { s += x[base + k]; }
    let m = tree_sum(lane, s) * inv_n;
    var q = 0.0;
    for (var k = lane; k < len; k += WG) { let d = x[base + k] - m; q += d * d; }
    let r = inverseSqrt(tree_sum(lane, q) * inv_n + params.eps);
    for (var k = lane; k < len; k += WG) { y[base + k] = (x[base + k] - m) * r * weight[k] + bias[k]; }
    if (live && lane == 0u) {
      mean[flat] = m;
      rstd[flat] = r;
    }
  }
}
