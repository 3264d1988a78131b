import { it, expect } from 'vitest';
import { opCases, checkCase } from './support/op-cases.js';
import { gpu, cpuBackend } from './support/devices.js';
it('op cases under node', async () => {
  const fails: string[] = [];
  for (const c of opCases) { const f = await checkCase(c, cpuBackend, gpu!, { runs: 40, seed: Number(process.env.S ?? 1) }); if (f) fails.push(f.slice(0, 400)); }
  expect(fails).toEqual([]);
}, 600000);
