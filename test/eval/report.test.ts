// Results from score files: seed-averaged matrices, and the spread over seeds (sample standard
// deviation of each seed's own final row, average, forgetting rate and transfer vs ONE) in the JSON
// and as "mean ± sd" in the markdown tables; the tables' layout (no empty columns, at most ~120
// characters wide, the same numbers as before the split); the run's settings, backend, version and
// timings in results.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpu } from '../../src/backend/cpu.js';
import {
  EMPTY, MAX_TABLE_WIDTH, STATE_FILE, TIMINGS_FILE, baseFile, collectResults, collectTimings, finetuneFile, markdownReport, packageVersion, runMeta, seedDir, splitTables, std,
} from '../../src/eval/report.js';
import type { RunOptions } from '../../src/continual/run.js';
import type { SequenceDomain } from '../../src/data/validate.js';

const out = mkdtempSync(join(tmpdir(), 'das-report-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const domains: SequenceDomain[] = ['a&b', 'c'].map((name) => ({ name, train: '', taskTrain: '', taskTest: '', labels: '' }));

function score(method: string, seed: number, t: number, k: number, accuracy: number): void {
  const f = finetuneFile(seedDir(out, method, seed), domains, t, k);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, JSON.stringify({ accuracy, macroF1: accuracy / 2 }));
}

/** The markdown tables of `md` under their section headings: header cells and rows, trimmed. */
function tables(md: string): { section: string; head: string[]; rows: string[][] }[] {
  const out: { section: string; head: string[]; rows: string[][] }[] = [];
  let section = '', inTable = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('#')) section = line.replace(/^#+ /, '');
    if (!line.startsWith('|')) { inTable = false; continue; }
    const cells = line.slice(1, -1).split('|').map((c) => c.trim());
    if (!inTable) out.push({ section, head: cells, rows: [] });
    else if (!cells.every((c) => /^-+:?$/.test(c))) out[out.length - 1].rows.push(cells);
    inTable = true;
  }
  return out;
}
const row = (md: string, section: string, label: string, nth = 0) => tables(md).filter((t) => t.section.startsWith(section))[nth].rows.find((r) => r[0] === label);

describe('report', () => {
  it('std is the n − 1 sample standard deviation', () => {
    expect(std([1, 3])).toBeCloseTo(Math.SQRT2, 12);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 12);
    expect(std([5])).toBe(0);
  });

  it('averages seeds and reports their spread', () => {
    // NCL, seeds 1 and 2: A = [[a00, –], [a10, a11]]; ONE: the diagonal
    const ncl = { 1: [0.6, 0.5, 0.7], 2: [0.8, 0.5, 0.5] } as const;
    for (const seed of [1, 2] as const) {
      const [a00, a10, a11] = ncl[seed];
      score('ncl', seed, 0, 0, a00); score('ncl', seed, 1, 0, a10); score('ncl', seed, 1, 1, a11);
      score('one', seed, 0, 0, 0.6); score('one', seed, 1, 1, seed === 1 ? 0.6 : 0.8);
    }
    for (const seed of [1, 2]) for (const k of [0, 1]) {
      mkdirSync(dirname(baseFile(out, seed, domains, k)), { recursive: true });
      writeFileSync(baseFile(out, seed, domains, k), JSON.stringify({ accuracy: 0.2 * seed + 0.1 * k, macroF1: 0.1 }));
    }
    const r = collectResults(out, 'seq.json', domains, [1, 2], ['ncl', 'one']);
    expect(r.base!.acc[1]).toBeCloseTo(0.4, 12);
    expect(r.base!.spread!.average.acc).toBeCloseTo(std([0.25, 0.45]), 12);
    const [m, one] = r.methods;
    expect(m.final.acc).toEqual([0.5, 0.6]);
    expect(m.forgetting.acc).toBeCloseTo(0.7 - 0.5, 12);
    // per seed: final rows [0.5, 0.7] and [0.5, 0.5]; averages 0.6 and 0.5; FR 0.1 and 0.3
    expect(m.spread!.final.acc[0]).toBe(0);
    expect(m.spread!.final.acc[1]).toBeCloseTo(std([0.7, 0.5]), 12);
    expect(m.spread!.average.acc).toBeCloseTo(std([0.6, 0.5]), 12);
    expect(m.spread!.forgetting.acc).toBeCloseTo(std([0.1, 0.3]), 12);
    // vs ONE per seed: ((0.5 − 0.6) + (0.7 − 0.6)) / 2 = 0 and ((0.5 − 0.6) + (0.5 − 0.8)) / 2 = −0.2
    expect(m.vsOne!.acc.average).toBeCloseTo(-0.1, 12);
    expect(m.spread!.vsOne!.acc).toBeCloseTo(std([0, -0.2]), 12);
    expect(one.spread!.forgetting).toEqual({ mf1: null, acc: null });
    expect(one.spread!.final.acc[1]).toBeCloseTo(std([0.6, 0.8]), 12);
    const md = markdownReport(r);
    // the numbers of the single wide table before the split, digit for digit, now by metric
    expect(row(md, 'End tasks: macro-F1', 'NCL')).toEqual(['NCL', '25.00 ± 0.00', '30.00 ± 7.07', '27.50 ± 3.54']);
    expect(row(md, 'End tasks: accuracy', 'NCL')).toEqual(['NCL', '50.00 ± 0.00', '60.00 ± 14.14', '55.00 ± 7.07']);
    expect(tables(md).find((t) => t.section.startsWith('Forgetting'))!.head).toEqual(['Method', 'FR MF1', 'FR Acc', 'vs ONE MF1', 'vs ONE Acc', 'vs base MF1', 'vs base Acc']);
    expect(row(md, 'Forgetting', 'NCL')!.slice(0, 5)).toEqual(['NCL', '+10.00 ± 7.07', '+20.00 ± 14.14', '-5.00 ± 7.07', '-10.00 ± 14.14']);
    expect(md).toContain('standard deviation over seeds');
    expect(row(md, 'End tasks: macro-F1', 'Base (no post-training)')).toEqual(['Base (no post-training)', '10.00 ± 0.00', '10.00 ± 0.00', '10.00 ± 0.00']);
    expect(row(md, 'End tasks: accuracy', 'Base (no post-training)')).toEqual(['Base (no post-training)', '30.00 ± 14.14', '40.00 ± 14.14', '35.00 ± 14.14']);
    expect(tables(md)[0].head).toEqual(['Method', 'a&b', 'c', 'Avg']);
  });

  it('drops columns empty in every row: no "vs base" without base fine-tunes, no FR with ONE alone', () => {
    const withBase = markdownReport(collectResults(out, 'seq.json', domains, [1, 2], ['ncl', 'one']));
    const noBase = collectResults(out, 'seq.json', domains, [1, 2], ['ncl', 'one']);
    noBase.base = null;
    for (const m of noBase.methods) m.vsBase = null;
    const md = markdownReport(noBase);
    expect(withBase).toContain('vs base MF1');
    expect(md).not.toContain('vs base MF1');
    expect(md).toContain('(--no-base)');
    expect(tables(md).find((t) => t.section.startsWith('Forgetting'))!.head).toEqual(['Method', 'FR MF1', 'FR Acc', 'vs ONE MF1', 'vs ONE Acc']);
    expect(md).not.toContain('Base (no post-training)');
    // ONE alone: neither forgetting rate nor transfer, so no such table
    const one = collectResults(out, 'seq.json', domains, [1, 2], ['one']);
    one.base = null;
    one.methods[0].vsBase = null;
    expect(markdownReport(one)).not.toContain('## Forgetting');
    for (const t of [withBase, md]) for (const line of t.split('\n')) if (line.startsWith('|')) expect([...line].length).toBeLessThanOrEqual(MAX_TABLE_WIDTH);
  });

  it('splits wide tables at about 120 characters, repeating the label column, and drops empty columns', () => {
    const label = { head: 'Method', cells: ['DAS', 'NCL'] };
    const cols = Array.from({ length: 12 }, (_, i) => ({ head: `domain-${i}`, cells: [`${i}0.00 ± 1.00`, `${i}1.00 ± 2.00`] }));
    const empty = { head: 'vs base', cells: [EMPTY, EMPTY] };
    const ts = splitTables(label, [...cols.slice(0, 6), empty, ...cols.slice(6)]);
    expect(ts.length).toBeGreaterThan(1);
    for (const t of ts) {
      expect(t.split('\n')[0]).toMatch(/^\| Method \|/);
      for (const line of t.split('\n')) expect([...line].length).toBeLessThanOrEqual(MAX_TABLE_WIDTH);
    }
    const all = ts.join('\n');
    expect(all).not.toContain('vs base');
    for (const c of cols) expect(all).toContain(`| ${c.cells[1]} |`);
    expect(splitTables(label, [empty])).toEqual([]);
    // aligned columns: every line of a table is as wide as its header
    const lines = ts[0].split('\n');
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
  });

  it('puts the settings, backend, version and per-phase timings into results.json', () => {
    const d = (posttrain: number, afterDomain: number, heldOut: number, finetune: number) => ({ posttrain, afterDomain, heldOut, finetune });
    const state = (method: string, seed: number, seconds?: unknown) => writeFileSync(join(seedDir(out, method, seed), STATE_FILE),
      JSON.stringify({ method, seed, domains: [{ secondsPerStep: 0.5 }, { secondsPerStep: 0.25 }], ...(seconds ? { seconds } : {}) }));
    state('ncl', 1, { prepare: 0, domains: [d(2, 0, 0.5, 1), d(3, 0.25, 0.5, 2)] });
    state('ncl', 2, { prepare: 0, domains: [d(4, 0, 0.5, 1), d(5, 0.25, 0.5, 2)] });
    state('one', 1, { prepare: 0, domains: [d(1, 0, 0, 1), d(1, 0, 0, 1)] });
    state('one', 2);   // begun before timings were recorded
    writeFileSync(join(out, TIMINGS_FILE), JSON.stringify({ invocations: [
      { started: '2026-01-01T00:00:00.000Z', seconds: 30, setup: 1.5, baseFinetune: 4, baseHeldOut: 0.25 },
      { started: '2026-01-02T00:00:00.000Z', seconds: 12.5, setup: 1, baseFinetune: 0, baseHeldOut: 0.5 },
    ] }));
    writeFileSync(join(out, 'run.json'), JSON.stringify({ fingerprint: {}, created: '2026-01-01T00:00:00.000Z' }));
    const t = collectTimings(out, domains, [1, 2], ['ncl']);
    expect(t.seconds).toBe(42.5);
    expect(t.phases).toEqual({ setup: 2.5, baseFinetune: 4, baseHeldOut: 0.75, prepare: 0, posttrain: 14, afterDomain: 0.5, heldOut: 2, finetune: 6 });
    expect(t.seeds[1]).toEqual({ method: 'ncl', seed: 2, prepare: 0, domains: [
      { domain: 'a&b', secondsPerStep: 0.5, posttrain: 4, afterDomain: 0, heldOut: 0.5, finetune: 1 },
      { domain: 'c', secondsPerStep: 0.25, posttrain: 5, afterDomain: 0.25, heldOut: 0.5, finetune: 2 }] });
    // a seed without a record: its phases are unknown, so are the sums over seeds
    const partial = collectTimings(out, domains, [1, 2], ['ncl', 'one']);
    expect(partial.phases.posttrain).toBeNull();
    expect(partial.phases.setup).toBe(2.5);
    expect(partial.seeds[3].domains[0]).toEqual({ domain: 'a&b', secondsPerStep: 0.5, posttrain: null, afterDomain: null, heldOut: null, finetune: null });

    const o = {
      sequence: 'seq.json', model: 'models/base', out, methods: ['ncl'], seeds: [1, 2], matrix: 'diagonal-final', heldOut: { maxChunks: 8 }, baseFinetune: true,
      posttrain: { steps: 30, batchSize: 16, seqLen: 64, lr: 1e-3, importanceSubset: 128, importanceBatchSize: 16 },
      finetune: { epochs: 2, lr: 2e-3, batchSize: 16, seqLen: 64, pool: 'mean' }, backend: cpu(),
    } as RunOptions;
    const r = JSON.parse(JSON.stringify(collectResults(out, 'seq.json', domains, [1, 2], ['ncl'], runMeta(o, domains))));
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(packageVersion()).toBe(version);
    expect(r.version).toBe(version);
    expect(r.experiment).toBe(out.split('/').pop());
    expect(r.backend).toEqual({ name: 'cpu', adapter: null });
    expect(r.created).toBe('2026-01-01T00:00:00.000Z');
    expect(r.settings).toEqual({
      sequence: 'seq.json', model: 'models/base', domains: ['a&b', 'c'], methods: ['ncl'], seeds: [1, 2], matrix: 'diagonal-final', heldOut: { maxChunks: 8 }, baseFinetune: true,
      posttrain: o.posttrain, finetune: o.finetune,
    });
    expect(r.timings).toEqual(t);
    expect(Object.keys(r).slice(0, 4)).toEqual(['sequence', 'domains', 'seeds', 'experiment']);
    const md = markdownReport(r);
    expect(md).toMatch(new RegExp(`## Run\\n[^]*das-webgpu ${version.replace(/\./g, '\\.')}, backend cpu`));
    expect(md).toContain('wall time 42.5 s (2 invocations)');
    expect(md).toContain('post-training and importance 14.0 s');
    expect(md).toContain(`# das run: ${r.experiment}`);
    rmSync(join(out, TIMINGS_FILE));
    rmSync(join(out, 'run.json'));
  });

  it('has no spread with one seed', () => {
    rmSync(join(out, 'base'), { recursive: true });
    const r = collectResults(out, 'seq.json', domains, [1], ['ncl']);
    expect(r.methods[0].spread).toBeNull();
    expect(markdownReport(r)).not.toContain('±');
  });
});
