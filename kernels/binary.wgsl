// binary.wgsl — broadcasting z = a ∘ b over n output elements; `override OP` picks ∘ (ids in
// src/ops/binary.ts). SCALAR = 1: b is params.scalar; SCALAR = 2: a is params.scalar (then the
// tensor operand is bound at both 0 and 1; read-only aliasing is allowed).
// bindings: 0 a (read); 1 b (read); 2 z (write) [n]; 3 params { n, rank, scalar, same, dims }
// dims (20 u32): output shape [0..6), a strides [6..12), b strides [12..18); strides are 0 on
// broadcast axes. `same` picks the indexing: 1 one shape (no arithmetic); 2 b repeats with period
// dims[0] (row broadcast, e.g. a bias); 3 a repeats likewise; 0 general strides (div/mod per axis).
// geometry: each thread handles PER elements WG apart; workgroups folded into x/y. On CPU drivers
// fewer, fuller workgroups and the cheap modes are 2–3× faster. Comparisons give 1.0 / 0.0.
override OP: u32 = 0u;
override SCALAR: u32 = 0u;
override WG: u32 = 256u;
override PER: u32 = 1u;
struct Params { n: u32, rank: u32, scalar: f32, same: u32, dims: array<vec4u, 5> }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn m(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

fn f(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return max(x, y); }
    case 5u: { return min(x, y); }
    case 6u: { return select(0.0, 1.0, x == y); }
    case 7u: { return select(0.0, 1.0, x != y); }
    case 8u: { return select(0.0, 1.0, x < y); }
    case 9u: { return select(0.0, 1.0, x <= y); }
    case 10u: { return select(0.0, 1.0, x > y); }
    case 11u: { return select(0.0, 1.0, x >= y); }
    default: { return x; }
  }
}

fn element(i: u32) {
  var ia = i;
  var ib = i;
  if (params.same == 0u) {
    ia = 0u;
    ib = 0u;
    var rest = i;
    for (var d = i32(params.rank) - 1; d >= 0; d--) {
      let k = u32(d);
      let dim = m(k);
      let c = rest % dim;
      rest = rest / dim;
      ia += c * m(6u + k);
      ib += c * m(12u + k);
    }
  } else if (params.same == 2u) {
    ib = i % m(0u);
  } else if (params.same == 3u) {
    ia = i % m(0u);
  }
  if (SCALAR == 1u) {
    z[i] = f(a[ia], params.scalar);
  } else if (SCALAR == 2u) {
    z[i] = f(params.scalar, b[ib]);
  } else {
    z[i] = f(a[ia], b[ib]);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  // PER consecutive blocks of WG elements per workgroup: fewer, fuller workgroups on CPU drivers.
  let base = (wg.x + wg.y * nwg.x) * WG * PER + lane;
  for (var k = 0u; k < PER; k++) {
    let i = base + k * WG;
    if (i < params.n) { element(i); }
  }
}
