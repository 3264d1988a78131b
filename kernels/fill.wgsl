// fill.wgsl — y[i] = value (MODE 0) or start + i·step (MODE 1), written as raw 32-bit patterns so
// f32 and i32 tensors share one kernel (IS_INT = 1: value/start/step are i32).
// bindings: 0 y (write) [n]; 1 params { n, value, step }   (value and step are bit patterns)
// geometry: one thread per element, workgroups folded into x/y.
override MODE: u32 = 0u;
override IS_INT: u32 = 0u;
override WG: u32 = 256u;
struct Params { n: u32, value: u32, step: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<u32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  if (MODE == 0u) { y[i] = params.value; return; }
  if (IS_INT == 1u) {
    y[i] = bitcast<u32>(bitcast<i32>(params.value) + i32(i) * bitcast<i32>(params.step));
  } else {
    y[i] = bitcast<u32>(bitcast<f32>(params.value) + f32(i) * bitcast<f32>(params.step));
  }
}
