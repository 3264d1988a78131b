// unary.wgsl — pointwise y = f(x) over n elements; `override OP` picks f (ids in src/ops/unary.ts).
// OP 16 is GELU's VJP, y = g · GELU′(x), with the cotangent g at binding 1 (other ops bind x there too).
// bindings: 0 x (read) [n]; 1 g (read) [n]; 2 y (write) [n]; 3 params { n, alpha }
// geometry: each thread maps PER elements WG apart, workgroups folded into x/y.
// numerics: tanh from exp(-2|x|) (no overflow); erf is Eigen/XLA's rational approximation on
// [-4, 4] (≈1 ulp in f32); GELU is the exact erf form 0.5·x·(1 + erf(x/√2)).
override OP: u32 = 0u;
override WG: u32 = 256u;
override PER: u32 = 1u;
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

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

fn stable_tanh(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

fn f(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return inverseSqrt(v); }
    case 5u: { return stable_tanh(v); }
    case 6u: { return erf_approx(v); }
    case 7u: { return 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476)); }
    case 8u: { return abs(v); }
    case 9u: { return 1.0 / (1.0 + exp(-v)); }
    case 10u: { return v * v; }
    case 11u: { return 1.0 / v; }
    case 12u: { return max(v, 0.0); }
    case 13u: { return sign(v); }
    case 14u, 16u: { // d/dx GELU = Φ(x) + x·φ(x)
      return 0.5 * (1.0 + erf_approx(v * 0.7071067811865476)) + v * 0.3989422804014327 * exp(-0.5 * v * v);
    }
    case 15u: { return pow(v, params.alpha); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let base = (wg.x + wg.y * nwg.x) * WG * PER + lane;
  for (var k = 0u; k < PER; k++) {
    let i = base + k * WG;
    if (i < params.n) {
      if (OP == 16u) { y[i] = g[i] * f(x[i]); } else { y[i] = f(x[i]); }
    }
  }
}
