// SVG plots of a run directory: the pure helpers (escaping, numbers, ticks, colours, seed statistics,
// the forgetting view) and writePlots on a synthetic run with awkward domain names, non-finite losses,
// missing logs and missing DAS; every file must be well-formed XML with no NaN anywhere. The matrix
// plots share one colour scale (with a colour bar) across methods; the held-out MLM plot exists only
// with held-out losses; titles name the experiment.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostImportance } from '../../src/das/importance-files.js';
import { writeImportance } from '../../src/das-files/importance-dirs.js';
import type { MethodSummary, RunResults } from '../../src/eval/report.js';
import { readLossLog, writePlots } from '../../src/eval/plots.js';
import { binColumns } from '../../src/eval/plots/importance-plot.js';
import { type LossMethod, domainOffsets, seedStats } from '../../src/eval/plots/loss-plot.js';
import { changeLimit, forgettingMatrix, sharedRange, signedPoints } from '../../src/eval/plots/matrix-plot.js';
import { RDBU, VIRIDIS, diverging, escapeXml, linearScale, niceTicks, num, tickLabels, viridis } from '../../src/eval/plots/svg.js';

const work = mkdtempSync(join(tmpdir(), 'das-plots-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Throws unless `svg` is one well-formed <svg> element: balanced tags, quoted attributes, escaped text. */
function checkXml(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="')).toBe(true);
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/y;
  const badText = /[<>]|&(?!(?:amp|lt|gt|quot|#39);)/;
  const stack: string[] = [];
  let at = 0, closedRoot = false;
  for (;;) {
    const lt = svg.indexOf('<', at);
    const between = svg.slice(at, lt < 0 ? svg.length : lt);
    if (badText.test(between)) throw new Error(`unescaped text ${JSON.stringify(between)}`);
    if (closedRoot && between.trim() !== '') throw new Error('content after the root element');
    if (lt < 0) break;
    if (closedRoot) throw new Error('a second root element');
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    if (m === null) throw new Error(`malformed tag at ${lt}: ${svg.slice(lt, lt + 80)}`);
    for (const value of m[3].match(/"[^"]*"/g) ?? []) if (badText.test(value.slice(1, -1))) throw new Error(`unescaped attribute ${value}`);
    if (m[1] === '/') {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`</${m[2]}> closes <${open}>`);
    } else if (m[4] !== '/') stack.push(m[2]);
    closedRoot = stack.length === 0;
    at = tag.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(closedRoot).toBe(true);
}

describe('checkXml (the test oracle)', () => {
  it('rejects unbalanced tags, raw markup in text and bad attributes', () => {
    const ok = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><g><text>a &amp; b</text></g></svg>\n';
    expect(() => checkXml(ok)).not.toThrow();
    expect(() => checkXml(ok.replace('</g>', ''))).toThrow();
    expect(() => checkXml(ok.replace('a &amp; b', 'a & b'))).toThrow(/unescaped/);
    expect(() => checkXml(ok.replace('a &amp; b', '<sotu>'))).toThrow();
    expect(() => checkXml(ok.replace('<g>', '<g x=1>'))).toThrow(/malformed/);
  });
});

describe('svg helpers', () => {
  it('escape the five XML specials', () => {
    expect(escapeXml(`a&b <c> "d" 'e'`)).toBe('a&amp;b &lt;c&gt; &quot;d&quot; &#39;e&#39;');
  });

  it('round numbers to 2 decimals, never write -0, refuse non-finite numbers', () => {
    expect([num(1.005e3), num(2.3456), num(-0.001), num(0), num(-1.5)]).toEqual(['1005', '2.35', '0', '0', '-1.5']);
    expect(() => num(Number.NaN)).toThrow(/non-finite/);
    expect(() => num(Infinity)).toThrow(/non-finite/);
  });

  it('scale linearly, a degenerate domain to the middle', () => {
    const s = linearScale(0, 10, 100, 0);
    expect([s(0), s(5), s(10)]).toEqual([100, 50, 0]);
    expect(linearScale(3, 3, 0, 10)(3)).toBe(5);
  });

  it('nice ticks cover the range with a round, even step', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.5, 1]);
    expect(niceTicks(5.2, 8.9, 6)).toEqual([5, 6, 7, 8, 9]);
    expect(niceTicks(3, 3)).toEqual([2.6, 2.8, 3, 3.2, 3.4]);
    expect(tickLabels([0, 0.5, 1])).toEqual(['0.0', '0.5', '1.0']);
    expect(tickLabels([0, 20, 40])).toEqual(['0', '20', '40']);
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }), fc.integer({ min: 2, max: 10 }), (lo, span, count) => {
      const t = niceTicks(lo, lo + span, count);
      const step = Number((t[1] - t[0]).toPrecision(6));
      expect(t[0]).toBeLessThanOrEqual(lo + 1e-9 * step); // round-off below a billionth of a step is ignored
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(lo + span - 1e-9 * step);
      expect(t.length).toBeLessThanOrEqual(2 * count + 3);
      expect([1, 2, 5]).toContain(Number((step / 10 ** Math.floor(Math.log10(step) + 1e-9)).toPrecision(6)));
      for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1]).toBeCloseTo(step, 6);
    }));
  });

  it('viridis: matplotlib endpoints, clamped, grey for NaN', () => {
    expect(viridis(0)).toBe('#440154');
    expect(viridis(1)).toBe('#fde725');
    expect(viridis(-3)).toBe('#440154');
    expect(viridis(7)).toBe('#fde725');
    expect(viridis(Number.NaN)).toBe('#cccccc');
    expect(viridis(0.5)).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('diverging: red below 0, near-white at 0, blue above, clamped', () => {
    expect(diverging(-1)).toBe(RDBU[0]);
    expect(diverging(0)).toBe('#f7f7f7');
    expect(diverging(1)).toBe(RDBU[RDBU.length - 1]);
    expect(diverging(-5)).toBe(RDBU[0]);
    expect(diverging(Number.NaN)).toBe('#cccccc');
  });

  it('bin wide blocks by their maximum', () => {
    const b = binColumns({ name: 'ffn', rows: 1, cols: 1025, data: Float32Array.from({ length: 1025 }, (_, i) => i) });
    expect([b.bin, b.cols, b.data[0], b.data[341], b.data.length]).toEqual([3, 342, 2, 1024, 342]);
  });
});

describe('seed statistics of the loss logs', () => {
  const m: LossMethod = {
    method: 'das',
    runs: [
      { seed: 1, domains: [[{ step: 1, loss: 4, mlm: 3 }, { step: 2, loss: null, mlm: 1 }], [{ step: 1, loss: 6, mlm: null }]] },
      { seed: 2, domains: [[{ step: 1, loss: 2, mlm: 1 }, { step: 2, loss: null, mlm: null }, { step: 3, loss: 1, mlm: null }], []] },
    ],
  };

  it('domains follow each other by their longest log', () => {
    expect(domainOffsets([m], 3)).toEqual([0, 3, 4, 4]);
  });

  it('average over seeds at each step, skipping missing values', () => {
    const s = seedStats(m, 'loss', domainOffsets([m], 2));
    expect(s).toEqual([[{ x: 1, mean: 3, lo: 2, hi: 4 }, { x: 3, mean: 1, lo: 1, hi: 1 }], [{ x: 4, mean: 6, lo: 6, hi: 6 }]]);
  });

  it('skip NaN and infinite values handed in directly', () => {
    const bad: LossMethod = { method: 'x', runs: [{ seed: 1, domains: [[{ step: 1, loss: Number.NaN, mlm: null }, { step: 2, loss: -Infinity, mlm: null }, { step: 3, loss: 2, mlm: null }]] }] };
    expect(seedStats(bad, 'loss', [0, 3])).toEqual([[{ x: 3, mean: 2, lo: 2, hi: 2 }]]);
  });
});

// ---- a synthetic run directory -----------------------------------------------------------------

const DOMAINS = ['a&b', '<sotu>', 'quote"d'];
const matrix = (diag: number[], last: number[]) => DOMAINS.map((_, t) => DOMAINS.map((__, k) => (t === DOMAINS.length - 1 ? last[k] : t === k ? diag[k] : null)));

function summary(method: string, seeds: number[], acc: (number | null)[][]): MethodSummary {
  const mf1 = acc.map((row) => row.map((x) => (x === null ? null : x - 0.1)));
  return {
    method, seeds, acc, mf1, perSeed: seeds.map((seed) => ({ seed, mf1, acc })),
    final: { mf1: [0, 0, 0], acc: [0, 0, 0] }, average: { mf1: 0, acc: 0 }, forgetting: { mf1: null, acc: null }, vsOne: null, vsBase: null,
  };
}

function writeRun(out: string, methods: MethodSummary[], extra: Partial<RunResults> = { experiment: 'exp & co' }): void {
  mkdirSync(out, { recursive: true });
  const r: RunResults = { sequence: 'data/seq & co.json', domains: DOMAINS, seeds: [1, 2], base: null, baseHeldOut: null, heldOutDifferences: [], methods, ...extra };
  writeFileSync(join(out, 'results.json'), JSON.stringify(r));
}

function writeLog(out: string, method: string, seed: number, t: number, lines: string[]): void {
  const dir = join(out, method, `seed-${seed}`, `${t}-${DOMAINS[t]}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'log.jsonl'), lines.map((l) => `${l}\n`).join(''));
}

const rec = (step: number, loss: number, extra = {}) => JSON.stringify({ step, loss, lr: 0, seconds: step, ...extra });
const filled = (shape: [number, number], f: (l: number, j: number) => number) =>
  ({ shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => f(Math.floor(i / shape[1]), i % shape[1])) });
/** Layer 0 constant (normalises to 0), layer 1 of the heads [0, 0, 0, 10] (normalises to |tanh(−0.5)|, tanh(1.5)). */
const IMPT: HostImportance = {
  head: filled([2, 4], (l, j) => (l === 1 && j === 3 ? 10 : l === 1 ? 0 : 0.7)),
  intermediate: filled([2, 8], () => 0.7),
  output: filled([2, 6], () => 0.7),
};

describe('writePlots', () => {
  const out = join(work, 'run');
  const read = (name: string) => readFileSync(join(out, 'plots', name), 'utf8');
  let before: string[] = [], after: string[] = [];
  beforeAll(async () => {
    writeRun(out, [summary('das', [1, 2], matrix([0.57, 0.6, 0.61], [0.5, 0.55, 0.625])), summary('ncl', [1, 2], matrix([0.4, 0.41, 0.42], [0.3, 0.31, 0.32]))]);
    // DAS: step 2 is non-finite in both seeds (null as JSON writes NaN, 1e999 = Infinity, a NaN literal is not JSON).
    writeLog(out, 'das', 1, 0, [rec(1, 4, { mlm: 3.5, contrast: 0.5 }), '{"step":2,"loss":null,"mlm":null}', rec(3, 3, { mlm: 2.5 })]);
    writeLog(out, 'das', 2, 0, [rec(1, 5, { mlm: 4.5 }), '{"step":2,"loss":1e999,"mlm":1e999}', '{"step":2,"loss":NaN}', rec(3, 2, { mlm: 1.5 })]);
    writeLog(out, 'das', 1, 1, [rec(1, 2.5), rec(2, 2.4)]);
    writeLog(out, 'ncl', 1, 0, [rec(1, 4.2), rec(2, 3.9), rec(3, 3.1)]); // ncl seed 2: no logs at all
    before = await writePlots(out);
    await writeImportance(join(out, 'das', 'seed-1', 'kl-importance'), IMPT, { normalized: false });
    await writeImportance(join(out, 'das', 'seed-1', `0-${DOMAINS[0]}`, 'importance'), IMPT, { normalized: false });
    after = await writePlots(out);
  });

  it('writes the loss, importance (once DAS sets exist) and matrix plots and returns their paths', () => {
    expect(before.map((p) => p.slice(out.length))).toEqual(['/plots/loss.svg', '/plots/matrix-das.svg', '/plots/matrix-ncl.svg']);
    expect(after.map((p) => p.slice(out.length))).toEqual(['/plots/loss.svg', '/plots/importance.svg', '/plots/matrix-das.svg', '/plots/matrix-ncl.svg']);
  });

  it('every file is well-formed standalone SVG without NaN, Infinity or undefined', () => {
    for (const name of ['loss.svg', 'importance.svg', 'matrix-das.svg', 'matrix-ncl.svg']) {
      const svg = read(name);
      checkXml(svg);
      expect(svg).not.toMatch(/NaN|Infinity|undefined|null/);
    }
  });

  it('escapes domain names and the sequence name', () => {
    for (const name of ['loss.svg', 'matrix-das.svg', 'importance.svg']) {
      const svg = read(name);
      expect(svg).toContain(escapeXml(DOMAINS[0]));
      expect(svg).not.toContain('<sotu>');
    }
    expect(read('matrix-das.svg')).toContain('after &lt;sotu&gt;');
    expect(read('matrix-das.svg')).toContain('quote&quot;d');
  });

  it('titles name the experiment, not the sequence file', () => {
    for (const name of ['loss.svg', 'matrix-das.svg', 'matrix-ncl.svg', 'importance.svg']) {
      const title = read(name).match(/<text[^>]*font-size="16"[^>]*>([^<]*)<\/text>/)![1];
      expect(title).toContain('exp &amp; co');
      expect(read(name)).not.toContain('seq &amp; co');
    }
  });

  it('annotates the matrix cells in % with 1 decimal, null cells blank', () => {
    const svg = read('matrix-das.svg');
    for (const v of ['57.0', '60.0', '50.0', '55.0', '62.5', '47.0', '52.5']) expect(svg).toContain(`>${v}</text>`);
    // scores: (0, 1), (0, 2), (1, 0), (1, 2) in both panels; forgetting view: all but (2, 0), (2, 1) in both
    expect(svg.match(/fill="#eeeeee"/g)).toHaveLength(2 * 4 + 2 * 7);
    expect(read('matrix-ncl.svg')).toContain('>41.0</text>');
  });

  it('draws one loss path per method, skips non-finite steps and dashes the DAS MLM term', () => {
    const svg = read('loss.svg');
    const paths = [...svg.matchAll(/<path d="([^"]*)"[^>]*data-series="loss" data-method="(\w+)"/g)];
    expect(paths.map((p) => p[2])).toEqual(['das', 'ncl']);
    expect(paths[0][1].match(/[ML]/g)).toEqual(['M', 'L', 'M', 'L']); // steps 1 and 3 of domain 0, 1 and 2 of domain 1
    expect(paths[1][1].match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    expect(svg.match(/data-series="mlm"/g)).toHaveLength(1);
    expect(svg).toContain('band: min–max over seeds');
  });

  it('shows per-layer normalised importance, as the soft mask sees it', () => {
    const svg = read('importance.svg');
    expect(svg).toContain('normalised per layer');
    expect(svg).toContain(`fill="${viridis(Math.tanh(1.5))}"`);
    expect(svg).toContain(`fill="${viridis(Math.tanh(0.5))}"`);
    expect(svg).not.toContain(`fill="${viridis(0.7)}"`); // the raw value
    expect(svg.match(/<text[^>]*>heads \(4\)<\/text>/g)).toHaveLength(2); // KL and domain 0; domains 1, 2 have no set
  });

  it('colours every method on one scale: the smallest and largest score of the whole run', () => {
    const das = read('matrix-das.svg'), ncl = read('matrix-ncl.svg');
    // the run's scores: DAS accuracy 0.5 … 0.625 (MF1 0.1 lower), NCL accuracy 0.3 … 0.42 (MF1 0.2 … 0.32)
    const lo = 0.3 - 0.1, hi = 0.625, at = (v: number) => `fill="${viridis((v - lo) / (hi - lo))}"`;
    expect(das).toContain(`fill="${VIRIDIS[VIRIDIS.length - 1]}"`);   // DAS accuracy 62.5: the top of the scale
    expect(das).not.toContain(`fill="${VIRIDIS[0]}"`);                 // DAS's own minimum is not the bottom
    expect(ncl).toContain(`fill="${VIRIDIS[0]}"`);                     // NCL MF1 20.0: the bottom
    expect(ncl).not.toContain(`fill="${VIRIDIS[VIRIDIS.length - 1]}"`);
    expect(das).toContain(at(0.57));
    expect(ncl).toContain(at(0.4));
    // the same colour bar in both
    const bar = (svg: string) => svg.match(/<g data-colourbar="score-scale">.*?<\/g>/)![0];
    expect(bar(das)).toBe(bar(ncl));
    expect(bar(das)).toContain('% (20.0–62.5, all methods)');
    expect(bar(das).match(/<stop [^>]*stop-color="(#[0-9a-f]{6})"/g)!.map((x) => x.slice(-8, -1))).toEqual(VIRIDIS);
    for (const t of ['20', '40', '60']) expect(bar(das)).toContain(`>${t}</text>`);
  });

  it('shows the forgetting view A[t][k] − A[k][k] on a shared diverging scale centred at 0', () => {
    const das = read('matrix-das.svg'), ncl = read('matrix-ncl.svg');
    // DAS accuracy: A[2][0] − A[0][0] = 50 − 57 = −7.0, A[2][1] − A[1][1] = 55 − 60 = −5.0 (MF1 the same);
    // NCL: 30 − 40 = 31 − 41 = −10.0, the largest change of the run, so the scale is ±10 pp
    expect(das.match(/>−7\.0<\/text>/g)).toHaveLength(2);
    expect(das.match(/>−5\.0<\/text>/g)).toHaveLength(2);
    expect(ncl.match(/>−10\.0<\/text>/g)).toHaveLength(4);
    expect(das).toContain(`fill="${diverging(-0.7)}"`);
    expect(das).toContain(`fill="${diverging(-0.5)}"`);
    expect(ncl).toContain(`fill="${RDBU[0]}"`);
    const bar = (svg: string) => svg.match(/<g data-colourbar="change-scale">.*?<\/g>/)![0];
    expect(bar(das)).toBe(bar(ncl));
    expect(bar(das)).toContain('pp (±10.0, all methods)');
    expect(bar(das)).toContain('>0</text>');
    expect(das).toContain('Accuracy: A[t][k] − A[k][k] (pp)');
  });

  it('forgettingMatrix: A[t][k] − A[k][k] below the diagonal, null elsewhere', () => {
    const a = [[0.8, null, null], [0.7, 0.6, null], [0.5, 0.65, 0.9]];
    const f = forgettingMatrix(a);
    expect(f[0]).toEqual([null, null, null]);
    expect(f[1][0]).toBeCloseTo(-0.1, 12);
    expect(f[1].slice(1)).toEqual([null, null]);
    expect(f[2][0]).toBeCloseTo(-0.3, 12);
    expect(f[2][1]).toBeCloseTo(0.05, 12);
    expect(f[2][2]).toBeNull();
    expect(forgettingMatrix([[null, null], [0.5, 0.4]])).toEqual([[null, null], [null, null]]);   // A[0][0] missing
    expect(changeLimit([f])).toBeCloseTo(0.3, 12);
    expect(sharedRange([a, [[0.95]]])).toEqual([0.5, 0.95]);
    expect(sharedRange([[[null]]])).toBeNull();
    expect([signedPoints(-0.07), signedPoints(0.0504), signedPoints(-0.0004), signedPoints(0)]).toEqual(['−7.0', '+5.0', '0.0', '0.0']);
  });

  it('ONE (the diagonal only) has the score colour bar but no forgetting view', async () => {
    const dir = join(work, 'one-only');
    writeRun(dir, [summary('one', [1], DOMAINS.map((_, t) => DOMAINS.map((__, k) => (t === k ? 0.5 + 0.1 * k : null))))]);
    await writePlots(dir);
    const svg = readFileSync(join(dir, 'plots', 'matrix-one.svg'), 'utf8');
    checkXml(svg);
    expect(svg).toContain('data-colourbar="score-scale"');
    expect(svg).not.toContain('data-colourbar="change-scale"');
    expect(svg).not.toContain('A[t][k] − A[k][k]');
  });

  it('plots the held-out MLM loss per domain after each domain when the run has it, and only then', async () => {
    expect(before.concat(after).some((p) => p.endsWith('heldout.svg'))).toBe(false);
    const dir = join(work, 'held-out');
    const das = summary('das', [1, 2], matrix([0.57, 0.6, 0.61], [0.5, 0.55, 0.625]));
    const one = summary('one', [1, 2], DOMAINS.map((_, t) => DOMAINS.map((__, k) => (t === k ? 0.5 : null))));
    const held = (loss: (number | null)[][], general: (number | null)[]) => ({ loss, general, final: [0, 0, 0], average: 0, forgetting: null, spread: null, stderr: null });
    das.heldOut = held([[5.1, null, null], [5.3, 4.8, null], [5.4, 5.0, 4.2]], [6.1, 6.2, 6.3]);
    one.heldOut = held([[5.0, null, null], [null, 4.7, null], [null, null, 4.1]], [6.0, 6.05, 6.1]);
    writeRun(dir, [das, one], { experiment: 'held', baseHeldOut: { general: 5.9, [DOMAINS[0]]: 5.6, [DOMAINS[1]]: 5.2, [DOMAINS[2]]: 4.6 } });
    const written = await writePlots(dir);
    expect(written.map((p) => p.slice(dir.length))).toContain('/plots/heldout.svg');
    const svg = readFileSync(join(dir, 'plots', 'heldout.svg'), 'utf8');
    checkXml(svg);
    expect(svg).not.toMatch(/NaN|Infinity|undefined|null/);
    expect(svg).toContain('Held-out MLM loss per domain — held');
    // one panel per domain and one for the general text; DAS a line from the domain on, ONE single points
    expect(svg.match(/<g data-panel="/g)).toHaveLength(DOMAINS.length + 1);
    const path = (method: string, set: string) => svg.match(new RegExp(`<path d="([^"]*)"[^>]*data-method="${method}" data-set="${escapeXml(set)}"`))?.[1];
    expect(path('das', DOMAINS[0])!.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    expect(path('das', DOMAINS[2])!.match(/[ML]/g)).toEqual(['M']);
    expect(path('das', 'general')!.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    expect(path('one', DOMAINS[1])!.match(/[ML]/g)).toEqual(['M']);
    expect(svg.match(/data-series="base"/g)).toHaveLength(DOMAINS.length + 1);
    expect(svg).toContain('>base model</text>');
    // without base losses: no base line
    writeRun(dir, [das], { experiment: 'held' });
    await writePlots(dir);
    expect(readFileSync(join(dir, 'plots', 'heldout.svg'), 'utf8')).not.toContain('data-series="base"');
  });

  it('names the experiment after the run directory when results.json does not', async () => {
    const dir = join(work, 'my-experiment');
    writeRun(dir, [summary('ncl', [1], matrix([0.4, 0.41, 0.42], [0.3, 0.31, 0.32]))], {});
    await writePlots(dir);
    expect(readFileSync(join(dir, 'plots', 'matrix-ncl.svg'), 'utf8')).toContain('NCL: progressive matrix A[t][k] — my-experiment');
  });

  it('leaves out importance.svg without DAS, and missing logs are no error', async () => {
    const bare = join(work, 'no-das');
    writeRun(bare, [summary('ncl', [1], matrix([0.4, 0.41, 0.42], [0.3, 0.31, 0.32]))]);
    expect((await writePlots(bare)).map((p) => p.slice(bare.length))).toEqual(['/plots/matrix-ncl.svg']);
  });

  it('reads a missing log as null and fails on a missing results.json', async () => {
    expect(await readLossLog(join(work, 'nope.jsonl'))).toBeNull();
    await expect(writePlots(join(work, 'empty'))).rejects.toThrow(/results\.json/);
  });
});
