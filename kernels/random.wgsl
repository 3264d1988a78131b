// random.wgsl — counter-based random tensors and dropout; `override MODE` picks the output
// (ids in src/ops/random.ts): 0 raw bits, 1 uniform, 2 normal, 3 bernoulli, 4 dropout.
// hash: Threefry-2x32-20(key, counter (j, 0)) = (w0, w1), the integer arithmetic of threefry2x32 in
// src/ops/random.ts (u32 wrap-around), so both backends produce the same bits. Normal (MODE 2):
// element j uses both words of counter j. Every other mode: elements 2j and 2j+1 take w0 and w1 of
// counter j — one hash per two elements.
// bindings: 0 x (read) — dropout input, a 1-element dummy otherwise; 1 y (write) [n] as raw u32
// words (bitcast floats; IS_INT = 1 writes integers); 2 params { n, k0, k1, thresh, a, b }.
// geometry: one thread per counter (per element for normal, per pair otherwise), folded into x/y.
// numerics: u = (w0 >> 8)·2^-24 is exact; bernoulli/dropout compare w0 >> 8 with thresh in integers
// (identical on both backends). Normal: r = sqrt(−2 ln u1), u1 ∈ (0, 1]; ln near 1 uses an atanh
// series (log() is only guaranteed to an absolute 2^-21 there, which r = sqrt(·) would amplify);
// cos is evaluated on [−π, π), where its error bound holds.
override MODE: u32 = 0u;
override IS_INT: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32, k0: u32, k1: u32, thresh: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn rotl(v: u32, r: u32) -> u32 { return (v << r) | (v >> (32u - r)); }

fn four_rounds(v: vec2u, r: vec4u) -> vec2u {
  var a = v;
  for (var j = 0u; j < 4u; j++) {
    a.x = a.x + a.y;
    a.y = rotl(a.y, r[j]) ^ a.x;
  }
  return a;
}

fn threefry(c0: u32, c1: u32) -> vec2u {
  let k0 = params.k0;
  let k1 = params.k1;
  let k2 = k0 ^ k1 ^ 0x1BD11BDAu;
  let r0 = vec4u(13u, 15u, 26u, 6u);
  let r1 = vec4u(17u, 29u, 16u, 24u);
  var v = vec2u(c0 + k0, c1 + k1);
  v = four_rounds(v, r0) + vec2u(k1, k2 + 1u);
  v = four_rounds(v, r1) + vec2u(k2, k0 + 2u);
  v = four_rounds(v, r0) + vec2u(k0, k1 + 3u);
  v = four_rounds(v, r1) + vec2u(k1, k2 + 4u);
  v = four_rounds(v, r0) + vec2u(k2, k0 + 5u);
  return v;
}

// −2·ln u for u = k·2^-24 ∈ (0, 1]. Near 1: ln(1 − w) = −2·atanh(w / (2 − w)); 1 − u is exact there.
fn neg2log(u: f32) -> f32 {
  let w = 1.0 - u;
  if (w < 0.25) {
    let s = w / (2.0 - w);
    let s2 = s * s;
    let t = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0)))));
    return 4.0 * s * t;
  }
  return -2.0 * log(u);
}

// Element i from its 32 random bits `w` (and `w2`, the second word, for the normal's angle).
fn emit(i: u32, w: u32, w2: u32) {
  let top = w >> 8u;
  let u = f32(top) * 5.9604644775390625e-8; // 2^-24
  var v = 0.0;
  switch MODE {
    case 0u: { y[i] = w; return; }
    case 1u: { v = params.a + params.b * u; }
    case 2u: {
      let u1 = f32(top + 1u) * 5.9604644775390625e-8;
      let u2 = f32(w2 >> 8u) * 5.9604644775390625e-8;
      v = params.a + params.b * (sqrt(neg2log(u1)) * cos(3.14159265358979 * (2.0 * u2 - 1.0)));
    }
    case 3u: {
      if (IS_INT == 1u) { y[i] = select(0u, 1u, top < params.thresh); return; }
      v = select(0.0, 1.0, top < params.thresh);
    }
    case 4u: { v = select(x[i] * params.b, 0.0, top < params.thresh); }
    default: {}
  }
  y[i] = bitcast<u32>(v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let j = (wg.x + wg.y * nwg.x) * WG + lane;
  if (MODE == 2u) {
    if (j < params.n) { let w = threefry(j, 0u); emit(j, w.x, w.y); }
    return;
  }
  let i = 2u * j;
  if (i >= params.n) { return; }
  let w = threefry(j, 0u);
  emit(i, w.x, 0u);
  if (i + 1u < params.n) { emit(i + 1u, w.y, 0u); }
}
