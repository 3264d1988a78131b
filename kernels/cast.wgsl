// cast.wgsl — element type conversion between f32 and i32 (TO_INT = 1: f32 → i32, truncating
// toward zero like Math.trunc; TO_INT = 0: i32 → f32, rounding to nearest).
// bindings: 0 x (read, raw bits) [n]; 1 y (write, raw bits) [n]; 2 params { n }
// geometry: one thread per element, workgroups folded into x/y.
override TO_INT: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  if (TO_INT == 1u) { y[i] = bitcast<u32>(i32(bitcast<f32>(x[i]))); } else { y[i] = bitcast<u32>(f32(bitcast<i32>(x[i]))); }
}
