// attention-backward.wgsl — VJP of attention.wgsl for one (b, h) per workgroup, given the cotangent dctx:
//   phase 1 (lanes over query rows i): dP = gate·(dctx_i · v_j), through the dropout mask (dropped = 0) and
//   keep, dS = scale · probs ⊙ (dP − Σ_j probs ⊙ dP), stored in ds; dq_i = Σ_j dS_ij k_j; the gate's
//   gradient Σ_ij dropped ⊙ (dctx_i · v_j) (GATE 1), summed over the workgroup in a fixed tree order.
//   phase 2 (lanes over keys j, after a barrier): dv_j = Σ_i gate·dropped_ij dctx_i, dk_j = Σ_i dS_ij q_i.
// bindings: 0 qkv (read) [B, T, 3·H·Dh]; 1 probs (read) [B, H, T, T]; 2 dropped (read) [B, H, T, T] (probs
//   again when DROP 0); 3 gate (read) [H] or [B, H]; 4 dctx (read) [B, T, H·Dh]; 5 dqkv (write) [B, T, 3·H·Dh];
//   6 ds (read_write, scratch) [B, H, T, T]; 7 dgate (write) [B, H] (GATE 1);
//   8 params { B, T, H, Dh, scale, keep, gs }.
// geometry: as attention.wgsl (one workgroup per (b, h), WG a power of two, Dh ≤ 64). No early return: the
//   barriers stay in uniform control flow.
// numerics: f32 sums over keys (phase 1) and queries (phase 2) in index order; deterministic.
override WG: u32 = 64u;
override DROP: u32 = 0u;
override GATE: u32 = 0u;
override DH: u32 = 64u;
const DH_MAX = 64u;
struct Params { B: u32, T: u32, H: u32, Dh: u32, scale: f32, keep: f32, gs: u32 }
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> dropped: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;
@group(0) @binding(4) var<storage, read> dctx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(6) var<storage, read_write> ds: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;
var<workgroup> scratch: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let live = flat < params.B * params.H;
  let T = select(0u, params.T, live);
  let H = params.H;
  let Dh = params.Dh;
  let b = flat / H;
  let h = flat % H;
  let D = H * Dh;
  let ld = 3u * D;
  var g = 1.0;
  if (GATE == 1u && live) { g = gate[b * params.gs + h]; }
  var r0: array<f32, DH_MAX>;
  var r1: array<f32, DH_MAX>;
  var gpart = 0.0;
  for (var i = lane; i < T; i += WG) {
    let cb = (b * T + i) * D + h * Dh;
    for (var d = 0u; d < DH; d++) { r0[d] = dctx[cb + d]; r1[d] = 0.0; }
    let row = (flat * T + i) * T;
    var c = 0.0;
    for (var j = 0u; j < T; j++) {
      let vb = (b * T + j) * ld + 2u * D + h * Dh;
      var dp = 0.0;
      for (var d = 0u; d < DH; d++) { dp += r0[d] * qkv[vb + d]; }
      let e = row + j;
      if (GATE == 1u) { gpart += dropped[e] * dp; dp = dp * g; }
      if (DROP == 1u) { dp = select(dp * params.keep, 0.0, dropped[e] == 0.0); }
      ds[e] = dp;
      c += probs[e] * dp;
    }
    for (var j = 0u; j < T; j++) {
      let e = row + j;
      let s = probs[e] * (ds[e] - c) * params.scale;
      ds[e] = s;
      let kb = (b * T + j) * ld + D + h * Dh;
      for (var d = 0u; d < DH; d++) { r1[d] += s * qkv[kb + d]; }
    }
    let qb = (b * T + i) * ld + h * Dh;
    for (var d = 0u; d < DH; d++) { dqkv[qb + d] = r1[d]; }
  }
  if (GATE == 1u) {
    scratch[lane] = gpart;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lane < s) { scratch[lane] += scratch[lane + s]; }
      workgroupBarrier();
    }
    if (live && lane == 0u) { dgate[flat] = scratch[0]; }
  }
  storageBarrier();
  for (var j = lane; j < T; j += WG) {
    for (var d = 0u; d < DH; d++) { r0[d] = 0.0; r1[d] = 0.0; }
    for (var i = 0u; i < T; i++) {
      let e = (flat * T + i) * T + j;
      var pd = dropped[e];
      if (GATE == 1u) { pd = pd * g; }
      let s = ds[e];
      let cb = (b * T + i) * D + h * Dh;
      let qb = (b * T + i) * ld + h * Dh;
      for (var d = 0u; d < DH; d++) {
        r0[d] += pd * dctx[cb + d];
        r1[d] += s * qkv[qb + d];
      }
    }
    let kb = (b * T + j) * ld + D + h * Dh;
    for (var d = 0u; d < DH; d++) {
      dqkv[kb + d] = r1[d];
      dqkv[kb + D + d] = r0[d];
    }
  }
}
