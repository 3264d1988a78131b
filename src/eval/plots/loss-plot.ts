// Post-training loss curves of a run: x = global step over the whole domain sequence, y = the training
// loss averaged over seeds (band: min–max over seeds), one colour per method, the MLM term dashed
// where a method logs one (DAS: loss = MLM + contrastive term). Non-finite losses are skipped.
import { el, linearScale, niceTicks, num, paletteColour, svgDocument, text, tickLabels } from './svg.js';

/** One log.jsonl record; null where the value is absent or not finite. */
export interface LossPoint { step: number; loss: number | null; mlm: number | null }
/** One seed of a method: per domain t its records (empty where the log is missing). */
export interface LossRun { seed: number; domains: LossPoint[][] }
export interface LossMethod { method: string; runs: LossRun[] }
export interface LossPlotInput { title: string; domains: string[]; methods: LossMethod[] }

type Key = 'loss' | 'mlm';
interface Stat { x: number; mean: number; lo: number; hi: number }

/** Where each domain starts on the global step axis: domains follow each other by their longest log. */
export function domainOffsets(methods: readonly LossMethod[], domainCount: number): number[] {
  const length = (t: number) => Math.max(0, ...methods.flatMap((m) => m.runs.flatMap((r) => (r.domains[t] ?? []).map((p) => p.step))));
  const offsets = [0];
  for (let t = 0; t < domainCount; t++) offsets.push(offsets[t] + length(t));
  return offsets;
}

/** Per domain, the seed mean and min–max of `key` at each step with at least one finite value. */
export function seedStats(m: LossMethod, key: Key, offsets: readonly number[]): Stat[][] {
  return offsets.slice(0, -1).map((offset, t) => {
    const byStep = new Map<number, number[]>();
    for (const r of m.runs) {
      const last = new Map((r.domains[t] ?? []).map((p) => [p.step, p[key]])); // a resumed log: the last record wins
      for (const [step, v] of last) if (v !== null && Number.isFinite(v)) byStep.set(step, [...(byStep.get(step) ?? []), v]);
    }
    return [...byStep].sort((a, b) => a[0] - b[0]).map(([step, vs]) => ({ x: offset + step, mean: vs.reduce((a, b) => a + b, 0) / vs.length, lo: Math.min(...vs), hi: Math.max(...vs) }));
  });
}

const W = 960, H = 440, LEFT = 64, RIGHT = 190, TOP = 64, BOTTOM = 52;

/** The loss plot, or null when no method has a finite loss. */
export function lossSvg(input: LossPlotInput): string | null {
  const offsets = domainOffsets(input.methods, input.domains.length);
  const series = input.methods.map((m, i) => {
    const loss = seedStats(m, 'loss', offsets), mlm = seedStats(m, 'mlm', offsets);
    return { m, colour: paletteColour(i), loss, mlm: mlm.some((s) => s.length > 0) ? mlm : null };
  }).filter((s) => s.loss.some((d) => d.length > 0));
  if (series.length === 0) return null;
  const ys = series.flatMap((s) => [...s.loss, ...(s.mlm ?? [])].flat().flatMap((p) => [p.lo, p.hi]));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 6);
  const total = offsets[offsets.length - 1];
  const px = linearScale(0, total, LEFT, W - RIGHT), py = linearScale(yTicks[0], yTicks[yTicks.length - 1], H - BOTTOM, TOP);
  const line = (segments: Stat[][], f: (p: Stat) => number) =>
    segments.filter((d) => d.length > 0).map((d) => d.map((p, j) => `${j === 0 ? 'M' : 'L'}${num(px(p.x))} ${num(py(f(p)))}`).join('')).join('');
  const band = (segments: Stat[][]) => segments.filter((d) => d.length > 0).map((d) => `${line([d], (p) => p.hi)}${line([[...d].reverse()], (p) => p.lo).replace(/^M/, 'L')}Z`).join('');
  const manySeeds = series.some((s) => s.m.runs.length > 1);
  const body: string[] = [];
  const xTicks = niceTicks(0, total, 10).filter((x) => x >= 0 && x <= total);
  tickLabels(yTicks).forEach((label, i) => body.push(
    el('line', { x1: LEFT, x2: W - RIGHT, y1: py(yTicks[i]), y2: py(yTicks[i]), stroke: '#e5e5e5' }),
    text(LEFT - 6, py(yTicks[i]) + 4, label, { 'text-anchor': 'end' })));
  tickLabels(xTicks).forEach((label, i) => body.push(
    el('line', { x1: px(xTicks[i]), x2: px(xTicks[i]), y1: H - BOTTOM, y2: H - BOTTOM + 5, stroke: 'black' }),
    text(px(xTicks[i]), H - BOTTOM + 18, label, { 'text-anchor': 'middle' })));
  input.domains.forEach((name, t) => {
    if (t > 0) body.push(el('line', { x1: px(offsets[t] + 0.5), x2: px(offsets[t] + 0.5), y1: TOP, y2: H - BOTTOM, stroke: '#888', 'stroke-dasharray': '5 4' }));
    body.push(text(px((offsets[t] + offsets[t + 1]) / 2 + 0.5), TOP - 6, `${t}: ${name}`, { 'text-anchor': 'middle', fill: '#555' }));
  });
  for (const s of series) {
    if (s.m.runs.length > 1) body.push(el('path', { d: band(s.loss), fill: s.colour, 'fill-opacity': 0.15, stroke: 'none', 'data-series': 'band' }));
    body.push(el('path', { d: line(s.loss, (p) => p.mean), fill: 'none', stroke: s.colour, 'stroke-width': 1.8, 'data-series': 'loss', 'data-method': s.m.method }));
    if (s.mlm) body.push(el('path', { d: line(s.mlm, (p) => p.mean), fill: 'none', stroke: s.colour, 'stroke-width': 1.2, 'stroke-dasharray': '6 3', 'data-series': 'mlm', 'data-method': s.m.method }));
  }
  const legend = series.flatMap((s) => [{ label: s.m.method.toUpperCase(), colour: s.colour, dash: undefined as string | undefined },
    ...(s.mlm ? [{ label: `${s.m.method.toUpperCase()}: MLM term`, colour: s.colour, dash: '6 3' }] : [])]);
  legend.forEach((e, i) => body.push(
    el('line', { x1: W - RIGHT + 16, x2: W - RIGHT + 44, y1: TOP + 10 + 20 * i, y2: TOP + 10 + 20 * i, stroke: e.colour, 'stroke-width': 2, 'stroke-dasharray': e.dash }),
    text(W - RIGHT + 50, TOP + 14 + 20 * i, e.label)));
  const seeds = [...new Set(series.flatMap((s) => s.m.runs.map((r) => r.seed)))];
  body.push(
    el('rect', { x: LEFT, y: TOP, width: W - LEFT - RIGHT, height: H - TOP - BOTTOM, fill: 'none', stroke: 'black' }),
    text(LEFT, 22, input.title, { 'font-size': 16, 'font-weight': 'bold' }),
    text(LEFT, 40, `mean over seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}${manySeeds ? ' (band: min–max over seeds)' : ''}; ONE restarts from the base model at each domain`, { fill: '#555' }),
    text((LEFT + W - RIGHT) / 2, H - 12, 'post-training step (domains in sequence order)', { 'text-anchor': 'middle' }),
    text(0, 0, 'training loss', { transform: `translate(16 ${num((TOP + H - BOTTOM) / 2)}) rotate(-90)`, 'text-anchor': 'middle' }));
  return svgDocument(W, H, body);
}
