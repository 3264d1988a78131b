// This machine's physical limits (f32 FMA peak, memcpy bandwidth), measured by the native probe bench/peak.c,
// so benchmark figures can be printed as a fraction of the hardware. Never throws: without a C compiler, or when
// the probe fails, the result is { status: 'unavailable', note: <why> }.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { PeakResult } from './report.js';
export type { PeakResult };

const FLAGS = ['-O2', '-march=native', '-ffp-contract=fast', '-pthread'];
const FIGURES = ['fmaGflops', 'fmaGflops256', 'fmaGflops1', 'copyGBs', 'copyGBs1'] as const;

/** Runs a command; resolves with stdout, or rejects with a one-line reason (not found, timed out, or stderr). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const why = e.code === 'ENOENT' ? `'${cmd}' not found`
        : e.killed ? `'${cmd}' timed out after ${timeoutMs / 1000} s`
        : `'${cmd}' failed: ${stderr.split('\n').find((l) => /error/i.test(l))?.trim() || stderr.trim().split('\n')[0] || e.message}`;
      reject(new Error(why));
    });
  });
}

/**
 * Compiles bench/peak.c (once per source, compiler, flags and CPU model: the binary is cached in the temp dir)
 * and runs it with `threads` threads for about `seconds` per figure (default 0.5: the whole probe takes ~3 s).
 * `cc` is the compiler command (default 'cc').
 */
export async function machinePeak(o: { threads: number; seconds?: number; cc?: string; log?: (s: string) => void }): Promise<PeakResult> {
  const cc = o.cc ?? 'cc', seconds = o.seconds ?? 0.5, log = o.log ?? (() => {});
  try {
    const src = fileURLToPath(new URL('./peak.c', import.meta.url));
    // -march=native makes the binary CPU-specific, so the compiler and CPU model are part of the cache key too.
    const key = createHash('sha256').update(readFileSync(src)).update(JSON.stringify([cc, FLAGS, cpus()[0]?.model]))
      .digest('hex').slice(0, 12);
    // The user's own cache folder, not the shared temporary one (where another user could plant the binary).
    const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'das-webgpu');
    mkdirSync(dir, { recursive: true });
    const bin = join(dir, `peak-${key}`);
    if (existsSync(bin)) log(`peak: reusing ${bin}`);
    else {
      // Compile under a private name, then rename: a concurrent run never sees a half-written binary.
      const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
      log(`peak: compiling ${bin}`);
      try {
        await run(cc, [...FLAGS, src, '-o', tmp], 60_000);
        renameSync(tmp, bin);
      } finally { rmSync(tmp, { force: true }); }
    }
    // 3 FMA figures + 2 copy figures of `seconds` each, plus allocation: allow generous slack before giving up.
    const out = await run(bin, [String(o.threads), String(seconds)], 20_000 + 10_000 * seconds);
    const line = out.trim().split('\n').pop() ?? '';
    let r: Record<string, unknown>;
    try { r = JSON.parse(line) as Record<string, unknown>; } catch { throw new Error(`unexpected probe output: ${line.slice(0, 120)}`); }
    for (const k of FIGURES) {
      const v = r[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`probe output lacks a positive ${k}: ${line.slice(0, 120)}`);
    }
    const res: PeakResult = {
      status: 'ok', note: `native probe (${cc} -O2 -march=native), ${String(r.isa)}, ${Number(r.threads)} thread${r.threads === 1 ? '' : 's'}`,
      isa: String(r.isa), vectorBits: Number(r.vectorBits), threads: Number(r.threads),
    };
    for (const k of FIGURES) res[k] = r[k] as number;
    log(`peak: ${JSON.stringify(res)}`);
    return res;
  } catch (e) {
    const note = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    log(`peak: unavailable: ${note}`);
    return { status: 'unavailable', note };
  }
}
