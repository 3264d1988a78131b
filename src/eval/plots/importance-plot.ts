// DAS unit importance as heatmaps: one panel per importance set (KL proxy of the base model, then
// each domain's MLM importance), rows = layers, one block per unit kind (heads, FFN intermediate,
// output), one thin cell per unit. Blocks wider than MAX_COLUMNS show the maximum over equal bins.
import { VIRIDIS, el, linearScale, niceTicks, svgDocument, text, tickLabels, viridis } from './svg.js';

/** A row-major [rows, cols] array (rows = layers). */
export interface HeatBlock { name: string; rows: number; cols: number; data: ArrayLike<number> }
export interface ImportancePanel { label: string; blocks: HeatBlock[] }
export interface ImportancePlotInput { title: string; subtitle: string; panels: ImportancePanel[]; range: [number, number] }

export const MAX_COLUMNS = 512;

/** The block with at most MAX_COLUMNS columns: each the maximum over `bin` neighbouring units. */
export function binColumns(b: HeatBlock): HeatBlock & { bin: number } {
  const bin = Math.ceil(b.cols / MAX_COLUMNS);
  if (bin === 1) return { ...b, bin };
  const cols = Math.ceil(b.cols / bin), data = new Float32Array(b.rows * cols);
  for (let r = 0; r < b.rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = Math.max(...Array.from({ length: Math.min(bin, b.cols - c * bin) }, (_, j) => b.data[r * b.cols + c * bin + j]));
  }
  return { ...b, cols, data, bin };
}

const LEFT = 48, TOP = 78, BLOCK_GAP = 24, LABEL_H = 34, PANEL_GAP = 14, BAR_W = 14;
const blockWidth = (cols: number): number => (cols <= 16 ? 14 * cols : Math.max(128, cols));

/** The panels stacked vertically with one colour bar for all (they share `range`). */
export function importanceSvg(input: ImportancePlotInput): string {
  const [lo, hi] = input.range;
  const colour = (v: number) => viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const body: string[] = [
    text(16, 24, input.title, { 'font-size': 16, 'font-weight': 'bold' }),
    text(16, 44, input.subtitle, { fill: '#555' }),
  ];
  let y = TOP, right = LEFT;
  for (const panel of input.panels) {
    body.push(text(LEFT, y + 12, panel.label, { 'font-weight': 'bold' }));
    y += LABEL_H;
    const rows = Math.max(0, ...panel.blocks.map((b) => b.rows)), rowsH = rows * (rows > 6 ? 10 : 16);
    let x = LEFT;
    for (const raw of panel.blocks) {
      const b = binColumns(raw), w = blockWidth(b.cols), rowH = rowsH / b.rows, cellW = w / b.cols;
      body.push(text(x, y - 4, `${b.name} (${raw.cols}${b.bin > 1 ? `, max of ${b.bin}` : ''})`, { 'font-size': 10, fill: '#555' }));
      const cells: string[] = [];
      for (let r = 0; r < b.rows; r++) {
        for (let c = 0; c < b.cols; c++) cells.push(el('rect', { x: x + c * cellW, y: y + r * rowH, width: cellW, height: rowH, fill: colour(b.data[r * b.cols + c]) }));
      }
      body.push(el('g', { 'shape-rendering': 'crispEdges' }, ...cells), el('rect', { x, y, width: w, height: rowsH, fill: 'none', stroke: '#333', 'stroke-width': 0.5 }));
      x += w + BLOCK_GAP;
    }
    for (let r = 0; r < rows; r++) body.push(text(LEFT - 6, y + (r + 0.5) * (rowsH / rows) + 3, `L${r}`, { 'text-anchor': 'end', 'font-size': 9 }));
    right = Math.max(right, x);
    y += rowsH + PANEL_GAP + 10;
  }
  const barH = Math.min(200, Math.max(80, y - TOP - PANEL_GAP)), bar = linearScale(lo, hi, TOP + barH, TOP);
  const stops = VIRIDIS.map((c, i) => el('stop', { offset: i / (VIRIDIS.length - 1), 'stop-color': c }));
  body.push(el('defs', {}, el('linearGradient', { id: 'viridis-bar', x1: 0, y1: 1, x2: 0, y2: 0 }, ...stops)),
    el('rect', { x: right, y: TOP, width: BAR_W, height: barH, fill: 'url(#viridis-bar)', stroke: '#333', 'stroke-width': 0.5 }));
  const ticks = niceTicks(lo, hi, 4).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12);
  tickLabels(ticks).forEach((label, i) => body.push(text(right + BAR_W + 4, bar(ticks[i]) + 4, label, { 'font-size': 10 })));
  return svgDocument(Math.max(right + BAR_W + 60, 16 + 7 * input.subtitle.length), y + 8, body);
}
