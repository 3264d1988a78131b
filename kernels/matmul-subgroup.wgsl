// matmul-subgroup.wgsl — matmul.wgsl's register kernel for devices with 8-wide subgroups (lavapipe):
// the 8 threads of a subgroup share their 8 rows of a, each loading one vec4 and taking the other seven
// with subgroupBroadcast, so a is read once per subgroup instead of once per thread.
// bindings, params, epilogue and results: as matmul.wgsl (a, b read as vec4; contiguous dims a multiple of 4).
// geometry: workgroup 8×WGY threads, one subgroup per row of 8 (the host checks the subgroup size);
//   each thread computes 8 rows × 4·TN4 columns, k in chunks of 4. No workgroup memory.
// numerics: f32 sums in k order; rows and columns past M, N are clamped on load and never stored; k past K
//   reads zero.
enable subgroups;
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override BIAS: u32 = 0u;
override ACT: u32 = 0u;
override TN4: u32 = 2u;
override WGY: u32 = 8u;
// ld: row strides of a, b, c (lda, ldb, ldc, -); base: element offsets of a, b, c; cs: c's batch strides.
struct Params { M: u32, N: u32, K: u32, tilesN: u32, tilesM: u32, total: u32, rank: u32, pad: u32, dims: array<vec4u, 3>, cs: vec4u, ld: vec4u, base: vec4u }
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<private> acc: array<vec4f, 32>; // [8][TN4]
var<private> ablk: array<vec4f, 8>;
var<private> bblk: array<vec4f, 16>;

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

// TRANS_A 0: ablk[i] = a[m0 + i, k..k+3]; 1: ablk[2q + h] = a[m0 + 4h..+3, k + q] (stored [K, M]).
fn loadA(off: u32, m0: u32, k: u32, lane: u32) {
  let M = params.M;
  let K = params.K;
  var mine: vec4f;
  if (TRANS_A == 0u) {
    mine = a[(off + min(m0 + lane, M - 1u) * params.ld.x + k) / 4u];
  } else {
    let kr = k + lane / 2u;
    mine = select(vec4f(0.0), a[(off + min(kr, K - 1u) * params.ld.x + min(m0 + 4u * (lane % 2u), M - 4u)) / 4u], kr < K);
  }
  ablk[0] = subgroupBroadcast(mine, 0u);
  ablk[1] = subgroupBroadcast(mine, 1u);
  ablk[2] = subgroupBroadcast(mine, 2u);
  ablk[3] = subgroupBroadcast(mine, 3u);
  ablk[4] = subgroupBroadcast(mine, 4u);
  ablk[5] = subgroupBroadcast(mine, 5u);
  ablk[6] = subgroupBroadcast(mine, 6u);
  ablk[7] = subgroupBroadcast(mine, 7u);
}

// As matmul.wgsl: TRANS_B 0: bblk[q·TN4 + t] = b[k + q, n0 + 4t..+3]; 1: bblk[j] = b[n0 + j, k..k+3].
fn loadB(off: u32, n0: u32, k: u32) {
  let N = params.N;
  let K = params.K;
  if (TRANS_B == 0u) {
    for (var q = 0u; q < 4u; q++) {
      let kr = min(k + q, K - 1u);
      for (var t = 0u; t < TN4; t++) {
        bblk[q * TN4 + t] = select(vec4f(0.0), b[(off + kr * params.ld.y + min(n0 + 4u * t, N - 4u)) / 4u], k + q < K);
      }
    }
  } else {
    for (var j = 0u; j < 4u * TN4; j++) { bblk[j] = b[(off + min(n0 + j, N - 1u) * params.ld.y + k) / 4u]; }
  }
}

fn aval(i: u32, q: u32) -> f32 {
  if (TRANS_A == 0u) { return ablk[i][q]; }
  return ablk[2u * q + i / 4u][i % 4u];
}

fn brow(q: u32, t: u32) -> vec4f {
  if (TRANS_B == 0u) { return bblk[q * TN4 + t]; }
  return vec4f(bblk[4u * t][q], bblk[4u * t + 1u][q], bblk[4u * t + 2u][q], bblk[4u * t + 3u][q]);
}

@compute @workgroup_size(8, WGY)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  if (flat < params.total) {
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
    let m0 = (tm * WGY + lid.y) * 8u;
    let n0 = (tn * 8u + lid.x) * TN4 * 4u;
    for (var k = 0u; k < K; k += 4u) {
      loadA(aoff, m0, k, lane);
      loadB(boff, n0, k);
      for (var i = 0u; i < 8u; i++) {
        for (var t = 0u; t < TN4; t++) {
          acc[i * TN4 + t] += aval(i, 0u) * brow(0u, t) + aval(i, 1u) * brow(1u, t) + aval(i, 2u) * brow(2u, t) + aval(i, 3u) * brow(3u, t);
        }
      }
    }
    for (var i = 0u; i < 8u; i++) {
      if (m0 + i < M) {
        for (var j = 0u; j < 4u * TN4; j++) {
          if (n0 + j < N) { store(coff + (m0 + i) * params.ld.z + n0 + j, n0 + j, acc[i * TN4 + j / 4u][j % 4u]); }
        }
      }
    }
  }
}
