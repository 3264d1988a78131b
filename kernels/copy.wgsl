// copy.wgsl — strided copy: y[outOff + Σ c_k·ys_k] = x[inOff + Σ c_k·xs_k] for every coordinate c of
// an iteration shape (rank ≤ 6 after merging adjacent axes). Serves permute, slice, pad and concat
// (src/ops/movement.ts). Elements are moved as raw 32-bit patterns, so f32 and i32 share it.
// bindings: 0 x (read) ; 1 y (write) ; 2 params { n, rank, inOff, outOff, dims }
// dims (20 u32): iteration shape [0..6), x strides [6..12), y strides [12..18).
// geometry: ROWS = 0: one thread per element; ROWS = 1: one thread per run of the innermost axis
// (index arithmetic once per run, not per element — 5–10× on lavapipe for head splits). Workgroups
// are folded into x/y.
override WG: u32 = 256u;
override ROWS: u32 = 0u;
struct Params { n: u32, rank: u32, inOff: u32, outOff: u32, dims: array<vec4u, 5> }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn m(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  // ROWS = 1: n counts runs; the innermost axis (rank − 1) is walked by the loop below.
  let last = i32(params.rank) - 1;
  let first = select(last, last - 1, ROWS == 1u);
  var rest = i;
  var ix = params.inOff;
  var iy = params.outOff;
  for (var d = first; d >= 0; d--) {
    let k = u32(d);
    let dim = m(k);
    let c = rest % dim;
    rest = rest / dim;
    ix += c * m(6u + k);
    iy += c * m(12u + k);
  }
  if (ROWS == 0u) {
    y[iy] = x[ix];
  } else {
    let k = u32(last);
    let sx = m(6u + k);
    let sy = m(12u + k);
    for (var j = 0u; j < m(k); j++) { y[iy + j * sy] = x[ix + j * sx]; }
  }
}
