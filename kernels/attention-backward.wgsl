// attention-backward.wgsl — the row pass of fused attention's VJP (src/ops/attention.ts), between its
// products: given dg, the cotangent of what multiplied v (gated, dropped or probs; dg = dctx·vᵀ), per row
//   dp = dg (· gate with GATE) (through the dropout mask, dropped = 0 → 0, else · keep, with DROP),
//   ds = scale · probs ⊙ (dp − Σ_j probs ⊙ dp), and with GATE the row's share of the gate's gradient
//   Σ_j dropped ⊙ dg (the caller sums rows per head).
// bindings: 0 probs (read) [B, H, T, T]; 1 dropped (read; probs when DROP 0); 2 dg (read); 3 gate (read)
//   [H] or [B, H]; 4 ds (write) [B, H, T, T]; 5 gpart (write) [B·H·T] (GATE 1);
//   6 params { rows, T, H, scale, keep, gs }.
// geometry: one thread per row, workgroups folded into x/y.
// numerics: the unfused chain's f32 operations in its order (gate mul, dropout, softmax VJP, scale).
override WG: u32 = 64u;
override DROP: u32 = 0u;
override GATE: u32 = 0u;
struct Params { rows: u32, T: u32, H: u32, scale: f32, keep: f32, gs: u32 }
@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> dropped: array<f32>;
@group(0) @binding(2) var<storage, read> dg: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;
@group(0) @binding(4) var<storage, read_write> ds: array<f32>;
@group(0) @binding(5) var<storage, read_write> gpart: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

fn dprob(e: u32, g: f32) -> f32 {
  var dp = dg[e];
  if (GATE == 1u) { dp = dp * g; }
  if (DROP == 1u) { dp = select(dp * params.keep, 0.0, dropped[e] == 0.0); }
  return dp;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = (wg.x + wg.y * nwg.x) * WG + lane;
  if (row >= params.rows) { return; }
  let T = params.T;
  let bh = row / T;
  let base = row * T;
  var g = 1.0;
  if (GATE == 1u) { g = gate[(bh / params.H) * params.gs + bh % params.H]; }
  var c = 0.0;
  var gp = 0.0;
  for (var j = 0u; j < T; j++) {
    c += dprob(base + j, g) * probs[base + j];
    if (GATE == 1u) { gp += dg[base + j] * dropped[base + j]; }
  }
  for (var j = 0u; j < T; j++) {
    let e = base + j;
    ds[e] = probs[e] * (dprob(e, g) - c) * params.scale;
  }
  if (GATE == 1u) { gpart[row] = gp; }
}
