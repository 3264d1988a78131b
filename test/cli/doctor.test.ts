import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { hasWebGpu } from '../support/devices.js';

describe('das doctor', () => {
  it.skipIf(!hasWebGpu)('checks every kernel against the CPU reference and passes', async () => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; });
    const code = await main(['doctor', '--json']);
    spy.mockRestore();
    const report = JSON.parse(out) as { ok: boolean; results: { name: string; ok: boolean }[]; uncoveredKernels: string[] };
    expect(report.uncoveredKernels).toEqual([]);
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.results.length).toBeGreaterThan(30);
    expect(code).toBe(0);
  });

  it('rejects unknown flags with a clear message', async () => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
    const code = await main(['doctor', '--frobnicate']);
    spy.mockRestore();
    expect(code).toBe(2);
    expect(err).toMatch(/unknown flag --frobnicate/);
  });

  it('an unknown command exits 2 and lists the commands', async () => {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
    expect(await main(['frobnicate'])).toBe(2);
    spy.mockRestore();
    expect(err).toMatch(/unknown command 'frobnicate'/);
    expect(err).toMatch(/doctor/);
  });
});
