// The native hardware probe (bench/peak.c via bench/peak.ts): it compiles, runs, reports well-formed figures and
// caches its binary; without a compiler it reports 'unavailable' instead of throwing. No speed is asserted.
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machinePeak } from '../../bench/peak.js';

const hasCc = existsSync('/usr/bin/cc');
if (!hasCc) console.log('[peak.test] /usr/bin/cc is absent: skipping the native probe checks');

describe('machinePeak', () => {
  it.skipIf(!hasCc)('measures finite positive figures and reuses the compiled binary', async () => {
    const logs: string[] = [];
    const r = await machinePeak({ threads: 1, seconds: 0.05, log: (s) => logs.push(s) });
    expect(r.status, r.note).toBe('ok');
    expect(r.note).toMatch(/native probe/);
    expect(['avx512', 'avx2', 'sse', 'neon', 'generic']).toContain(r.isa);
    expect([128, 256, 512]).toContain(r.vectorBits);
    expect(r.threads).toBe(1);
    for (const k of ['fmaGflops', 'fmaGflops256', 'fmaGflops1', 'copyGBs', 'copyGBs1'] as const) {
      expect(Number.isFinite(r[k]) && r[k]! > 0, `${k} = ${r[k]}`).toBe(true);
    }
    expect(r.fmaGflops256!).toBeLessThanOrEqual(r.fmaGflops! * 1.05);

    // The binary's path is in the log ("compiling <path>" or "reusing <path>"); a second call must reuse it.
    const bin = logs.map((l) => /^peak: (?:compiling|reusing) (\S+)$/.exec(l)?.[1]).find((p) => p !== undefined)!;
    expect(bin).toBeDefined();
    const mtime = statSync(bin).mtimeMs;
    const again: string[] = [];
    const r2 = await machinePeak({ threads: 1, seconds: 0.05, log: (s) => again.push(s) });
    expect(r2.status, r2.note).toBe('ok');
    expect(again).toContain(`peak: reusing ${bin}`);
    expect(statSync(bin).mtimeMs).toBe(mtime);
  });

  it('reports unavailable, with a note, when the compiler is missing', async () => {
    const r = await machinePeak({ threads: 1, seconds: 0.05, cc: 'das-webgpu-no-such-cc' });
    expect(r.status).toBe('unavailable');
    expect(r.note).toMatch(/das-webgpu-no-such-cc.*not found/);
    expect(r.fmaGflops).toBeUndefined();
  });
});
