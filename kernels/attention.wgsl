// attention.wgsl — fused multi-head self-attention, forward: per head, probs = softmax(scale·q·kᵀ + mask),
// optional dropout on probs (the random.wgsl dropout bits of the [B, H, T, T] tensor), times the head's
// gate, then ·v: ctx[b, t, h] = Σ_j gate·dropout(probs)[b, h, t, j] · v[b, j, h].
// bindings: 0 qkv (read) [B, T, 3·H·Dh] (q | k | v, heads contiguous within each); 1 mask (read) [B, T]
//   additive; 2 gate (read) [H] or [B, H] (GATE 1, gate stride params.gs); 3 ctx (write) [B, T, H·Dh];
//   4 probs (write) [B, H, T, T] (softmax, before dropout); 5 dropped (write) [B, H, T, T] (DROP 1);
//   6 params { B, T, H, Dh, scale, k0, k1, thresh, keep, gs }.
// geometry: one workgroup per (b, h), folded into x/y; its WG lanes take query rows lane, lane + WG, …, so
//   k and v rows are loaded at workgroup-uniform addresses. Dh ≤ 64 (q and the output row in registers).
// numerics: f32; scores are staged in probs, softmax as softmax.wgsl (max-subtracted, exp · 1/Σ); ·v sums
//   over keys in order. Dropout: element i of [B, H, T, T] is dropped when (word i&1 of Threefry(key,
//   (i/2, 0))) >> 8 < thresh, else scaled by keep = 1/(1 − p), as random.wgsl does.
override WG: u32 = 64u;
override DROP: u32 = 0u;
override GATE: u32 = 0u;
override DH: u32 = 64u;
const DH_MAX = 64u;
struct Params { B: u32, T: u32, H: u32, Dh: u32, scale: f32, k0: u32, k1: u32, thresh: u32, keep: f32, gs: u32 }
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> ctx: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> dropped: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

fn rotl(v: u32, r: u32) -> u32 { return (v << r) | (v >> (32u - r)); }

fn four_rounds(v: vec2u, r: vec4u) -> vec2u {
  var a = v;
  for (var j = 0u; j < 4u; j++) {
    a.x = a.x + a.y;
    a.y = rotl(a.y, r[j]) ^ a.x;
  }
  return a;
}

// Threefry-2x32-20 of counter (c0, 0), as in random.wgsl.
fn threefry(c0: u32) -> vec2u {
  let k0 = params.k0;
  let k1 = params.k1;
  let k2 = k0 ^ k1 ^ 0x1BD11BDAu;
  let r0 = vec4u(13u, 15u, 26u, 6u);
  let r1 = vec4u(17u, 29u, 16u, 24u);
  var v = vec2u(c0 + k0, k1);
  v = four_rounds(v, r0) + vec2u(k1, k2 + 1u);
  v = four_rounds(v, r1) + vec2u(k2, k0 + 2u);
  v = four_rounds(v, r0) + vec2u(k0, k1 + 3u);
  v = four_rounds(v, r1) + vec2u(k1, k2 + 4u);
  v = four_rounds(v, r0) + vec2u(k2, k0 + 5u);
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let T = params.T;
  let H = params.H;
  let Dh = params.Dh;
  if (flat >= params.B * H) { return; }
  let b = flat / H;
  let h = flat % H;
  let D = H * Dh;
  let ld = 3u * D;
  var g = 1.0;
  if (GATE == 1u) { g = gate[b * params.gs + h]; }
  var q: array<f32, DH_MAX>;
  var acc: array<f32, DH_MAX>;
  // Uniform loops (lanes past T redo row T − 1 and store nothing): k and v loads stay workgroup-uniform.
  for (var i0 = 0u; i0 < T; i0 += WG) {
    let live = i0 + lane < T;
    let i = min(i0 + lane, T - 1u);
    let qb = (b * T + i) * ld + h * Dh;
    for (var d = 0u; d < DH; d++) { q[d] = qkv[qb + d]; acc[d] = 0.0; }
    let row = (flat * T + i) * T;
    var m = -3.402823466e38;
    for (var j = 0u; j < T; j++) {
      let kb = (b * T + j) * ld + D + h * Dh;
      var s = 0.0;
      for (var d = 0u; d < DH; d++) { s += q[d] * qkv[kb + d]; }
      s = s * params.scale + mask[b * T + j];
      if (live) { probs[row + j] = s; }
      m = max(m, s);
    }
    var sum = 0.0;
    for (var j = 0u; j < T; j++) { sum += exp(probs[row + j] - m); }
    let inv = 1.0 / sum;
    var w = vec2u(0u);
    for (var j = 0u; j < T; j++) {
      let p = exp(probs[row + j] - m) * inv;
      if (live) { probs[row + j] = p; }
      var pd = p;
      if (DROP == 1u) {
        let e = row + j;
        if (j == 0u || (e & 1u) == 0u) { w = threefry(e >> 1u); }
        let word = select(w.x, w.y, (e & 1u) == 1u);
        pd = select(p * params.keep, 0.0, (word >> 8u) < params.thresh);
        if (live) { dropped[e] = pd; }
      }
      if (GATE == 1u) { pd = pd * g; }
      let vb = (b * T + j) * ld + 2u * D + h * Dh;
      for (var d = 0u; d < DH; d++) { acc[d] += pd * qkv[vb + d]; }
    }
    let cb = (b * T + i) * D + h * Dh;
    if (live) { for (var d = 0u; d < DH; d++) { ctx[cb + d] = acc[d]; } }
  }
}
