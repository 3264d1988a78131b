// gather-backward.wgsl — deterministic embedding gradient without atomics:
// dtable[id_u, d] = Σ_{k in segment u} g[pos_k, d], summed in ascending position order.
// The host sorts token positions by id into `plan` (i32): U + 1 segment starts, then the positions
// (src/ops/embedding.ts); a segment's id is the id of its first token. Rows absent from the plan
// are zeroed by a fill dispatch beforehand.
// bindings: 0 g (read, f32) [N·D]; 1 ids (read, i32) [N]; 2 plan (read, i32) [U + 1 + N'];
//           3 y (write, f32) [V·D]; 4 params { n = U·D, U, D }
// geometry: one thread per (segment, column), folded into x/y; a thread loops over its segment.
// numerics: sequential f32 adds in the CPU rule's order, so both give the same bits on every run.
override WG: u32 = 256u;
struct Params { n: u32, U: u32, D: u32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> plan: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lane;
  if (i >= params.n) { return; }
  let u = i / params.D;
  let d = i % params.D;
  let base = params.U + 1u;
  let start = u32(plan[u]);
  let end = u32(plan[u + 1u]);
  let row = u32(ids[plan[base + start]]);
  var acc = 0.0;
  for (var k = start; k < end; k++) {
    acc += g[u32(plan[base + k]) * params.D + d];
  }
  y[row * params.D + d] = acc;
}
