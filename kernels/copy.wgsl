// copy.wgsl — strided copy: y[outOff + Σ c_k·ys_k] = x[inOff + Σ c_k·xs_k] for every coordinate c of
// an iteration shape (rank ≤ 6 after merging adjacent axes). Serves permute, slice, pad and concat
// (src/ops/movement.ts). Elements are moved as raw 32-bit patterns, so f32 and i32 share it.
// bindings: 0 x (read) ; 1 y (write) ; 2 params { n, rank, inOff, outOff, dims }
// dims (20 u32): iteration shape [0..6), x strides [6..12), y strides [12..18).
// geometry: one thread per element of the iteration shape, workgroups folded into x/y.
override WG: u32 = 256u;
struct Params { n: u32, rank: u32, inOff: u32, outOff: u32, dims: array<vec4u, 5> }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn m(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  var rest = i;
  var ix = params.inOff;
  var iy = params.outOff;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let dim = m(k);
    let c = rest % dim;
    rest = rest / dim;
    ix += c * m(6u + k);
    iy += c * m(12u + k);
  }
  y[iy] = x[ix];
}
