// A method's progressive matrices A[t][k] (rows: the model after post-training domain t, columns:
// end task k) as annotated heatmaps, one panel per metric; cells show the score in % (1 decimal),
// null cells are grey and blank. The colours follow one scale given by the caller (the run's smallest
// to largest score over every method and metric, so plots of different methods compare), shown as a
// colour bar. A second row, where there is anything to show, is the forgetting view
// A[t][k] − A[k][k] (k < t: the change of task k's score since its own domain), on a diverging scale
// centred at 0 (red: lower than right after learning, i.e. forgotten; blue: higher), also shared.
import type { Matrix } from '../metrics.js';
import { RDBU, VIRIDIS, colourBar, diverging, el, inkOn, inkOnDiverging, niceTicks, svgDocument, text, tickLabels, viridis } from './svg.js';

export interface MatrixPanel { label: string; values: Matrix }
export interface MatrixPlotInput {
  title: string;
  /** One line per entry. */
  subtitle: string[];
  domains: string[];
  /** The scores (fractions), coloured on `range`. */
  panels: MatrixPanel[];
  /** [smallest, largest] score of the colour scale (fractions), shared by all plots of a run. */
  range: [number, number];
  /** The forgetting view of each panel (forgettingMatrix), coloured on [−limit, limit]; left out when null or all null. */
  change?: { panels: MatrixPanel[]; limit: number } | null;
}

/** A[t][k] − A[k][k] for k < t where both exist; null elsewhere (the diagonal, above it, missing cells). */
export function forgettingMatrix(a: Matrix): Matrix {
  return a.map((row, t) => row.map((x, k) => {
    const learned = a[k]?.[k] ?? null;
    return k < t && x !== null && learned !== null && Number.isFinite(x) && Number.isFinite(learned) ? x - learned : null;
  }));
}

const finite = (ms: readonly Matrix[]): number[] => ms.flatMap((m) => m.flat()).filter((v): v is number => v !== null && Number.isFinite(v));

/** Smallest and largest finite value over all the matrices; null when there is none. */
export function sharedRange(ms: readonly Matrix[]): [number, number] | null {
  const vs = finite(ms);
  return vs.length === 0 ? null : [Math.min(...vs), Math.max(...vs)];
}

/** Largest |value| over all the matrices (0 without any): the half-width of a diverging scale centred at 0. */
export const changeLimit = (ms: readonly Matrix[]): number => Math.max(0, ...finite(ms).map(Math.abs));

/** A change in percentage points, signed, 1 decimal, "0.0" for anything that rounds to zero. */
export function signedPoints(v: number): string {
  const s = (100 * v).toFixed(1);
  return /^-?0\.0$/.test(s) ? '0.0' : v > 0 ? `+${s}` : s.replace('-', '−');
}

const CHAR = 7, CELL_H = 30, GAP = 36, ROW_GAP = 64, BAR_W = 14;

/** At least three nice tick values inside [lo, hi] where the range allows; else its two ends. */
function barTicks(lo: number, hi: number): number[] {
  if (hi === lo) return [lo];
  for (const count of [4, 6, 10]) {
    const inside = niceTicks(lo, hi, count).filter((t) => t >= lo - 1e-9 && t <= hi + 1e-9);
    if (inside.length >= 3) return inside;
  }
  return [lo, hi];
}

/** The annotated heatmaps side by side, the forgetting view below, a colour bar right of each row. */
export function matrixSvg(input: MatrixPlotInput): string {
  const T = input.domains.length;
  const longest = Math.max(4, ...input.domains.map((d) => d.length));
  const labels = [...input.panels, ...(input.change?.panels ?? [])].map((p) => p.label.length);
  const left = 24 + CHAR * (longest + 6), cellW = Math.max(58, CHAR * longest + 14, Math.ceil((8 * Math.max(0, ...labels) + 8) / Math.max(1, T)));
  const panelW = cellW * T, rowH = CELL_H * T, TOP = 80 + 16 * input.subtitle.length;
  const body: string[] = [
    text(16, 24, input.title, { 'font-size': 16, 'font-weight': 'bold' }),
    ...input.subtitle.map((line, i) => text(16, 44 + 16 * i, line, { fill: '#555' })),
  ];
  const grid = (top: number, panels: MatrixPanel[], cell: (v: number) => { fill: string; ink: string; label: string }) => {
    input.domains.forEach((d, t) => body.push(text(left - 8, top + CELL_H * t + CELL_H / 2 + 4, `after ${d}`, { 'text-anchor': 'end' })));
    panels.forEach((panel, i) => {
      const x0 = left + i * (panelW + GAP);
      body.push(text(x0 + panelW / 2, top - 30, panel.label, { 'text-anchor': 'middle', 'font-weight': 'bold' }));
      input.domains.forEach((d, k) => body.push(text(x0 + cellW * (k + 0.5), top - 8, d, { 'text-anchor': 'middle' })));
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < T; k++) {
          const v = panel.values[t]?.[k] ?? null, x = x0 + cellW * k, y = top + CELL_H * t;
          if (v === null || !Number.isFinite(v)) {
            body.push(el('rect', { x, y, width: cellW, height: CELL_H, fill: '#eeeeee', stroke: 'white' }));
            continue;
          }
          const c = cell(v);
          body.push(el('rect', { x, y, width: cellW, height: CELL_H, fill: c.fill, stroke: 'white' }),
            text(x + cellW / 2, y + CELL_H / 2 + 4, c.label, { 'text-anchor': 'middle', fill: c.ink }));
        }
      }
    });
    return left + panels.length * (panelW + GAP);
  };

  const [lo, hi] = input.range;
  const scaled = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  let right = grid(TOP, input.panels, (v) => ({ fill: viridis(scaled(v)), ink: inkOn(scaled(v)), label: (100 * v).toFixed(1) }));
  const ticks = barTicks(100 * lo, 100 * hi);
  body.push(colourBar({
    id: 'score-scale', x: right, y: TOP, width: BAR_W, height: rowH, stops: VIRIDIS, lo: 100 * lo, hi: 100 * hi, ticks, labels: tickLabels(ticks),
    caption: `% (${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)}, all methods)`,
  }));
  let bottom = TOP + rowH;

  const change = input.change;
  if (change && finite(change.panels.map((p) => p.values)).length > 0) {
    const top = bottom + ROW_GAP, lim = change.limit;
    const s = (v: number) => (lim > 0 ? v / lim : 0);
    right = Math.max(right, grid(top, change.panels, (v) => ({ fill: diverging(s(v)), ink: inkOnDiverging(s(v)), label: signedPoints(v) })));
    const cticks = lim > 0 ? barTicks(-100 * lim, 100 * lim) : [0];
    body.push(colourBar({
      id: 'change-scale', x: left + change.panels.length * (panelW + GAP), y: top, width: BAR_W, height: rowH, stops: RDBU, lo: -100 * lim, hi: 100 * lim,
      ticks: cticks, labels: tickLabels(cticks).map((l) => l.replace('-', '−')), caption: `pp (±${(100 * lim).toFixed(1)}, all methods)`,
    }));
    bottom = top + rowH;
  }
  const width = right + 180;
  return svgDocument(Math.max(width, 16 + CHAR * Math.max(...input.subtitle.map((l) => l.length))), bottom + 24, body);
}
