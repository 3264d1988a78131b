// layer-norm.wgsl — y = (x − mean) · rstd · weight + bias over each row of x[rows, cols];
// also writes mean and rstd = 1/√(var + eps) (biased variance) for the backward.
// RES 1: the rows are x + res (a residual connection, res [rows, cols] or, with params.rb 1, [cols]), and
// the sum is written to s for the backward: add + layer norm in one dispatch.
// bindings: 0 x (read) [rows, cols]; 1 res (read; x again when RES 0); 2 weight [cols]; 3 bias [cols];
// 4 y (write) [rows, cols]; 5 mean (write) [rows]; 6 rstd (write) [rows]; 7 s (write) [rows, cols] (RES 1);
// 8 params { rows, cols, eps, rb }
// geometry: MODE 0 one thread per row, serial loops; MODE 1 one workgroup per row, tree reductions.
// numerics: two passes (mean, then Σ(x − mean)²) avoid the cancellation of E[x²] − E[x]²; f32 sums.
override MODE: u32 = 0u;
override WG: u32 = 64u;
override RES: u32 = 0u;
struct Params { rows: u32, cols: u32, eps: f32, rb: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> res: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;
var<workgroup> scratch: array<f32, WG>;

// Element k of the row at `base`: x, or x + res (RES 1).
fn xv(base: u32, k: u32) -> f32 {
  if (RES == 0u) { return x[base + k]; }
  return x[base + k] + res[select(base + k, k, params.rb == 1u)];
}

fn out(base: u32, k: u32, m: f32, r: f32) {
  let v = xv(base, k);
  y[base + k] = (v - m) * r * weight[k] + bias[k];
  if (RES == 1u) { s[base + k] = v; }
}

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
      var t = 0.0;
      for (var k = 0u; k < n; k++) { t += xv(base, k); }
      let m = t * inv_n;
      var q = 0.0;
      for (var k = 0u; k < n; k++) { let d = xv(base, k) - m; q += d * d; }
      let r = inverseSqrt(q * inv_n + params.eps);
      for (var k = 0u; k < n; k++) { out(base, k, m, r); }
      mean[row] = m;
      rstd[row] = r;
    }
  } else {
    // No early return: the barriers in `tree_sum` must stay in uniform control flow.
    let live = flat < params.rows;
    let base = flat * n;
    let len = select(0u, n, live);
    var t = 0.0;
    for (var k = lane; k < len; k += WG) { t += xv(base, k); }
    let m = tree_sum(lane, t) * inv_n;
    var q = 0.0;
    for (var k = lane; k < len; k += WG) { let d = xv(base, k) - m; q += d * d; }
    let r = inverseSqrt(tree_sum(lane, q) * inv_n + params.eps);
    for (var k = lane; k < len; k += WG) { out(base, k, m, r); }
    if (live && lane == 0u) {
      mean[flat] = m;
      rstd[flat] = r;
    }
  }
}
