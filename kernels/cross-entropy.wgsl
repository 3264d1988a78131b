// cross-entropy.wgsl — fused log-softmax + NLL per row of logits[rows, cols] with integer labels.
// loss = logsumexp(row) − row[label] and valid = 1 for a labelled row; both 0 where label = ignore_index;
// loss = NaN for any other label outside [0, cols) (the host checks labels when it has them).
// bindings: 0 logits (read) [rows, cols]; 1 labels (read, i32) [rows]; 2 loss (write) [rows];
// 3 valid (write) [rows]; 4 lse (write) [rows]; 5 params { rows, cols, ignore_index }
// geometry: MODE 0 one thread per row, serial loops; MODE 1 one workgroup per row, tree reductions.
// numerics: max-subtracted logsumexp, so every exp argument is <= 0.
override MODE: u32 = 0u;
override WG: u32 = 64u;
struct Params { rows: u32, cols: u32, ignore_index: i32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> valid: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
// A NaN constant is a WGSL error; a private variable is not folded.
var<private> nan_bits: u32 = 0x7fc00000u;
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

fn finish(row: u32, m: f32, s: f32) {
  let z = m + log(s);
  let label = labels[row];
  let ignored = label == params.ignore_index;
  let in_range = label >= 0 && u32(label) < params.cols;
  let picked = logits[row * params.cols + u32(clamp(label, 0, i32(params.cols) - 1))];
  let nan = bitcast<f32>(nan_bits);
  loss[row] = select(select(nan, z - picked, in_range), 0.0, ignored);
  valid[row] = select(1.0, 0.0, ignored);
  lse[row] = z;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let n = params.cols;
  if (MODE == 0u) {
    let row = flat * WG + lane;
    if (row < params.rows) {
      let base = row * n;
      var m = -3.402823466e38;
      for (var k = 0u; k < n; k++) { m = max(m, logits[base + k]); }
      var s = 0.0;
      for (var k = 0u; k < n; k++) { s += exp(logits[base + k] - m); }
      finish(row, m, s);
    }
  } else {
    // No early return: the barriers in `tree` must stay in uniform control flow.
    let live = flat < params.rows;
    let base = flat * n;
    let len = select(0u, n, live);
    var m = -3.402823466e38;
    for (var k = lane; k < len; k += WG) { m = max(m, logits[base + k]); }
    m = tree(lane, m, true);
    var s = 0.0;
    for (var k = lane; k < len; k += WG) { s += exp(logits[base + k] - m); }
    s = tree(lane, s, false);
    if (live && lane == 0u) { finish(flat, m, s); }
  }
}
