// Smoke test of the side-by-side benchmark harness (bench/): ours only, tiny sizes, no anchors, no cold-start
// processes, no DAS figures. It checks that the harness runs and writes well-formed JSON and markdown — no timings.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasWebGpu } from './support/devices.js';
import { runBench } from '../bench/bench.js';
import { cases } from '../bench/cases.js';

const out = mkdtempSync(join(tmpdir(), 'das-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(!hasWebGpu)('bench harness', () => {
  it('runs every case on tiny sizes and writes well-formed JSON and a markdown table', async () => {
    const logs: string[] = [];
    const { report, md } = await runBench({
      size: 'tiny', anchors: [], cold: false, das: false, out, machine: 'smoke', python: '/nonexistent', torchThreads: 2, log: (s) => logs.push(s),
    });
    const files = readdirSync(out).sort();
    expect(files).toEqual([expect.stringMatching(/^smoke-\d{4}-\d{2}-\d{2}-tiny\.json$/), expect.stringMatching(/^smoke-\d{4}-\d{2}-\d{2}-tiny\.md$/)]);
    const json = JSON.parse(readFileSync(join(out, files[0]), 'utf8')) as typeof report;
    expect(json.schema).toBe('das-webgpu-bench/1');
    expect(json.size).toBe('tiny');
    expect(json.impls).toEqual([expect.objectContaining({ id: 'ours', status: 'ok' })]);
    expect(typeof json.adapter.description).toBe('string');
    expect(json.cases.map((c) => c.id)).toEqual(cases('tiny').map((c) => c.id));
    for (const c of json.cases) {
      const r = c.results.ours;
      expect(r.error, `${c.id}: ${r.error}`).toBeUndefined();
      expect(r.figure! > 0 && Number.isFinite(r.figure)).toBe(true);
      expect(r.samplesMs!.length).toBeGreaterThan(0);
      expect(['GFLOP/s', 'GB/s', 'µs/op', 'ms']).toContain(c.unit);
    }
    const step = json.cases.find((c) => c.id === 'train_step')!.results.ours;
    expect(step.memory!.peakLiveBytes).toBeGreaterThanOrEqual(step.memory!.stateBytes);
    expect(json.das.status).toBe('skipped');
    expect(md).toContain('| figure | unit | ours |');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(json.cases.length + 3); // header, train tokens/s, memory
    expect(readFileSync(join(out, files[1]), 'utf8')).toBe(md);
  }, 60_000);
});
