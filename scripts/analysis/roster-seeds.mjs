// Per-seed numbers of a `das run` with several methods (e.g. results/roster-3seeds), for the write-up:
// each method's end-task averages and held-out MLM numbers per seed, and paired differences against NCL
// (the same seed: the same batches, masks, fine-tuning seeds), as markdown.
//   node scripts/analysis/roster-seeds.mjs RUN_DIR
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const run = process.argv[2];
if (!run) throw new Error('usage: roster-seeds.mjs RUN_DIR');
const r = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8'));
const doms = r.domains, T = doms.length;
const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
const sd = (xs) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const held = (m, seed, t) => {
  const f = join(run, m, `seed-${seed}`, `${t}-${doms[t]}`, 'mlm-eval.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')).losses : null;
};
const rows = {};
for (const m of r.methods) {
  const kind = m.forgetting.mf1 === null && m.perSeed[0].mf1[T - 1].some((x) => x === null) ? 'diagonal' : 'final';
  rows[m.method] = m.perSeed.map((p) => {
    const pick = (M) => (kind === 'diagonal' ? M.map((row, k) => row[k]) : M[T - 1]);
    const last = held(m.method, p.seed, T - 1);
    const fr = kind === 'final' && m.forgetting.mf1 !== null && T > 1 && last && doms.slice(0, T - 1).every((d, k) => held(m.method, p.seed, k)?.[d] !== undefined)
      ? mean(doms.slice(0, T - 1).map((d, k) => last[d] - held(m.method, p.seed, k)[d])) : null;
    const own = doms.map((d, k) => (kind === 'diagonal' ? held(m.method, p.seed, k)?.[d] : last?.[d]));
    return { seed: p.seed, mf1: 100 * mean(pick(p.mf1)), acc: 100 * mean(pick(p.acc)), heldAvg: own.every((x) => typeof x === 'number') ? mean(own) : null, general: last?.general ?? held(m.method, p.seed, T - 1)?.general ?? null, fr };
  });
}
const f = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const out = ['| method | seed | Avg MF1 | Avg Acc | held-out loss, avg of own domains | general text, final | MLM forgetting |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
for (const [m, xs] of Object.entries(rows)) for (const x of xs) out.push(`| ${m} | ${x.seed} | ${f(x.mf1)} | ${f(x.acc)} | ${f(x.heldAvg, 3)} | ${f(x.general, 3)} | ${f(x.fr, 3)} |`);
out.push('', 'Paired differences against NCL (same seed), mean ± sd over the seeds both have, and the count of seeds where the method is better:', '',
  '| method − NCL | seeds | Avg MF1 | Avg Acc | MLM forgetting (lower is better) | general text, final |', '| --- | ---: | ---: | ---: | ---: | ---: |');
const ncl = new Map((rows.ncl ?? []).map((x) => [x.seed, x]));
for (const [m, xs] of Object.entries(rows)) {
  if (m === 'ncl') continue;
  const both = xs.filter((x) => ncl.has(x.seed));
  if (both.length === 0) continue;
  const d = (k) => both.filter((x) => x[k] !== null && ncl.get(x.seed)[k] !== null).map((x) => x[k] - ncl.get(x.seed)[k]);
  const cell = (k, lowerBetter, dec) => { const v = d(k); return v.length ? `${f(mean(v), dec)} ± ${f(sd(v), dec)} (${v.filter((x) => (lowerBetter ? x < 0 : x > 0)).length}/${v.length})` : '–'; };
  out.push(`| ${m} | ${both.map((x) => x.seed).join(', ')} | ${cell('mf1', false, 2)} | ${cell('acc', false, 2)} | ${cell('fr', true, 3)} | ${cell('general', true, 3)} |`);
}
process.stdout.write(`${out.join('\n')}\n`);
