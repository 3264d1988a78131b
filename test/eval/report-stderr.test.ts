// Standard errors of the held-out MLM losses in results.json / results.md, from synthetic mlm-eval.json
// files with per-batch losses: each final-row loss, the average, the general text and the MLM forgetting
// of the seed mean (seeds averaged per batch: every model sees the same batches), the paired difference
// of MLM forgetting against NCL, the base model's; and the same run's files without per-batch losses
// (written before they were recorded) give no standard errors and no differences.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SequenceDomain } from '../../src/data/validate.js';
import { GENERAL } from '../../src/eval/mlm-eval.js';
import { HELD_OUT_FILE, MAX_TABLE_WIDTH, type ScoreKind, collectResults, finetuneFile, forgettingDifference, markdownReport, seedDir } from '../../src/eval/report.js';
import { rng } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-report-se-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const domains: SequenceDomain[] = ['x', 'y', 'z'].map((name) => ({ name, train: '', taskTrain: '', taskTest: '', labels: '' }));
const T = domains.length, seeds = [1, 2];
/** Labelled tokens per batch of each held-out set (the same for every model: fixed masking). */
const TOKENS: Record<string, number[]> = { [GENERAL]: [20, 25, 30], x: [10, 30, 20], y: [12, 18, 16, 9], z: [14, 22] };
const METHODS: Record<string, ScoreKind> = { das: 'matrix', ncl: 'matrix', one: 'diagonal', mtl: 'final' };
const OFFSET: Record<string, number> = { das: 0, ncl: 0.3, one: -0.2, mtl: 0.1, base: 0.5 };

/** Batch b's loss on `set` of method m's model after domain t, seed s: a smooth part plus noise shared by all models on the batch, plus the model's own noise. */
function batchLosses(m: string, s: number, t: number, set: string): number[] {
  const own = rng(1000 * s + 100 * t + 7 * set.charCodeAt(0) + 31 * m.charCodeAt(0) + m.length);
  const shared = rng(set.charCodeAt(0));
  return TOKENS[set].map(() => 4 + OFFSET[m] + 0.05 * (t - (set === GENERAL ? 0 : domains.findIndex((d) => d.name === set))) + 0.6 * shared() + 0.2 * own());
}
const sets = (m: string, t: number): string[] => [GENERAL, ...domains.filter((_, k) => (METHODS[m] === 'diagonal' ? k === t : k <= t)).map((d) => d.name)];

function writeHeldOut(file: string, m: string, s: number, t: number, names: string[], withBatches: boolean): void {
  const batches = Object.fromEntries(names.map((n) => [n, batchLosses(m, s, t, n).map((l, b) => [l, TOKENS[n][b]])]));
  const losses = Object.fromEntries(names.map((n) => [n, (batches[n] as [number, number][]).reduce((a, [l, c]) => a + l * c, 0) / TOKENS[n].reduce((a, c) => a + c, 0)]));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ model: 'm', chunks: Object.fromEntries(names.map((n) => [n, 4 * TOKENS[n].length])), losses, ...(withBatches ? { batches } : {}) }));
}

function writeRun(out: string, withBatches: boolean): void {
  for (const [m, kind] of Object.entries(METHODS)) for (const s of seeds) for (let t = 0; t < T; t++) {
    if (kind === 'final' && t < T - 1) continue;
    for (let k = 0; k <= t; k++) {
      if (kind === 'diagonal' && k !== t) continue;
      const f = finetuneFile(seedDir(out, m, s), domains, t, k);
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, JSON.stringify({ accuracy: 0.5, macroF1: 0.4 }));
    }
    writeHeldOut(join(seedDir(out, m, s), `${t}-${domains[t].name}`, HELD_OUT_FILE), m, s, t, kind === 'final' ? [GENERAL, ...domains.map((d) => d.name)] : sets(m, t), withBatches);
  }
  writeHeldOut(join(out, 'base', HELD_OUT_FILE), 'base', 0, 0, [GENERAL, ...domains.map((d) => d.name)], withBatches);
}

// The reference, written out plainly: SE = sqrt(B/(B−1) Σ n_b² (l_b − L)²) / Σ n_b on the seed mean's per-batch losses.
const se = (ls: number[], ns: number[]): number => {
  const N = ns.reduce((a, n) => a + n, 0), L = ls.reduce((a, l, b) => a + l * ns[b], 0) / N, B = ls.length;
  return Math.sqrt((B / (B - 1)) * ls.reduce((a, l, b) => a + (ns[b] * (l - L)) ** 2, 0)) / N;
};
const wmean = (ls: number[], ns: number[]): number => ls.reduce((a, l, b) => a + l * ns[b], 0) / ns.reduce((a, n) => a + n, 0);
const seedMean = (m: string, t: number, set: string): number[] => TOKENS[set].map((_, b) => seeds.reduce((a, s) => a + batchLosses(m, s, t, set)[b], 0) / seeds.length);
const diff = (a: number[], b: number[]): number[] => a.map((x, i) => x - b[i]);
/** Per earlier domain k: the seed mean's l_b(after the last domain) − l_b(after k) on k's batches. */
const forgettingPerK = (m: string): number[][] => domains.slice(0, T - 1).map((d, k) => diff(seedMean(m, T - 1, d.name), seedMean(m, k, d.name)));
const combine = (ses: number[]): number => Math.sqrt(ses.reduce((a, x) => a + x * x, 0)) / ses.length;

describe('held-out standard errors in the report', () => {
  const out = join(work, 'with');
  writeRun(out, true);
  const r = collectResults(out, 'seq.json', domains, seeds, Object.keys(METHODS), undefined, METHODS);

  it('gives each held-out loss of the seed mean its standard error', () => {
    const byName = Object.fromEntries(r.methods.map((m) => [m.method, m.heldOut!]));
    for (const [m, kind] of Object.entries(METHODS)) {
      const h = byName[m];
      const cell = (k: number) => (kind === 'diagonal' ? k : T - 1);
      const final = domains.map((d, k) => se(seedMean(m, cell(k), d.name), TOKENS[d.name]));
      expect(h.stderr).not.toBeNull();
      h.stderr!.final.forEach((x, k) => expect(x).toBeCloseTo(final[k], 12));
      expect(h.stderr!.average).toBeCloseTo(combine(final), 12);
      expect(h.stderr!.general).toBeCloseTo(se(seedMean(m, T - 1, GENERAL), TOKENS[GENERAL]), 12);
      // the losses themselves are the token-weighted means of the same numbers
      h.final.forEach((x, k) => expect(x).toBeCloseTo(wmean(seedMean(m, cell(k), domains[k].name), TOKENS[domains[k].name]), 12));
      if (kind === 'matrix') {
        const ds = forgettingPerK(m);
        expect(h.forgetting).toBeCloseTo(ds.reduce((a, d, k) => a + wmean(d, TOKENS[domains[k].name]), 0) / ds.length, 12);
        expect(h.stderr!.forgetting).toBeCloseTo(combine(ds.map((d, k) => se(d, TOKENS[domains[k].name]))), 12);
        // paired: well below the error of the same difference taken as of two independent losses (the models share the batches' difficulty)
        const unpaired = combine(domains.slice(0, T - 1).map((x, k) => Math.hypot(se(seedMean(m, T - 1, x.name), TOKENS[x.name]), se(seedMean(m, k, x.name), TOKENS[x.name]))));
        expect(h.stderr!.forgetting!).toBeLessThan(unpaired / 2);
      } else {
        expect(h.forgetting).toBeNull();
        expect(h.stderr!.forgetting).toBeNull();
      }
    }
    for (const d of [GENERAL, ...domains.map((x) => x.name)]) expect(r.baseHeldOutStderr![d]).toBeCloseTo(se(batchLosses('base', 0, 0, d), TOKENS[d]), 12);
  });

  it('pairs the MLM forgetting of each continual method with NCL\'s per batch', () => {
    expect(r.heldOutDifferences.map((d) => `${d.a}-${d.b}`)).toEqual(['das-ncl']);   // not NCL with itself, not ONE or MTL
    const [d] = r.heldOutDifferences;
    const das = forgettingPerK('das'), ncl = forgettingPerK('ncl');
    const per = das.map((x, k) => diff(x, ncl[k]));
    expect(d.mean).toBeCloseTo(r.methods[0].heldOut!.forgetting! - r.methods[1].heldOut!.forgetting!, 12);
    expect(d.mean).toBeCloseTo(per.reduce((a, x, k) => a + wmean(x, TOKENS[domains[k].name]), 0) / per.length, 12);
    expect(d.stderr).toBeCloseTo(combine(per.map((x, k) => se(x, TOKENS[domains[k].name]))), 12);
    expect(forgettingDifference(out, 'das', 'ncl', domains, seeds)).toEqual({ mean: d.mean, stderr: d.stderr });
    // antisymmetric; one seed alone is its own seed mean
    const back = forgettingDifference(out, 'ncl', 'das', domains, seeds)!;
    expect(back.mean).toBeCloseTo(-d.mean, 14);
    expect(back.stderr).toBeCloseTo(d.stderr, 14);
    const one = forgettingDifference(out, 'das', 'ncl', domains, [2])!;
    const per2 = domains.slice(0, T - 1).map((x, k) => diff(diff(batchLosses('das', 2, T - 1, x.name), batchLosses('das', 2, k, x.name)), diff(batchLosses('ncl', 2, T - 1, x.name), batchLosses('ncl', 2, k, x.name))));
    expect(one.stderr).toBeCloseTo(combine(per2.map((x, k) => se(x, TOKENS[domains[k].name]))), 12);
    expect(forgettingDifference(out, 'das', 'absent', domains, seeds)).toBeNull();
  });

  it('shows "loss ± SE" in the held-out table and the paired difference under it', () => {
    const md = markdownReport(r);
    const section = md.slice(md.indexOf('## Held-out MLM loss'), md.indexOf('## DAS: progressive matrix'));
    const h = r.methods[0].heldOut!;
    const row = section.split('\n').find((l) => l.startsWith('| DAS '))!.split('|').map((c) => c.trim()).filter((c) => c !== '');
    expect(row.slice(0, 6)).toEqual(['DAS', ...h.final.map((x, k) => `${x.toFixed(3)} ± ${h.stderr!.final[k].toFixed(3)}`),
      `${h.average.toFixed(3)} ± ${h.stderr!.average.toFixed(3)}`, `${h.general[T - 1]!.toFixed(3)} ± ${h.stderr!.general!.toFixed(3)}`]);
    expect(section).toContain('standard error of the seed mean');
    expect(section).toMatch(/\| Base \(no post-training\) +\| +[\d.]+ ± [\d.]+ \|/);
    expect(section).toContain('Avg seed sd');
    const d = r.heldOutDifferences[0], digits = d.stderr < 0.001 ? -Math.floor(Math.log10(d.stderr)) : 3;
    expect(section).toContain(`MLM forgetting vs NCL (paired over the held-out batches`);
    expect(section).toContain(`- das − ncl = ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(digits)} ± ${d.stderr.toFixed(digits)} nats (${(d.mean / d.stderr).toFixed(1)} SE)`);
    for (const line of md.split('\n')) if (line.startsWith('|')) expect([...line].length).toBeLessThanOrEqual(MAX_TABLE_WIDTH);
  });

  it('reads files without per-batch losses: the same losses, no standard errors, no differences', () => {
    const old = join(work, 'old');
    writeRun(old, false);
    const o = collectResults(old, 'seq.json', domains, seeds, Object.keys(METHODS), undefined, METHODS);
    for (const [i, m] of o.methods.entries()) {
      expect(m.heldOut!.stderr).toBeNull();
      expect(m.heldOut!.final).toEqual(r.methods[i].heldOut!.final);
    }
    expect(o.baseHeldOutStderr).toBeNull();
    expect(o.heldOutDifferences).toEqual([]);
    const md = markdownReport(o);
    const section = md.slice(md.indexOf('## Held-out MLM loss'), md.indexOf('## DAS: progressive matrix'));
    expect(section).not.toContain('±');
    expect(section).not.toContain('MLM forgetting vs');
    expect(section).toContain('Avg seed sd');
    // one batch per text: no estimate of the spread, so no standard error
    const single = join(work, 'single');
    for (const k of Object.keys(TOKENS)) TOKENS[k] = TOKENS[k].slice(0, 1);
    writeRun(single, true);
    const s = collectResults(single, 'seq.json', domains, seeds, Object.keys(METHODS), undefined, METHODS);
    expect(s.methods.every((m) => m.heldOut!.stderr === null)).toBe(true);
    expect(s.heldOutDifferences).toEqual([]);
    expect(s.baseHeldOutStderr).toBeNull();
  });
});
