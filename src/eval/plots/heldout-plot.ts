// Held-out masked-LM loss of a run (`das run --held-out N`): one panel per domain k and one for the
// general text; x = the model after post-training domain t, y = the loss on that text (seed mean),
// one line per method, the base model's loss as a dashed grey line. In a domain's panel the line
// starts where the domain is learned (t = k; before it is shaded); how far it rises afterwards is
// the MLM forgetting. ONE keeps only its own domain's model, so it is a single point per domain.
import type { Matrix } from '../metrics.js';
import { el, linearScale, niceTicks, num, paletteColour, svgDocument, text, tickLabels } from './svg.js';

export interface HeldOutMethod {
  method: string;
  /** L[t][k]: loss on domain k's held-out text after post-training domain t (null where not evaluated). */
  loss: Matrix;
  /** Loss on the general text after each domain. */
  general: (number | null)[];
  /** Index of the method's colour (the same as in the other plots of the run). */
  colour: number;
}
export interface HeldOutPlotInput {
  title: string;
  subtitle: string;
  domains: string[];
  /** The general text's name in `base` (mlm-eval.ts GENERAL). */
  general: string;
  methods: HeldOutMethod[];
  /** The base model's losses by set name; null when not computed. */
  base: Record<string, number> | null;
}

interface Panel { label: string; name: string; first: number; series: { m: HeldOutMethod; ys: (number | null)[] }[] }

const PW = 230, PH = 170, PAD_L = 56, PAD_T = 40, PAD_B = 62, GAP = 24, COLS = 3, TOP = 64, LEGEND_W = 150;
const isNum = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** The panels of the held-out losses, or null when no method has any. */
export function heldOutSvg(input: HeldOutPlotInput): string | null {
  const T = input.domains.length;
  const panels: Panel[] = [
    ...input.domains.map((d, k) => ({ label: `${d}: held-out lines`, name: d, first: k, series: input.methods.map((m) => ({ m, ys: input.domains.map((_, t) => m.loss[t]?.[k] ?? null) })) })),
    { label: 'general text (validation lines)', name: input.general, first: 0, series: input.methods.map((m) => ({ m, ys: input.domains.map((_, t) => m.general[t] ?? null) })) },
  ];
  if (!panels.some((p) => p.series.some((s) => s.ys.some(isNum)))) return null;
  const cols = Math.min(COLS, panels.length), cellW = PAD_L + PW + GAP, cellH = PAD_T + PH + PAD_B;
  const body: string[] = [
    text(16, 24, input.title, { 'font-size': 16, 'font-weight': 'bold' }),
    text(16, 44, input.subtitle, { fill: '#555' }),
  ];
  panels.forEach((p, i) => {
    const x0 = 16 + (i % cols) * cellW + PAD_L, y0 = TOP + Math.floor(i / cols) * cellH + PAD_T;
    const base = input.base?.[p.name];
    const ys = [...p.series.flatMap((s) => s.ys.filter(isNum)), ...(isNum(base) ? [base] : [])];
    const yTicks = ys.length > 0 ? niceTicks(Math.min(...ys), Math.max(...ys), 4) : [0, 1];
    const px = linearScale(-0.5, T - 0.5, x0, x0 + PW), py = linearScale(yTicks[0], yTicks[yTicks.length - 1], y0 + PH, y0);
    const g: string[] = [text(x0, y0 - 10, p.label, { 'font-weight': 'bold' })];
    if (p.first > 0) g.push(el('rect', { x: x0, y: y0, width: px(p.first - 0.5) - x0, height: PH, fill: '#f2f2f2' }));
    tickLabels(yTicks).forEach((label, j) => g.push(
      el('line', { x1: x0, x2: x0 + PW, y1: py(yTicks[j]), y2: py(yTicks[j]), stroke: '#e5e5e5' }),
      text(x0 - 6, py(yTicks[j]) + 4, label, { 'text-anchor': 'end', 'font-size': 10 })));
    input.domains.forEach((d, t) => g.push(
      el('line', { x1: px(t), x2: px(t), y1: y0 + PH, y2: y0 + PH + 4, stroke: 'black' }),
      text(0, 0, d, { transform: `translate(${num(px(t) + 3)} ${num(y0 + PH + 14)}) rotate(-35)`, 'text-anchor': 'end', 'font-size': 10 })));
    if (isNum(base)) g.push(el('line', { x1: x0, x2: x0 + PW, y1: py(base), y2: py(base), stroke: '#777', 'stroke-dasharray': '5 4', 'data-series': 'base' }));
    for (const s of p.series) {
      const colour = paletteColour(s.m.colour);
      const segments: string[] = [];
      s.ys.forEach((v, t) => { if (isNum(v)) segments.push(`${isNum(s.ys[t - 1]) ? 'L' : 'M'}${num(px(t))} ${num(py(v))}`); });
      if (segments.length === 0) continue;
      g.push(el('path', { d: segments.join(''), fill: 'none', stroke: colour, 'stroke-width': 1.8, 'data-series': 'held-out', 'data-method': s.m.method, 'data-set': p.name }));
      s.ys.forEach((v, t) => { if (isNum(v)) g.push(el('circle', { cx: px(t), cy: py(v), r: 3, fill: colour })); });
    }
    g.push(el('rect', { x: x0, y: y0, width: PW, height: PH, fill: 'none', stroke: 'black' }),
      text(0, 0, 'MLM loss', { transform: `translate(${num(x0 - 42)} ${num(y0 + PH / 2)}) rotate(-90)`, 'text-anchor': 'middle', 'font-size': 10 }),
      text(x0 + PW / 2, y0 + PH + PAD_B - 4, 'after post-training', { 'text-anchor': 'middle', 'font-size': 10, fill: '#555' }));
    body.push(el('g', { 'data-panel': p.name }, ...g));
  });
  // the legend: in the free grid slot after the last panel, else right of the grid
  const n = panels.length, free = n % cols !== 0;
  const lx = free ? 16 + (n % cols) * cellW + PAD_L : 16 + cols * cellW, ly = TOP + (free ? Math.floor(n / cols) * cellH : 0) + PAD_T;
  const entries = [...input.methods.map((m) => ({ label: m.method.toUpperCase(), colour: paletteColour(m.colour), dash: undefined as string | undefined })),
    ...(input.base ? [{ label: 'base model', colour: '#777', dash: '5 4' }] : [])];
  entries.forEach((e, i) => body.push(
    el('line', { x1: lx, x2: lx + 28, y1: ly + 10 + 20 * i, y2: ly + 10 + 20 * i, stroke: e.colour, 'stroke-width': 2, 'stroke-dasharray': e.dash }),
    text(lx + 34, ly + 14 + 20 * i, e.label)));
  const rows = Math.ceil(n / cols);
  const width = Math.max(16 + cols * cellW + (free ? 0 : LEGEND_W), 16 + 7 * input.subtitle.length);
  return svgDocument(width, TOP + rows * cellH, body);
}
