// A method's progressive matrices A[t][k] (rows: the model after post-training domain t, columns:
// end task k) as annotated heatmaps, one panel per metric; cells show the score in % (1 decimal),
// null cells are grey and blank. Colours are scaled per panel between its smallest and largest score.
import type { Matrix } from '../metrics.js';
import { el, inkOn, svgDocument, text, viridis } from './svg.js';

export interface MatrixPanel { label: string; values: Matrix }
export interface MatrixPlotInput { title: string; subtitle: string; domains: string[]; panels: MatrixPanel[] }

const CHAR = 7, CELL_H = 30, TOP = 96, GAP = 36;

/** The annotated heatmaps side by side. */
export function matrixSvg(input: MatrixPlotInput): string {
  const T = input.domains.length;
  const longest = Math.max(4, ...input.domains.map((d) => d.length));
  const left = 24 + CHAR * (longest + 6), cellW = Math.max(58, CHAR * longest + 14);
  const panelW = cellW * T;
  const body: string[] = [
    text(16, 24, input.title, { 'font-size': 16, 'font-weight': 'bold' }),
    text(16, 44, input.subtitle, { fill: '#555' }),
  ];
  input.domains.forEach((d, t) => body.push(text(left - 8, TOP + CELL_H * t + CELL_H / 2 + 4, `after ${d}`, { 'text-anchor': 'end' })));
  input.panels.forEach((panel, i) => {
    const x0 = left + i * (panelW + GAP);
    const vs = panel.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
    const lo = Math.min(...vs), hi = Math.max(...vs);
    body.push(text(x0 + panelW / 2, TOP - 30, panel.label, { 'text-anchor': 'middle', 'font-weight': 'bold' }));
    input.domains.forEach((d, k) => body.push(text(x0 + cellW * (k + 0.5), TOP - 8, d, { 'text-anchor': 'middle' })));
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < T; k++) {
        const v = panel.values[t]?.[k] ?? null, x = x0 + cellW * k, y = TOP + CELL_H * t;
        if (v === null || !Number.isFinite(v)) {
          body.push(el('rect', { x, y, width: cellW, height: CELL_H, fill: '#eeeeee', stroke: 'white' }));
          continue;
        }
        const c = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        body.push(el('rect', { x, y, width: cellW, height: CELL_H, fill: viridis(c), stroke: 'white' }),
          text(x + cellW / 2, y + CELL_H / 2 + 4, (100 * v).toFixed(1), { 'text-anchor': 'middle', fill: inkOn(c) }));
      }
    }
  });
  const width = left + input.panels.length * (panelW + GAP) + 8;
  return svgDocument(Math.max(width, 16 + CHAR * input.subtitle.length), TOP + CELL_H * T + 24, body);
}
