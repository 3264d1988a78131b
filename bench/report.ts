// The JSON report's shape and its markdown table: our figure, each anchor's with the ratio, the best anchor.
import { type CaseResult, fmt } from './harness.js';

/** The machine's limits from bench/peak.c (declared here: the browser's bench page reads reports without Node). */
export interface PeakResult {
  status: 'ok' | 'unavailable'; note: string; isa?: string; vectorBits?: number; threads?: number;
  fmaGflops?: number; fmaGflops256?: number; fmaGflops1?: number; copyGBs?: number; copyGBs1?: number;
}

export interface ImplInfo { id: string; label: string; status: 'ok' | 'unavailable'; description: string }
export interface ColdResult { openMs?: number; firstStepMs?: number; secondStepMs?: number; error?: string; skipped?: string }
export interface DasResult {
  status: 'ok' | 'skipped' | 'error'; note: string; dasStepMs?: number; mlmStepMs?: number; ratio?: number; importanceTokensPerSec?: number;
  /** JS time to record one step (ms, median), before waiting for the device. */
  dasRecordMs?: number; mlmRecordMs?: number;
  /** The same two steps in PyTorch (torch-cpu, torch-cuda), on the same batch and model. */
  anchors?: Record<string, { dasStepMs?: number; mlmStepMs?: number; ratio?: number; error?: string }>;
}

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
  /** The machine's FMA peak and copy bandwidth (bench/peak.c), when measured. */
  peak?: PeakResult;
  notes: string[];
  wallSeconds: number;
}

/** How many times better ours is than x (>1: ahead, <1: behind). */
export const ratio = (ours: number, x: number, higher: boolean): number => (higher ? ours / x : x / ours);
const r = (x: number): string => `×${x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2)}`;

interface Row {
  label: string; unit: string; higher: boolean; values: Record<string, number | string | undefined>; ratios: boolean;
  /** Restates another row (tokens/s of the step). */ derived?: boolean;
  /** Ours as a fraction of the machine's limit (FMA peak for GFLOP/s, copy bandwidth for GB/s), on a CPU adapter. */ ofPeak?: number;
}

/** Whether the adapter runs on this machine's CPU (lavapipe, SwiftShader): only then is the CPU's peak ours. */
const cpuAdapter = (rep: Report): boolean => /llvmpipe|lavapipe|swiftshader|software/i.test(Object.values(rep.adapter).join(' '));

function rows(rep: Report): Row[] {
  const out: Row[] = [];
  const val = (c: CaseResult, id: string) => { const x = c.results[id]; return x?.figure ?? (x?.skipped ? `n/a` : x?.error ? 'error' : undefined); };
  for (const c of rep.cases) {
    const values: Row['values'] = {};
    for (const i of rep.impls) values[i.id] = val(c, i.id);
    const o = values.ours, pk = rep.peak?.status === 'ok' && cpuAdapter(rep) ? rep.peak : undefined;
    const limit = c.unit === 'GFLOP/s' ? pk?.fmaGflops : c.unit === 'GB/s' ? pk?.copyGBs : undefined;
    out.push({ label: c.label, unit: c.unit, higher: c.higherIsBetter, values, ratios: true, ...(typeof o === 'number' && limit ? { ofPeak: o / limit } : {}) });
    if (c.id === 'train_step') {
      const rec = c.results.ours?.extras?.recordMs;
      if (rec !== undefined) out.push({ label: 'JS time to record one train step (before waiting for the device)', unit: 'ms', higher: false, values: { ours: rec }, ratios: false });
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
    const an = rep.das.anchors ?? {};
    const their = (f: (x: NonNullable<DasResult['anchors']>[string]) => number | undefined) =>
      Object.fromEntries(Object.entries(an).map(([id, x]) => [id, x.error !== undefined ? 'error' : f(x)]));
    out.push({ label: 'DAS step (MLM + 3 contrastive passes, soft-masked AdamW; dropout 0.1)', unit: 'ms', higher: false, values: { ours: rep.das.dasStepMs, ...their((x) => x.dasStepMs) }, ratios: true });
    out.push({ label: 'DAS step ÷ plain MLM step (dropout 0.1 in both)', unit: '×', higher: false, values: { ours: rep.das.ratio, ...their((x) => x.ratio) }, ratios: false });
    if (rep.das.dasRecordMs !== undefined) out.push({ label: 'JS time to record one DAS step', unit: 'ms', higher: false, values: { ours: rep.das.dasRecordMs }, ratios: false });
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
    `| figure | unit | ours | ${anchors.map((i) => `${i.label} | `).join('')}best anchor | ours vs best | ours, share of the machine's limit |`,
    `|---|---|---:|${anchors.map(() => '---:|').join('')}---|---:|---:|`,
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
    const share = row.ofPeak === undefined ? '–' : `${(row.ofPeak * 100).toFixed(row.ofPeak < 0.1 ? 1 : 0)} %`;
    lines.push(`| ${row.label} | ${row.unit} | ${cell(o)} | ${cells.map((x) => `${x} | `).join('')}${b ? b.label : '–'} | ${vs} | ${share} |`);
  }
  if (rep.das.status !== 'ok') lines.push('', `DAS step and importance: ${rep.das.status} — ${rep.das.note}`);
  const pk = rep.peak;
  if (pk !== undefined) {
    lines.push('', pk.status === 'ok'
      ? `Machine limits (${pk.note}): FMA peak ${fmt(pk.fmaGflops!)} GFLOP/s f32 (${pk.threads} threads; 256-bit vectors ${fmt(pk.fmaGflops256!)}; one thread ${fmt(pk.fmaGflops1!)}), copy bandwidth ${fmt(pk.copyGBs!)} GB/s (read + write; one thread ${fmt(pk.copyGBs1!)}). ` +
        (cpuAdapter(rep) ? 'The last column divides our GFLOP/s by the FMA peak and our GB/s by the copy bandwidth.' : 'Our adapter is not this CPU, so no shares are given.')
      : `Machine limits: not measured — ${pk.note}`);
  }
  const g = gaps(rep).filter((x) => x.ratio < 1).slice(0, 3);
  if (g.length) {
    lines.push('', 'Furthest behind the best anchor:');
    for (const x of g) lines.push(`- ${x.label}: ours ${fmt(x.ours)} ${x.unit} vs ${x.best} ${fmt(x.bestValue)} (${r(x.ratio)})`);
  }
  if (rep.notes.length) lines.push('', ...rep.notes.map((n) => `- ${n}`));
  lines.push('', `Wall time of the run: ${rep.wallSeconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
}
