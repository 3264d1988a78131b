// layer-norm-backward.wgsl — gradients of layer norm from the saved mean and rstd, x̂ = (x − mean)·rstd.
// MODE 0/1 (rows): dx = rstd · (g⊙w − mean(g⊙w) − x̂ · mean(g⊙w⊙x̂)).
// MODE 2 (columns): dweight[c, j] = Σ g⊙x̂ and dbias[c, j] = Σ g over the rows of chunk c (host sums chunks).
// bindings: 0 x (read) [rows, cols]; 1 weight [cols]; 2 mean [rows]; 3 rstd [rows]; 4 g [rows, cols];
// 5 dx (write) [rows, cols]; 6 dweight (write) [chunks, cols]; 7 dbias (write) [chunks, cols];
// 8 params { rows, cols, chunk }
// geometry: MODE 0 one thread per row; MODE 1 one workgroup per row (tree sums); MODE 2 grid
// (⌈cols/WG⌉, chunks): one thread per column and chunk, a serial loop over `chunk` rows in a fixed
// order, so the result does not depend on scheduling (no atomics).
override MODE: u32 = 0u;
override WG: u32 = 64u;
struct Params { rows: u32, cols: u32, chunk: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;
var<workgroup> scratch: array<vec2f, WG>;

fn tree_sum(lane: u32, v: vec2f) -> vec2f {
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
  let n = params.cols;
  let inv_n = 1.0 / f32(n);
  if (MODE == 2u) {
    let j = wg.x * WG + lane;
    if (j < n) {
      let start = wg.y * params.chunk;
      let stop = min(params.rows, start + params.chunk);
      var dw = 0.0;
      var db = 0.0;
      for (var r = start; r < stop; r++) {
        let gv = g[r * n + j];
        dw += gv * (x[r * n + j] - mean[r]) * rstd[r];
        db += gv;
      }
      dweight[wg.y * n + j] = dw;
      dbias[wg.y * n + j] = db;
    }
  } else if (MODE == 0u) {
    let row = (wg.x + wg.y * nwg.x) * WG + lane;
    if (row < params.rows) {
      let base = row * n;
      let m = mean[row];
      let r = rstd[row];
      var a = 0.0;
      var b = 0.0;
      for (var k = 0u; k < n; k++) { let gw = g[base + k] * weight[k]; a += gw; b += gw * (x[base + k] - m); }
      a *= inv_n;
      b *= inv_n * r;
      for (var k = 0u; k < n; k++) {
        dx[base + k] = r * (g[base + k] * weight[k] - a - (x[base + k] - m) * r * b);
      }
    }
  } else {
    let row = wg.x + wg.y * nwg.x;
    let live = row < params.rows;
    let base = row * n;
    let len = select(0u, n, live);
    let m = select(0.0, mean[min(row, params.rows - 1u)], live);
    let r = select(0.0, rstd[min(row, params.rows - 1u)], live);
    var ab = vec2f(0.0);
    for (var k = lane; k < len; k += WG) { let gw = g[base + k] * weight[k]; ab += vec2f(gw, gw * (x[base + k] - m)); }
    ab = tree_sum(lane, ab);
    let a = ab.x * inv_n;
    let b = ab.y * inv_n * r;
    for (var k = lane; k < len; k += WG) {
      dx[base + k] = r * (g[base + k] * weight[k] - a - (x[base + k] - m) * r * b);
    }
  }
}
