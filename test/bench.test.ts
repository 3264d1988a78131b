// Smoke test of the side-by-side benchmark harness (bench/): ours only, tiny sizes, no anchors, no cold-start
// processes, no DAS figures. It checks that the harness runs and writes well-formed JSON and markdown — no timings.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasWebGpu } from './support/devices.js';
import { runBench } from '../bench/bench.js';
import { cases } from '../bench/cases.js';
import { type Report, markdown } from '../bench/report.js';

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
    expect(step.extras!.recordMs > 0).toBe(true);
    expect(['ok', 'unavailable']).toContain(json.peak!.status);
    // header, train tokens/s, JS record time, memory
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(json.cases.length + 4);
    expect(readFileSync(join(out, files[1]), 'utf8')).toBe(md);
  }, 60_000);
});

describe('bench table', () => {
  const report = (adapter: string, peak: Report['peak']): Report => ({
    schema: 'das-webgpu-bench/1', date: '2026-12-03T00:00:00Z', size: 'full', machine: { cpu: 'x', cores: 2 }, adapter: { description: adapter },
    impls: [{ id: 'ours', label: 'das-webgpu', status: 'ok', description: '' }, { id: 'torch-cpu', label: 'PyTorch CPU', status: 'ok', description: '' }],
    cases: [{ id: 'matmul_1024x1024x1024', label: 'matmul 1024³', unit: 'GFLOP/s', higherIsBetter: true, work: 2 * 1024 ** 3,
      results: { ours: { figure: 25 }, 'torch-cpu': { figure: 100 } } }],
    cold: {}, das: { status: 'ok', note: '', dasStepMs: 300, mlmStepMs: 100, ratio: 3, dasRecordMs: 12,
      anchors: { 'torch-cpu': { dasStepMs: 150, mlmStepMs: 60, ratio: 2.5 } } },
    peak, notes: [], wallSeconds: 1,
  });
  const peak = { status: 'ok' as const, note: 'probe', threads: 2, fmaGflops: 200, fmaGflops256: 200, fmaGflops1: 100, copyGBs: 20, copyGBs1: 15 };

  it('gives the DAS step beside PyTorch\'s, both DAS ÷ MLM ratios, and shares of the CPU\'s peak on a CPU adapter', () => {
    const md = markdown(report('llvmpipe (LLVM 15)', peak));
    const row = (start: string) => md.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';
    expect(row('matmul 1024³')).toMatch(/\| 25\.0 \| 100 \(×0\.25\) \| PyTorch CPU \| ×0\.25 \| 13 % \|$/);
    expect(row('DAS step (')).toMatch(/\| 300 \| 150 \(×0\.50\) \|/);
    expect(row('DAS step ÷')).toMatch(/\| 3\.00 \| 2\.50 \|/);
    expect(row('JS time to record one DAS step')).toMatch(/\| 12\.0 \|/);
    expect(md).toMatch(/FMA peak 200 GFLOP\/s/);
  });

  it('gives no share of the CPU\'s peak when the adapter is a GPU, and says why the limits are missing', () => {
    expect(markdown(report('NVIDIA H100', peak))).toMatch(/\| ×0\.25 \| – \|/);
    expect(markdown(report('NVIDIA H100', { status: 'unavailable', note: "'cc' not found" }))).toMatch(/not measured — 'cc' not found/);
  });
});
