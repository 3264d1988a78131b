// Results from score files: seed-averaged matrices, and the spread over seeds (sample standard
// deviation of each seed's own final row, average, forgetting rate and transfer vs ONE) in the JSON
// and as "mean ± sd" in the markdown table.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseFile, collectResults, finetuneFile, markdownReport, seedDir, std } from '../../src/continual/report.js';
import type { SequenceDomain } from '../../src/data/validate.js';

const out = mkdtempSync(join(tmpdir(), 'das-report-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const domains: SequenceDomain[] = ['a&b', 'c'].map((name) => ({ name, train: '', taskTrain: '', taskTest: '', labels: '' }));

function score(method: string, seed: number, t: number, k: number, accuracy: number): void {
  const f = finetuneFile(seedDir(out, method, seed), domains, t, k);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, JSON.stringify({ accuracy, macroF1: accuracy / 2 }));
}

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
    expect(md).toContain('| NCL | 25.00 ± 0.00 | 50.00 ± 0.00 | 30.00 ± 7.07 | 60.00 ± 14.14 | 27.50 ± 3.54 | 55.00 ± 7.07 | +10.00 ± 7.07 | +20.00 ± 14.14 | -5.00 ± 7.07 | -10.00 ± 14.14 |');
    expect(md).toContain('standard deviation over seeds');
    expect(md).toContain('| Base (no post-training) | 10.00 ± 0.00 | 30.00 ± 14.14 | 10.00 ± 0.00 | 40.00 ± 14.14 | 10.00 ± 0.00 | 35.00 ± 14.14 |');
  });

  it('has no spread with one seed', () => {
    rmSync(join(out, 'base'), { recursive: true });
    const r = collectResults(out, 'seq.json', domains, [1], ['ncl']);
    expect(r.methods[0].spread).toBeNull();
    expect(markdownReport(r)).not.toContain('±');
  });
});
