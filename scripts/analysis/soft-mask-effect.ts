// What DAS's soft mask does to the weights, measured on a finished `das run` that holds das, das-update
// and ncl (e.g. results/roster-3seeds): for the first domain, where all three start from the base model
// and DAS is masked by the KL-proxy importance alone, the change of every parameter group and of every
// masked unit, relative to NCL's change of the same unit.
//   XDG_RUNTIME_DIR=/tmp npx vite-node scripts/analysis/soft-mask-effect.ts -- RUN_DIR [BASE_MODEL]
// Prints markdown: (1) the share of the parameters and of each method's squared weight change per
// group (embeddings, LM head, layer norms, soft-masked matrices); (2) per band of the soft-mask factor
// 1 − I of FFN neurons and attention heads, the median over units of ‖Δ_method(unit)‖ / ‖Δ_ncl(unit)‖.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpu } from '../../src/backend/cpu.js';
import { accumulateDirs } from '../../src/das-files/domain-importance.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { parseCheckpointConfig } from '../../src/io/hf-checkpoint.js';
import { readFileSync } from 'node:fs';
import { toArray } from '../../src/tensor/tensor.js';
import { release } from '../../src/tensor/scope.js';

const [run, baseDir = 'models/base'] = process.argv.slice(2).filter((a) => a !== '--');
if (run === undefined) throw new Error('usage: soft-mask-effect.ts RUN_DIR [BASE_MODEL]');
const backend = cpu();
type T = Map<string, { shape: number[]; data: Float32Array }>;
const load = async (dir: string): Promise<T> => {
  const r = await readSafetensors(join(dir, 'model.safetensors'));
  if (!('right' in r)) throw new Error(`cannot read ${dir}`);
  return r.right.tensors as unknown as T;
};
const parsed = parseCheckpointConfig(readFileSync(join(baseDir, 'config.json'), 'utf8'));
if (!('right' in parsed)) throw parsed.left;
const cfg = parsed.right;
const { layers: L, heads: H, intermediate: F, width: D } = cfg;
const dh = D / H;
const base = await load(baseDir);
const methods = ['ncl', 'das', 'das-update'];
const seeds = readdirSync(join(run, 'das')).filter((s) => s.startsWith('seed-')).sort();
const domain0 = readdirSync(join(run, 'das', seeds[0])).find((d) => d.startsWith('0-'))!;

const group = (name: string): string => {
  if (name.includes('embeddings.word') || name.includes('position_embeddings') || name.includes('token_type')) return 'embeddings (never masked)';
  if (name.includes('LayerNorm') || name.includes('layer_norm')) return 'layer norms (never masked)';
  if (name.startsWith('lm_head')) return 'LM head (never masked)';
  if (/attention\.self\.(query|key|value)|intermediate\.dense|output\.dense/.test(name) && !name.includes('attention.output.dense.bias')) return 'soft-masked matrices and biases';
  return 'other (attention-output bias)';
};
const sq = (a: Float32Array, b: Float32Array, idx?: (i: number) => boolean) => { let s = 0; for (let i = 0; i < a.length; i++) if (!idx || idx(i)) s += (a[i] - b[i]) ** 2; return s; };

const share: Record<string, Record<string, number[]>> = {};
const params: Record<string, number> = {};
for (const [k, t] of base) { const g = group(k); params[g] = (params[g] ?? 0) + t.data.length; }
const bands = [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1.0001]] as const;
const ratios: Record<string, Record<string, number[][]>> = {};   // method → kind → band → ratios

for (const seed of seeds) {
  const models: Record<string, T> = {};
  for (const m of methods) {
    const dir = join(run, m, seed, domain0, 'model');
    if (!existsSync(dir)) throw new Error(`${dir} is missing: the run needs das, das-update and ncl`);
    models[m] = await load(dir);
  }
  const acc = await accumulateDirs([join(run, 'das', seed, 'kl-importance')], cfg, backend);
  const head = await toArray(acc.head), inter = await toArray(acc.intermediate);
  release(acc);
  for (const m of methods) {
    const per: Record<string, number> = {};
    let total = 0;
    for (const [k, t] of base) { const s = sq(models[m].get(k)!.data, t.data); per[group(k)] = (per[group(k)] ?? 0) + s; total += s; }
    share[m] ??= {};
    for (const [g, s] of Object.entries(per)) (share[m][g] ??= []).push(s / total);
  }
  // per unit: FFN neuron j = row j of intermediate.dense (weight + bias) and column j of output.dense; head h = its rows of Q, K, V
  const unitDelta = (m: string, l: number, kind: 'ffn' | 'head', j: number): number => {
    const p = `roberta.encoder.layer.${l}`;
    const d = (name: string, idx: (i: number) => boolean) => sq(models[m].get(`${p}.${name}`)!.data, base.get(`${p}.${name}`)!.data, idx);
    if (kind === 'ffn') return Math.sqrt(d('intermediate.dense.weight', (i) => Math.floor(i / D) === j) + d('intermediate.dense.bias', (i) => i === j) + d('output.dense.weight', (i) => i % F === j));
    const rows = (i: number) => Math.floor(Math.floor(i / D) / dh) === j;
    return Math.sqrt(['query', 'key', 'value'].reduce((a, q) => a + d(`attention.self.${q}.weight`, rows) + d(`attention.self.${q}.bias`, (i) => Math.floor(i / dh) === j), 0));
  };
  for (const m of ['das', 'das-update']) {
    ratios[m] ??= { ffn: bands.map(() => []), head: bands.map(() => []) };
    for (let l = 0; l < L; l++) {
      for (const [kind, n, imp] of [['ffn', F, inter], ['head', H, head]] as const) {
        for (let j = 0; j < n; j++) {
          const s = 1 - imp[l * n + j], b = bands.findIndex(([lo, hi]) => s >= lo && s < hi);
          const ref = unitDelta('ncl', l, kind, j);
          if (ref > 0) ratios[m][kind][b].push(unitDelta(m, l, kind, j) / ref);
        }
      }
    }
  }
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const total = Object.values(params).reduce((a, x) => a + x, 0);
const out: string[] = [];
out.push(`Domain ${domain0}, seeds ${seeds.map((s) => s.slice(5)).join(', ')}; every method starts from ${baseDir}.`, '');
out.push('| parameter group | share of parameters | share of ‖Δθ‖², NCL | DAS (gradient) | DAS (update) |', '| --- | ---: | ---: | ---: | ---: |');
for (const g of Object.keys(params).sort()) out.push(`| ${g} | ${(100 * params[g] / total).toFixed(1)} % | ${methods.map((m) => `${(100 * mean(share[m][g] ?? [0])).toFixed(1)} %`).join(' | ')} |`);
out.push('', '| soft-mask factor 1 − I | FFN neurons | DAS (gradient): median ‖Δ‖ / ‖Δ_NCL‖ | DAS (update) | heads | DAS (gradient) | DAS (update) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
bands.forEach(([lo, hi], b) => {
  const f = (m: string, k: 'ffn' | 'head') => (ratios[m][k][b].length ? median(ratios[m][k][b]).toFixed(3) : '–');
  out.push(`| ${lo.toFixed(2)}–${Math.min(hi, 1).toFixed(2)} | ${ratios.das.ffn[b].length} | ${f('das', 'ffn')} | ${f('das-update', 'ffn')} | ${ratios.das.head[b].length} | ${f('das', 'head')} | ${f('das-update', 'head')} |`);
});
process.stdout.write(`${out.join('\n')}\n`);
