// SVG building blocks for the run plots: deterministic numbers, XML escaping, elements, linear
// scales, nice axis ticks and colours. Pure string builders, no dependencies.

/** A coordinate rounded to 2 decimals, never "-0"; a non-finite one is a bug of the caller. */
export function num(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`svg: non-finite coordinate ${x}`);
  const r = Math.round(x * 100) / 100;
  return r === 0 ? '0' : String(r);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

export type Attrs = Record<string, string | number | undefined>;

/** `<name a="v">children</name>`, self-closed without children; numbers via num, strings escaped. */
export function el(name: string, attrs: Attrs = {}, ...children: string[]): string {
  const a = Object.entries(attrs).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v!)}"`).join('');
  return children.length === 0 ? `<${name}${a}/>` : `<${name}${a}>${children.join('')}</${name}>`;
}

/** A text element; `s` is escaped. */
export const text = (x: number, y: number, s: string, attrs: Attrs = {}): string => el('text', { x, y, ...attrs }, escapeXml(s));

/** A standalone SVG document on a white background. */
export const svgDocument = (width: number, height: number, body: readonly string[]): string =>
  `${el('svg', { xmlns: 'http://www.w3.org/2000/svg', viewBox: `0 0 ${num(width)} ${num(height)}`, width, height, 'font-family': 'sans-serif', 'font-size': 12 },
    el('rect', { width, height, fill: 'white' }), ...body)}\n`;

/** Maps [d0, d1] linearly onto [r0, r1]; a degenerate domain maps to the middle of the range. */
export const linearScale = (d0: number, d1: number, r0: number, r1: number) => (x: number): number =>
  d1 === d0 ? (r0 + r1) / 2 : r0 + ((x - d0) * (r1 - r0)) / (d1 - d0);

/** About `count` evenly spaced round ticks (step 1, 2 or 5 × 10^k), first ≤ lo and last ≥ hi (up to 1e-9 step). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) / 10;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Number(([1, 2, 5, 10].find((m) => m * mag >= raw * (1 - 1e-9))! * mag).toPrecision(12));
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
}

/** Tick labels with just enough decimals for the step between ticks. */
export function tickLabels(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return ticks.map((t) => t.toFixed(decimals));
}

/** Viridis sampled at 10 points (matplotlib); `viridis` interpolates between them. */
export const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

/** The sequential colour of t in [0, 1] (clamped); grey for NaN. */
export function viridis(t: number): string {
  return ramp(VIRIDIS, t);
}

/** Text that stays readable on viridis(t). */
export const inkOn = (t: number): string => (t > 0.6 ? 'black' : 'white');

/** A stepwise-linear colour map through evenly spaced stops, t in [0, 1] (clamped); grey for NaN. */
function ramp(stops: readonly string[], t: number): string {
  if (Number.isNaN(t)) return '#cccccc';
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
  const rgb = (c: string) => [1, 3, 5].map((j) => parseInt(c.slice(j, j + 2), 16));
  const [a, b] = [rgb(stops[i]), rgb(stops[i + 1])];
  return `#${a.map((v, j) => Math.round(v + f * (b[j] - v)).toString(16).padStart(2, '0')).join('')}`;
}

/** ColorBrewer RdBu, red (negative) through near-white (0) to blue (positive). */
export const RDBU = ['#b2182b', '#d6604d', '#f4a582', '#fddbc7', '#f7f7f7', '#d1e5f0', '#92c5de', '#4393c3', '#2166ac'];

/** The diverging colour of s in [−1, 1] (clamped): red below 0, white at 0, blue above; grey for NaN. */
export const diverging = (s: number): string => ramp(RDBU, (s + 1) / 2);

/** Text that stays readable on diverging(s). */
export const inkOnDiverging = (s: number): string => (Math.abs(s) > 0.7 ? 'white' : 'black');

/** Categorical colours (Tableau 10), one per method in order. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const paletteColour = (i: number): string => PALETTE[i % PALETTE.length];

export interface ColourBar {
  /** The gradient's id, unique in its document. */
  id: string;
  x: number; y: number; width: number; height: number;
  /** Evenly spaced colours from lo (bottom) to hi (top), as the cells are coloured. */
  stops: readonly string[];
  lo: number; hi: number;
  ticks: readonly number[]; labels: readonly string[];
  caption: string;
}

/** A vertical colour bar with tick labels on its right and a caption above it. */
export function colourBar(b: ColourBar): string {
  const y = linearScale(b.lo, b.hi, b.y + b.height, b.y);
  const stops = b.stops.map((c, i) => el('stop', { offset: i / (b.stops.length - 1), 'stop-color': c }));
  return el('g', { 'data-colourbar': b.id },
    el('defs', {}, el('linearGradient', { id: b.id, x1: 0, y1: 1, x2: 0, y2: 0 }, ...stops)),
    el('rect', { x: b.x, y: b.y, width: b.width, height: b.height, fill: `url(#${b.id})`, stroke: '#333', 'stroke-width': 0.5 }),
    ...b.ticks.flatMap((t, i) => [
      el('line', { x1: b.x + b.width, x2: b.x + b.width + 4, y1: y(t), y2: y(t), stroke: '#333' }),
      text(b.x + b.width + 6, y(t) + 4, b.labels[i], { 'font-size': 10 }),
    ]),
    text(b.x, b.y - 8, b.caption, { 'font-size': 10, fill: '#555' }));
}
