// gather.wgsl — embedding lookup: y[t, d] = table[ids[t], d] for t < N, d < D. An id outside
// [0, V) yields a zero row (the host validates ids when it has them; see src/ops/embedding.ts).
// Rows are moved as raw 32-bit patterns, so f32 and i32 tables share the kernel.
// bindings: 0 table (read) [V·D]; 1 ids (read, i32) [N]; 2 y (write) [N·D]; 3 params { n = N·D, D, V }
// geometry: one thread per output element (adjacent threads read adjacent columns), folded into x/y.
override WG: u32 = 256u;
struct Params { n: u32, D: u32, V: u32 }
@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  let t = i / params.D;
  let d = i % params.D;
  let id = ids[t];
  var v = 0u;
  if (id >= 0 && u32(id) < params.V) { v = table[u32(id) * params.D + d]; }
  y[i] = v;
}
