// matmul.wgsl — c[z] = op(a[z]) · op(b[z]) for f32, op = optional transpose (TRANS_A, TRANS_B), batched.
// Epilogue: BIAS 1 adds bias[n] to every row; ACT 1 then applies exact GELU and writes the pre-activation
//   to u (linear + GELU in one dispatch). Unused epilogue bindings are bound to 1-element stand-ins.
// bindings: 0 a (read, vec4) [.., M, K] or [.., K, M]; 1 b (read, vec4) [.., K, N] or [.., N, K]; 2 bias
//   (read) [N]; 3 c (write) [batch, M, N]; 4 u (write) [batch, M, N] (ACT 1);
//   5 params { M, N, K, tilesN, tilesM, total, rank, dims, cs, ld, base }, dims (12 u32): batch shape
//   [0..4), a and b batch strides in elements [4..8), [8..12) (0 on broadcast axes); cs: c's batch strides;
//   ld: row strides (lda, ldb, ldc) and base: element offsets of a, b, c — strided views, e.g. one head of
//   a packed [B, T, 3·H·Dh] tensor, read and written in place.
// The contiguous dimension, row stride, offset and batch strides of a and of b must be multiples of 4 (else
//   matmul-scalar.wgsl is used).
// geometry: tilesN·tilesM·batch workgroups folded into x/y; a workgroup computes a (WGY·TM)×(WGX·TN)
//   tile of c, each thread a TM×TN block (TM = 4·TM4, TN = 4·TN4), k in chunks of 4.
//   SHARED 0: each thread loads its own rows of a and columns of b (no workgroup memory or barriers;
//   best on lavapipe). SHARED 1: the workgroup stages BK-deep slices of a and b in workgroup memory.
// numerics: f32 sums in k order; rows and columns past M, N are clamped on load and never stored; k past K
//   reads zero.
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override BIAS: u32 = 0u;
override ACT: u32 = 0u;
override SHARED: u32 = 0u;
override TM4: u32 = 2u;
override TN4: u32 = 1u;
override WGX: u32 = 8u;
override WGY: u32 = 8u;
override BK: u32 = 16u;
// ld: row strides of a, b, c (lda, ldb, ldc, -); base: element offsets of a, b, c; cs: c's batch strides.
struct Params { M: u32, N: u32, K: u32, tilesN: u32, tilesM: u32, total: u32, rank: u32, pad: u32, dims: array<vec4u, 3>, cs: vec4u, ld: vec4u, base: vec4u }
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> As: array<vec4f, BK * WGY * TM4>; // [BK][BM / 4]: 4 consecutive rows per vec4
var<workgroup> Bs: array<vec4f, BK * WGX * TN4>; // [BK][BN / 4]
var<private> acc: array<vec4f, 32>; // [TM][TN4]
var<private> ablk: array<vec4f, 16>;
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

// TRANS_A 0: ablk[i] = a[m0 + i, k..k+3]; 1: ablk[4q·TM4/4 + t] = a[m0 + 4t..+3, k + q] (stored [K, M]).
fn loadA(off: u32, m0: u32, k: u32) {
  let M = params.M;
  let K = params.K;
  if (TRANS_A == 0u) {
    for (var i = 0u; i < 4u * TM4; i++) { ablk[i] = a[(off + min(m0 + i, M - 1u) * params.ld.x + k) / 4u]; }
  } else {
    for (var q = 0u; q < 4u; q++) {
      let kr = min(k + q, K - 1u);
      for (var t = 0u; t < TM4; t++) {
        ablk[q * TM4 + t] = select(vec4f(0.0), a[(off + kr * params.ld.x + min(m0 + 4u * t, M - 4u)) / 4u], k + q < K);
      }
    }
  }
}

// TRANS_B 0: bblk[q·TN4 + t] = b[k + q, n0 + 4t..+3]; 1: bblk[j] = b[n0 + j, k..k+3] (stored [N, K]).
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
  return ablk[q * TM4 + i / 4u][i % 4u];
}

// Row k + q of the thread's B block, columns 4t..4t+3 (a register transpose when TRANS_B = 1).
fn brow(q: u32, t: u32) -> vec4f {
  if (TRANS_B == 0u) { return bblk[q * TN4 + t]; }
  return vec4f(bblk[4u * t][q], bblk[4u * t + 1u][q], bblk[4u * t + 2u][q], bblk[4u * t + 3u][q]);
}

fn accumulateChunk() {
  for (var i = 0u; i < 4u * TM4; i++) {
    for (var t = 0u; t < TN4; t++) {
      acc[i * TN4 + t] += aval(i, 0u) * brow(0u, t) + aval(i, 1u) * brow(1u, t) + aval(i, 2u) * brow(2u, t) + aval(i, 3u) * brow(3u, t);
    }
  }
}

// Stages a[mb.., k0..k0+BK) into As; a k-major (TRANS_A 0) chunk is transposed on the way in.
fn stageA(off: u32, mb: u32, k0: u32, lane: u32) {
  let M = params.M;
  let K = params.K;
  let BM4 = WGY * TM4;
  if (TRANS_A == 0u) {
    for (var e = lane; e < BM4 * BK; e += WGX * WGY) {
      let row = e / (BK / 4u);
      let k = k0 + 4u * (e % (BK / 4u));
      let v = select(vec4f(0.0), a[(off + min(mb + row, M - 1u) * params.ld.x + min(k, K - 4u)) / 4u], k < K);
      let s = (k - k0) * BM4 + row / 4u;
      let r = row % 4u;
      As[s][r] = v.x; As[s + BM4][r] = v.y; As[s + 2u * BM4][r] = v.z; As[s + 3u * BM4][r] = v.w;
    }
  } else {
    for (var e = lane; e < BM4 * BK; e += WGX * WGY) {
      let k = k0 + e / BM4;
      As[e] = select(vec4f(0.0), a[(off + min(k, K - 1u) * params.ld.x + min(mb + 4u * (e % BM4), M - 4u)) / 4u], k < K);
    }
  }
}

fn stageB(off: u32, nb: u32, k0: u32, lane: u32) {
  let N = params.N;
  let K = params.K;
  let BN4 = WGX * TN4;
  if (TRANS_B == 0u) {
    for (var e = lane; e < BN4 * BK; e += WGX * WGY) {
      let k = k0 + e / BN4;
      Bs[e] = select(vec4f(0.0), b[(off + min(k, K - 1u) * params.ld.y + min(nb + 4u * (e % BN4), N - 4u)) / 4u], k < K);
    }
  } else {
    for (var e = lane; e < BN4 * BK; e += WGX * WGY) {
      let col = e / (BK / 4u);
      let k = k0 + 4u * (e % (BK / 4u));
      let v = select(vec4f(0.0), b[(off + min(nb + col, N - 1u) * params.ld.y + min(k, K - 4u)) / 4u], k < K);
      let s = (k - k0) * BN4 + col / 4u;
      let r = col % 4u;
      Bs[s][r] = v.x; Bs[s + BN4][r] = v.y; Bs[s + 2u * BN4][r] = v.z; Bs[s + 3u * BN4][r] = v.w;
    }
  }
}

fn accumulateStaged(ty: u32, tx: u32) {
  let BM4 = WGY * TM4;
  let BN4 = WGX * TN4;
  for (var kk = 0u; kk < BK; kk++) {
    for (var t = 0u; t < TM4; t++) { ablk[t] = As[kk * BM4 + ty * TM4 + t]; }
    for (var u = 0u; u < TN4; u++) { bblk[u] = Bs[kk * BN4 + tx * TN4 + u]; }
    for (var i = 0u; i < 4u * TM4; i++) {
      for (var u = 0u; u < TN4; u++) { acc[i * TN4 + u] += ablk[i / 4u][i % 4u] * bblk[u]; }
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) lane: u32) {
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
    let mb = tm * WGY * TM4 * 4u;
    let nb = tn * WGX * TN4 * 4u;
    let m0 = mb + lid.y * TM4 * 4u;
    let n0 = nb + lid.x * TN4 * 4u;
    if (SHARED == 0u) {
      for (var k = 0u; k < K; k += 4u) {
        loadA(aoff, m0, k);
        loadB(boff, n0, k);
        accumulateChunk();
      }
    } else {
      for (var k0 = 0u; k0 < K; k0 += BK) {
        stageA(aoff, mb, k0, lane);
        stageB(boff, nb, k0, lane);
        workgroupBarrier();
        accumulateStaged(lid.y, lid.x);
        workgroupBarrier();
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
}
