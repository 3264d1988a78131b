// where.wgsl — broadcasting select: z = cond ≠ 0 ? a : b over n output elements.
// cond is f32 (COND_INT = 0) or i32 (COND_INT = 1); an f32 cond is tested on its bits, so −0 is false
// and NaN true even where the compiler assumes finite math. a, b, z move as raw 32-bit words.
// bindings: 0 cond (read); 1 a (read); 2 b (read); 3 z (write) [n]; 4 params { n, rank, same, _, dims }
// dims (24 u32): output shape [0..6), strides of cond [6..12), a [12..18), b [18..24); strides are 0 on
// broadcast axes. same = 1: all four have one shape (no index arithmetic).
// geometry: one thread per output element, workgroups folded into x/y.
override COND_INT: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32, rank: u32, same: u32, unused: u32, dims: array<vec4u, 6> }
@group(0) @binding(0) var<storage, read> cond: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> z: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

fn m(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  var ic = i;
  var ia = i;
  var ib = i;
  if (params.same == 0u) {
    ic = 0u;
    ia = 0u;
    ib = 0u;
    var rest = i;
    for (var d = i32(params.rank) - 1; d >= 0; d--) {
      let k = u32(d);
      let dim = m(k);
      let c = rest % dim;
      rest = rest / dim;
      ic += c * m(6u + k);
      ia += c * m(12u + k);
      ib += c * m(18u + k);
    }
  }
  let bits = cond[ic];
  let mask = select(0x7fffffffu, 0xffffffffu, COND_INT == 1u);
  let pick = (bits & mask) != 0u;
  z[i] = select(b[ib], a[ia], pick);
}
