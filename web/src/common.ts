// What both pages share: opening the GPU (with the message of a browser without WebGPU), turning any
// failure into a clear message (no adapter, a bad file, out of memory, a lost device), and small
// canvas drawings (a colour map, heatmaps, line charts).
import { type Backend, IoError, type WebGpuBackend, noAdapterHint, webgpu } from 'das-webgpu';

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page: #${id} is missing`);
  return e as T;
};

export class NoAdapter extends Error { override name = 'NoAdapter'; }

/** The WebGPU backend on the browser's adapter; NoAdapter (with how to get WebGPU) when there is none. */
export async function openGpu(): Promise<WebGpuBackend> {
  const g = await webgpu();
  if (g === null) throw new NoAdapter(noAdapterHint());
  return g;
}

export const adapterLine = (g: WebGpuBackend): string => {
  const i = g.opened.info;
  return [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unnamed adapter';
};

/** A title and a detail for any failure, in the words a user needs. */
export function describe(e: unknown): { title: string; detail: string } {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof NoAdapter) return { title: 'No WebGPU adapter', detail: msg };
  if (e instanceof IoError) return { title: 'This file cannot be used', detail: msg };
  if (/out of memory|outofmemory|exceeds the max buffer size|failed to allocate|allocation failed/i.test(msg)) {
    return { title: 'The GPU ran out of memory', detail: `${msg}\nUse less text, a shorter sequence length or a smaller batch (or close other GPU-heavy tabs), then try again.` };
  }
  if (/device lost|device was lost|destroyed/i.test(msg)) return { title: 'The GPU device was lost', detail: `${msg}\nReload the page.` };
  return { title: 'Something failed', detail: msg };
}

/** Shows a failure in `where` (replacing what was there) and logs it as information, not as an error. */
export function showError(where: HTMLElement, e: unknown): void {
  const d = describe(e);
  where.replaceChildren();
  const div = document.createElement('div');
  div.className = 'error';
  div.dataset.kind = d.title;
  div.textContent = `${d.title}: ${d.detail}`;
  where.append(div);
  console.info(`[das-webgpu] ${d.title}: ${d.detail}`);
}

/** Lets the page paint (and the GPU finish what was submitted) between steps of a long computation. */
export async function breathe(be: Backend): Promise<void> {
  if ('sync' in be) await (be as WebGpuBackend).sync();
  await new Promise((r) => setTimeout(r, 0));
}

// ---- drawing -------------------------------------------------------------------------------------

const VIRIDIS: [number, number, number][] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** Viridis-like colour of v in [0, 1]. */
export function colour(v: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function legend(canvas: HTMLCanvasElement): void {
  const g = canvas.getContext('2d')!;
  for (let x = 0; x < canvas.width; x++) { g.fillStyle = colour(x / (canvas.width - 1)); g.fillRect(x, 0, 1, canvas.height); }
}

/** A heatmap of `data` [rows × cols] (values in [0, 1]) with row labels; returns the figure element. */
export function heatmap(title: string, data: ArrayLike<number>, rows: number, cols: number, o: { width?: number; rowHeight?: number; annotate?: boolean } = {}): HTMLElement {
  const fig = document.createElement('div');
  fig.className = 'heatmap';
  const h = document.createElement('h3');
  h.textContent = title;
  const label = 58, width = o.width ?? 520, rowH = o.rowHeight ?? 22;
  const canvas = document.createElement('canvas');
  canvas.width = label + width;
  canvas.height = rows * rowH + 16;
  const g = canvas.getContext('2d')!;
  const cw = width / cols;
  g.font = '11px system-ui, sans-serif';
  for (let r = 0; r < rows; r++) {
    g.fillStyle = '#5c6773';
    g.textBaseline = 'middle';
    g.fillText(`layer ${r}`, 4, r * rowH + rowH / 2);
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      g.fillStyle = colour(v);
      g.fillRect(label + c * cw, r * rowH, Math.max(1, Math.ceil(cw)), rowH - 2);
      if (o.annotate) { g.fillStyle = v > 0.6 ? '#1d232b' : '#fff'; g.textAlign = 'center'; g.fillText(v.toFixed(2), label + (c + 0.5) * cw, r * rowH + rowH / 2); g.textAlign = 'start'; }
    }
  }
  g.fillStyle = '#5c6773';
  g.fillText('0', label, rows * rowH + 9);
  g.textAlign = 'end';
  g.fillText(`${cols - 1}`, label + width, rows * rowH + 9);
  fig.append(h, canvas);
  return fig;
}

export interface Series { name: string; colour: string; values: number[] }

/** A line chart of several series over steps (0-based), with axes and a legend. */
export function lineChart(canvas: HTMLCanvasElement, series: readonly Series[], o: { xLabel?: string; yLabel?: string } = {}): void {
  const g = canvas.getContext('2d')!;
  const W = canvas.width, H = canvas.height, L = 58, R = 12, T = 24, B = 30;
  g.clearRect(0, 0, W, H);
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  const pad = (hi - lo) * 0.08 || 0.5, y0 = lo - pad, y1 = hi + pad;
  const X = (i: number) => L + (i / (n - 1)) * (W - L - R), Y = (v: number) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  g.strokeStyle = '#d9dee4';
  g.fillStyle = '#5c6773';
  g.font = '11px system-ui, sans-serif';
  const digits = Math.min(6, Math.max(0, Math.ceil(-Math.log10((y1 - y0) / 4)) + 1));
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    g.beginPath(); g.moveTo(L, Y(v)); g.lineTo(W - R, Y(v)); g.stroke();
    g.fillText(v.toFixed(digits), 4, Y(v) + 4);
  }
  g.fillText(o.xLabel ?? 'step', W - R - 30, H - 8);
  g.fillText('0', L, H - 14);
  g.fillText(`${n - 1}`, W - R - 14, H - 14);
  if (o.yLabel) g.fillText(o.yLabel, L, 14);
  series.forEach((s, k) => {
    g.strokeStyle = s.colour;
    g.lineWidth = 2;
    g.setLineDash(k % 2 === 1 ? [7, 4] : []); // a later series dashed: equal curves stay visible
    g.beginPath();
    s.values.forEach((v, i) => (i === 0 ? g.moveTo(X(i), Y(v)) : g.lineTo(X(i), Y(v))));
    g.stroke();
    g.setLineDash([]);
    const x = W - R - 200 * (series.length - k);
    g.fillStyle = s.colour;
    g.fillRect(x, 6, 12, 10);
    g.fillStyle = '#1d232b';
    g.fillText(s.name, x + 16, 15);
  });
  g.lineWidth = 1;
}
