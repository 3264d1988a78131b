// cross-entropy-backward.wgsl — dlogits = (softmax(row) − onehot(label)) · g[row]; 0 on ignored rows,
// NaN on rows whose label is out of range. softmax comes from the saved logsumexp: exp(logit − lse).
// bindings: 0 logits (read) [rows, cols]; 1 labels (read, i32) [rows]; 2 lse (read) [rows];
// 3 g (read) [rows]; 4 dlogits (write) [rows, cols]; 5 params { rows, cols, ignore_index }
// geometry: one thread per element, WG threads per workgroup, workgroups folded into x/y.
override WG: u32 = 256u;
struct Params { rows: u32, cols: u32, ignore_index: i32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
// A NaN constant is a WGSL error; a private variable is not folded.
var<private> nan_bits: u32 = 0x7fc00000u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.rows * params.cols) { return; }
  let row = i / params.cols;
  let label = labels[row];
  let in_range = label >= 0 && u32(label) < params.cols;
  let hit = select(0.0, 1.0, in_range && u32(label) == i % params.cols);
  let d = (exp(logits[i] - lse[row]) - hit) * g[row];
  let nan = bitcast<f32>(nan_bits);
  dlogits[i] = select(select(nan, d, in_range), 0.0, label == params.ignore_index);
}
