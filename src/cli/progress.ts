// A progress line with step, rate and ETA: redrawn in place on a terminal, printed every few
// seconds otherwise (logs, CI).

import type { ProgressFactory, ProgressReporter } from '../train/progress.js';

export class Progress implements ProgressReporter {
  private readonly start = Date.now();
  private lastPrint = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly total: number, private readonly from = 0, private readonly quiet = false) {}

  update(done: number, fields: Record<string, string | number> = {}, force = false): void {
    if (this.quiet) return;
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 200 : 5000)) return;
    this.lastPrint = now;
    const elapsed = (now - this.start) / 1000;
    const rate = (done - this.from) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const width = 24, filled = Math.round((width * done) / Math.max(this.total, 1));
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}]`;
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v) : v}`).join('  ');
    const line = `${this.label} ${bar} ${done}/${this.total}  ${extra}  ETA ${fmtTime(eta)}`;
    process.stderr.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  done(message = ''): void {
    if (this.tty && !this.quiet) process.stderr.write('\n');
    if (message) process.stderr.write(`${message}\n`);
  }
}

export const fmtNum = (v: number): string => (Math.abs(v) >= 1000 || v === Math.trunc(v) ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3));

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** The command line's progress bars for library loops (none when quiet; final messages always). */
export const progressBars = (quiet = false): ProgressFactory => (label, total, from = 0) => new Progress(label, total, from, quiet);
