// The JSON report's shape and its markdown table: our figure, each anchor's with the ratio, the best anchor.
import { type CaseResult, fmt } from './harness.js';

export interface ImplInfo { id: string; label: string; status: 'ok' | 'unavailable'; description: string }
export interface ColdResult { openMs?: number; firstStepMs?: number; secondStepMs?: number; error?: string; skipped?: string }
export interface DasResult { status: 'ok' | 'skipped' | 'error'; note: string; dasStepMs?: number; mlmStepMs?: number; ratio?: number; importanceTokensPerSec?: number }

export interface Report {
  schema: 'das-webgpu-bench/1';
  date: string;
  size: 'full' | 'quick' | 'tiny';
  machine: Record<string, unknown>;
  adapter: Record<string, unknown>;
  impls: ImplInfo[];
  cases: CaseResult[];
  cold: Record<string, ColdResult>;
  das: DasResult;
  notes: string[];
  wallSeconds: number;
}

/** How many times better ours is than x (>1: ahead, <1: behind). */
export const ratio = (ours: number, x: number, higher: boolean): number => (higher ? ours / x : x / ours);
const r = (x: number): string => `×${x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2)}`;

interface Row { label: string; unit: string; higher: boolean; values: Record<string, number | string | undefined>; ratios: boolean; /** Restates another row (tokens/s of the step). */ derived?: boolean }

function rows(rep: Report): Row[] {
  const out: Row[] = [];
  const val = (c: CaseResult, id: string) => { const x = c.results[id]; return x?.figure ?? (x?.skipped ? `n/a` : x?.error ? 'error' : undefined); };
  for (const c of rep.cases) {
    const values: Row['values'] = {};
    for (const i of rep.impls) values[i.id] = val(c, i.id);
    out.push({ label: c.label, unit: c.unit, higher: c.higherIsBetter, values, ratios: true });
    if (c.id === 'train_step') {
      const tps: Row['values'] = {};
      for (const i of rep.impls) { const v = values[i.id]; tps[i.id] = typeof v === 'number' ? (c.work / v) * 1000 : v; }
      out.push({ label: 'train step throughput', unit: 'tokens/s', higher: true, values: tps, ratios: true, derived: true });
      const mem: Row['values'] = {};
      for (const i of rep.impls) {
        const m = c.results[i.id]?.memory;
        const b = m?.peakLiveBytes ?? m?.gpuAllocatedBytes ?? m?.peakAllocatedBytes;
        if (b !== undefined) mem[i.id] = b / 2 ** 20;
      }
      if (Object.keys(mem).length) out.push({ label: 'GPU memory per step: ours peak live; tfjs allocated; torch-cuda peak', unit: 'MiB', higher: false, values: mem, ratios: false });
    }
  }
  const cold: Row['values'] = {};
  for (const [id, c] of Object.entries(rep.cold)) cold[id] = c.firstStepMs ?? (c.skipped ? 'n/a' : c.error ? 'error' : undefined);
  if (Object.keys(rep.cold).length) out.push({ label: 'first train step, cold shader cache (fresh process)', unit: 'ms', higher: false, values: cold, ratios: true });
  if (rep.das.status === 'ok') {
    out.push({ label: 'DAS step ÷ plain MLM step', unit: '×', higher: false, values: { ours: rep.das.ratio }, ratios: false });
    if (rep.das.importanceTokensPerSec !== undefined) out.push({ label: 'importance (gate gradients)', unit: 'tokens/s', higher: true, values: { ours: rep.das.importanceTokensPerSec }, ratios: false });
  }
  return out;
}

export interface Gap { label: string; unit: string; ours: number; best: string; bestValue: number; ratio: number }

/** Kernel and step figures ordered by how far ours is behind the best anchor (lowest ratio first). */
export function gaps(rep: Report): Gap[] {
  const anchors = rep.impls.filter((i) => i.id !== 'ours' && i.status === 'ok');
  const out: Gap[] = [];
  for (const row of rows(rep)) {
    const o = row.values.ours;
    if (!row.ratios || row.derived || typeof o !== 'number') continue;
    let best: Gap | undefined;
    for (const a of anchors) {
      const v = row.values[a.id];
      if (typeof v !== 'number') continue;
      const q = ratio(o, v, row.higher);
      if (!best || q < best.ratio) best = { label: row.label, unit: row.unit, ours: o, best: a.label, bestValue: v, ratio: q };
    }
    if (best) out.push(best);
  }
  return out.sort((a, b) => a.ratio - b.ratio);
}

export function markdown(rep: Report): string {
  const ok = rep.impls.filter((i) => i.status === 'ok');
  const anchors = ok.filter((i) => i.id !== 'ours');
  const a = rep.adapter as { vendor?: string; architecture?: string; device?: string; description?: string; backend?: string };
  const m = rep.machine as { cpu?: string; cores?: number; memoryGiB?: number; os?: string; node?: string; hostname?: string; loadavg?: number[] };
  const lines = [
    `## das-webgpu benchmarks — ${rep.date} (${rep.size})`,
    '',
    `Machine: ${m.cpu} × ${m.cores} logical CPUs, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}. Load average at start ${m.loadavg?.map((x) => x.toFixed(2)).join(' / ')}.`,
    `Adapter (ours): ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')}.`,
    '',
    ...rep.impls.map((i) => `- **${i.label}** (\`${i.id}\`): ${i.status === 'ok' ? i.description : `not measured — ${i.description}`}`),
    '',
    'Each anchor cell: its figure and (×r) = how many times better ours is (r > 1: we are ahead; r < 1: behind). Medians of interleaved samples after warm-up; work forced to completion. `n/a`: the anchor cannot run it (see JSON).',
    '',
    `| figure | unit | ours | ${anchors.map((i) => `${i.label} | `).join('')}best anchor | ours vs best |`,
    `|---|---|---:|${anchors.map(() => '---:|').join('')}---|---:|`,
  ];
  for (const row of rows(rep)) {
    const o = row.values.ours;
    const cell = (v: number | string | undefined) => (v === undefined ? '–' : typeof v === 'string' ? v : fmt(v));
    let best: { label: string; v: number } | undefined;
    const cells = anchors.map((i) => {
      const v = row.values[i.id];
      if (typeof v !== 'number') return cell(v);
      if (!best || (row.higher ? v > best.v : v < best.v)) best = { label: i.label, v };
      return typeof o === 'number' && row.ratios ? `${fmt(v)} (${r(ratio(o, v, row.higher))})` : fmt(v);
    });
    const b = best as { label: string; v: number } | undefined;
    const vs = b && typeof o === 'number' && row.ratios ? r(ratio(o, b.v, row.higher)) : '–';
    lines.push(`| ${row.label} | ${row.unit} | ${cell(o)} | ${cells.map((x) => `${x} | `).join('')}${b ? b.label : '–'} | ${vs} |`);
  }
  if (rep.das.status !== 'ok') lines.push('', `DAS step and importance: ${rep.das.status} — ${rep.das.note}`);
  const g = gaps(rep).filter((x) => x.ratio < 1).slice(0, 3);
  if (g.length) {
    lines.push('', 'Furthest behind the best anchor:');
    for (const x of g) lines.push(`- ${x.label}: ours ${fmt(x.ours)} ${x.unit} vs ${x.best} ${fmt(x.bestValue)} (${r(x.ratio)})`);
  }
  if (rep.notes.length) lines.push('', ...rep.notes.map((n) => `- ${n}`));
  lines.push('', `Wall time of the run: ${rep.wallSeconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
}
