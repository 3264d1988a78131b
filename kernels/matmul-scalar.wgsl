// matmul-scalar.wgsl — matmul.wgsl for any layout: same params, geometry and results, but a and b are
// read one f32 at a time (used when the contiguous dimension of a or b is not a multiple of 4, or K = 0).
// bindings: 0 a (read) [.., M, K] or [.., K, M]; 1 b (read) [.., K, N] or [.., N, K]; 2 bias [N]; 3 c
//   (write) [batch, M, N]; 4 u (write, ACT 1); 5 params as in matmul.wgsl; epilogue (BIAS, ACT) as there.
// geometry: tilesN·tilesM·batch workgroups folded into x/y; each thread a TM×TN block (TM = 4·TM4,
//   TN = 4·TN4), one k per step, no workgroup memory.
// numerics: f32 sums in k order; rows and columns past M, N are clamped on load and never stored.
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override BIAS: u32 = 0u;
override ACT: u32 = 0u;
override TM4: u32 = 1u;
override TN4: u32 = 1u;
override WGX: u32 = 8u;
override WGY: u32 = 8u;
struct Params { M: u32, N: u32, K: u32, tilesN: u32, tilesM: u32, total: u32, rank: u32, pad: u32, dims: array<vec4u, 3>, cs: vec4u, ld: vec4u, base: vec4u }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

fn dim(k: u32) -> u32 { return params.dims[k / 4u][k % 4u]; }

// Epilogue (BIAS, ACT): c = act(acc + bias[n]); with ACT 1 (exact GELU) the pre-activation goes to u.
// erf as in unary.wgsl (Eigen/XLA's rational form on [-4, 4]).
fn erf_approx(v: f32) -> f32 {
  let a = clamp(v, -4.0, 4.0);
  let a2 = a * a;
  var p = -2.72614225801306e-10;
  p = p * a2 + 2.77068142495902e-08;
  p = p * a2 - 2.10102402082508e-06;
  p = p * a2 - 5.69250639462346e-05;
  p = p * a2 - 7.34990630326855e-04;
  p = p * a2 - 2.95459980854025e-03;
  p = p * a2 - 1.60960333262415e-02;
  var q = -1.45660718464996e-05;
  q = q * a2 - 2.13374055278905e-04;
  q = q * a2 - 1.68282697438203e-03;
  q = q * a2 - 7.37332916720468e-03;
  q = q * a2 - 1.42647390514189e-02;
  return a * p / q;
}

fn store(i: u32, n: u32, v: f32) {
  var r = v;
  if (BIAS == 1u) { r += bias[n]; }
  if (ACT == 1u) {
    u[i] = r;
    r = 0.5 * r * (1.0 + erf_approx(r * 0.7071067811865476));
  }
  c[i] = r;
}

@compute @workgroup_size(WGX, WGY)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let flat = wg.x + wg.y * nwg.x;
  if (flat >= params.total) { return; }
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let tn = flat % params.tilesN;
  var z = flat / params.tilesN;
  let tm = z % params.tilesM;
  z = z / params.tilesM;
  var aoff = params.base.x;
  var boff = params.base.y;
  var coff = params.base.z;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let n = dim(u32(d));
    aoff += (z % n) * dim(4u + u32(d));
    boff += (z % n) * dim(8u + u32(d));
    coff += (z % n) * params.cs[d];
    z = z / n;
  }
  let m0 = (tm * WGY + lid.y) * TM4 * 4u;
  let n0 = (tn * WGX + lid.x) * TN4 * 4u;
  // Per-thread element strides along m and k of a, and along k and n of b.
  let sam = select(params.ld.x, 1u, TRANS_A == 1u);
  let sak = select(1u, params.ld.x, TRANS_A == 1u);
  let sbk = select(params.ld.y, 1u, TRANS_B == 1u);
  let sbn = select(1u, params.ld.y, TRANS_B == 1u);
  var acc: array<vec4f, 32>;
  var av: array<f32, 16>;
  var bv: array<f32, 16>;
  for (var k = 0u; k < K; k++) {
    for (var i = 0u; i < 4u * TM4; i++) { av[i] = a[aoff + min(m0 + i, M - 1u) * sam + k * sak]; }
    for (var j = 0u; j < 4u * TN4; j++) { bv[j] = b[boff + k * sbk + min(n0 + j, N - 1u) * sbn]; }
    for (var i = 0u; i < 4u * TM4; i++) {
      for (var t = 0u; t < TN4; t++) {
        acc[i * TN4 + t] += av[i] * vec4f(bv[4u * t], bv[4u * t + 1u], bv[4u * t + 2u], bv[4u * t + 3u]);
      }
    }
  }
  for (var i = 0u; i < 4u * TM4; i++) {
    if (m0 + i < M) {
      for (var j = 0u; j < 4u * TN4; j++) {
        if (n0 + j < N) { store(coff + (m0 + i) * params.ld.z + n0 + j, n0 + j, acc[i * TN4 + j / 4u][j % 4u]); }
      }
    }
  }
}
