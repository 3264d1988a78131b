// attention.wgsl — the row pass of fused attention (src/ops/attention.ts), between the two products it
// shares with matmul: per row of raw scores s = q·kᵀ [B, H, T, T], probs = softmax(scale·s + mask[b]);
// DROP 1: dropped = dropout(probs) with the bits random.wgsl gives element e of the [B, H, T, T] tensor
// (word e&1 of Threefry(key, (e/2, 0)); dropped when its top 24 bits < thresh, else scaled by keep);
// GATE 1: gated = gate[b, h] · (dropped or probs). The product with v then reads the last of these.
// bindings: 0 s (read) [B, H, T, T]; 1 mask (read) [B, T] additive; 2 gate (read) [H] or [B, H] (gate
//   stride gs); 3 probs (write); 4 dropped (write, DROP 1); 5 gated (write, GATE 1);
//   6 params { rows, T, H, scale, k0, k1, thresh, keep, gs }.
// geometry: one thread per row (B·H·T rows), workgroups folded into x/y.
// numerics: as softmax.wgsl after the unfused scalar mul and mask add: x = s·scale + mask, max-subtracted,
//   exp(x − m)·(1/Σ); the same f32 operations in the same order.
override WG: u32 = 64u;
override DROP: u32 = 0u;
override GATE: u32 = 0u;
struct Params { rows: u32, T: u32, H: u32, scale: f32, k0: u32, k1: u32, thresh: u32, keep: f32, gs: u32 }
@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dropped: array<f32>;
@group(0) @binding(5) var<storage, read_write> gated: array<f32>;
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
  let row = (wg.x + wg.y * nwg.x) * WG + lane;
  if (row >= params.rows) { return; }
  let T = params.T;
  let bh = row / T;
  let mb = (bh / params.H) * T;
  let base = row * T;
  var m = -3.402823466e38;
  for (var j = 0u; j < T; j++) { m = max(m, s[base + j] * params.scale + mask[mb + j]); }
  var sum = 0.0;
  for (var j = 0u; j < T; j++) { sum += exp(s[base + j] * params.scale + mask[mb + j] - m); }
  let inv = 1.0 / sum;
  var g = 1.0;
  if (GATE == 1u) { g = gate[(bh / params.H) * params.gs + bh % params.H]; }
  // Counter c covers elements 2c and 2c + 1 (one hash per pair, as random.wgsl); a row may start mid-pair.
  for (var c = base >> 1u; c <= (base + T - 1u) >> 1u; c++) {
    var w = vec2u(0u);
    if (DROP == 1u) { w = threefry(c); }
    for (var k = 0u; k < 2u; k++) {
      let e = 2u * c + k;
      if (e >= base && e < base + T) {
        let p = exp(s[e] * params.scale + mask[mb + e - base] - m) * inv;
        probs[e] = p;
        var pd = p;
        if (DROP == 1u) {
          pd = select(p * params.keep, 0.0, (w[k] >> 8u) < params.thresh);
          dropped[e] = pd;
        }
        if (GATE == 1u) { gated[e] = pd * g; }
      }
    }
  }
}
