// `das run` on a tiny two-domain sequence (CPU): DAS, NCL and ONE complete and write the progressive
// matrix, forgetting rate and transfer; a finished run is not redone; deleted partial outputs are
// recomputed and nothing else; a run interrupted mid-domain resumes from its checkpoint and ends with
// exactly the weights of an uninterrupted run; bad input fails before any training.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { forgettingRate } from '../../src/eval/metrics.js';
import { type RunOptions, type SeedState, runSequence } from '../../src/continual/run.js';
import type { RunResults } from '../../src/eval/report.js';
import { counters } from '../../src/tensor/tensor.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => { w = await makeTinyWorld(work, { trainExamples: 48, testExamples: 24 }); });

const opts = (out: string, extra: Partial<RunOptions> = {}): RunOptions => ({
  sequence: w.sequence, model: w.model, out: join(work, out), methods: ['das', 'ncl', 'one'], seeds: [2021],
  posttrain: { steps: 6, batchSize: 4, seqLen: 32, lr: 1e-3, saveEvery: 2, importanceSubset: 16, importanceBatchSize: 8 },
  finetune: { epochs: 12, lr: 3e-3, batchSize: 8, seqLen: 32 }, backend: cpuBackend, quiet: true, ...extra,
});
const state = (out: string, method: string): SeedState => JSON.parse(readFileSync(join(work, out, method, 'seed-2021/state.json'), 'utf8')) as SeedState;
const mtime = (p: string) => statSync(p).mtimeMs;
const dom = (out: string, method: string, t: number) => join(work, out, method, 'seed-2021', t === 0 ? '0-farm' : '1-sea');

describe('das run', () => {
  it('completes DAS, NCL and ONE and writes matrices, forgetting rate and transfer', async () => {
    const live = counters.liveTensors, t0 = Date.now();
    const s = await runSequence(opts('a', { heldOut: { maxChunks: 4 } }));
    const seconds = (Date.now() - t0) / 1000;
    expect(counters.liveTensors).toBe(live);
    const r = JSON.parse(readFileSync(join(work, 'a/results.json'), 'utf8')) as RunResults;
    expect(r.domains).toEqual(['farm', 'sea']);
    expect(r.methods.map((m) => m.method)).toEqual(['das', 'ncl', 'one']);
    for (const m of r.methods) {
      const seed = m.perSeed[0];
      if (m.method === 'one') {
        expect(seed.mf1[1][0]).toBeNull();                      // ONE: the diagonal only
        expect(m.forgetting).toEqual({ mf1: null, acc: null });
        expect(m.vsOne).toBeNull();
      } else {
        expect(seed.mf1[0][1]).toBeNull();                      // upper triangle unused
        for (const x of [seed.mf1[0][0], seed.mf1[1][0], seed.mf1[1][1], seed.acc[1][0]]) expect(x).toBeGreaterThanOrEqual(0);
        expect(m.forgetting.mf1).toBeCloseTo(forgettingRate(m.mf1)!, 12);
        expect(m.forgetting.acc).toBeCloseTo(seed.acc[0][0]! - seed.acc[1][0]!, 12);   // T = 2: A[0][0] − A[1][0]
        expect(m.vsOne!.mf1.average).toBeCloseTo((m.final.mf1[0] - r.methods[2].final.mf1[0] + m.final.mf1[1] - r.methods[2].final.mf1[1]) / 2, 12);
      }
      expect(m.vsBase!.acc.perTask[1]).toBeCloseTo(m.final.acc[1] - r.base!.acc[1], 12);
    }
    // held-out MLM losses: base on everything; DAS after each domain on the general text and the domains seen so far
    const held = (m: string, t: number) => (JSON.parse(readFileSync(join(dom('a', m, t), 'mlm-eval.json'), 'utf8')) as { losses: Record<string, number> }).losses;
    expect(Object.keys(JSON.parse(readFileSync(join(work, 'a/base/mlm-eval.json'), 'utf8')).losses).sort()).toEqual(['farm', 'general', 'sea']);
    expect(Object.keys(held('das', 0)).sort()).toEqual(['farm', 'general']);
    expect(Object.keys(held('one', 1)).sort()).toEqual(['general', 'sea']);
    const h = r.methods[0].heldOut!;
    expect(h.final).toEqual([held('das', 1).farm, held('das', 1).sea]);
    expect(h.forgetting).toBeCloseTo(held('das', 1).farm - held('das', 0).farm, 12);
    expect(r.methods[2].heldOut!.final).toEqual([held('one', 0).farm, held('one', 1).sea]);
    expect(r.methods[2].heldOut!.forgetting).toBeNull();
    expect(r.baseHeldOut!.general).toBeGreaterThan(0);
    const md = readFileSync(join(work, 'a/results.md'), 'utf8');
    expect(md).toContain('## Held-out MLM loss');
    expect(md).toMatch(/## End tasks: macro-F1 \(%\)\n\n\| Method +\| +farm \| +sea \| +Avg \|/);
    expect(md).toMatch(/\| Method +\| +FR MF1 \| +FR Acc \| +vs ONE MF1 \| +vs ONE Acc \| +vs base MF1 \| +vs base Acc \|/);
    expect(md).toMatch(/\| DAS +\| +[\d.]+ \|/);
    // results.json alone tells how the run was made: settings, backend, version, timings
    expect(r.settings).toMatchObject({ methods: ['das', 'ncl', 'one'], seeds: [2021], domains: ['farm', 'sea'], matrix: 'full', heldOut: { maxChunks: 4 }, baseFinetune: true, posttrain: { steps: 6 } });
    expect(r.backend).toEqual({ name: 'cpu', adapter: null });
    expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.timings!.invocations).toHaveLength(1);
    for (const p of ['setup', 'posttrain', 'heldOut', 'finetune', 'baseFinetune'] as const) expect(r.timings!.phases[p]).toBeGreaterThan(0);
    expect(r.timings!.seconds).toBeGreaterThanOrEqual(r.timings!.phases.posttrain! / 3);
    expect(r.timings!.seeds.map((x) => `${x.method} ${x.domains[1].finetune! > 0}`)).toEqual(['das true', 'ncl true', 'one true']);
    expect(md).toContain('progressive matrix');
    // persisted per domain: model, importance (DAS), logs, fine-tuning scores, state
    for (const f of ['loss.svg', 'importance.svg', 'matrix-das.svg', 'matrix-ncl.svg', 'matrix-one.svg']) expect(existsSync(join(work, 'a/plots', f))).toBe(true);
    for (const f of ['kl-importance/head_impt.npy', '0-farm/model/model.safetensors', '0-farm/importance/output_impt.npy', '1-sea/log.jsonl', '1-sea/finetune/0-farm.json']) {
      expect(existsSync(join(work, 'a/das/seed-2021', f))).toBe(true);
    }
    expect(existsSync(join(dom('a', 'das', 1), 'checkpoint'))).toBe(false);
    expect(existsSync(join(dom('a', 'ncl', 1), 'importance'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dom('a', 'das', 1), 'log.jsonl'), 'utf8').split('\n')[0])).toHaveProperty('contrast');
    expect(state('a', 'das')).toMatchObject({ done: true, counters: { posttrain: 2, importance: 3, finetune: 3 } });
    expect(state('a', 'ncl').counters).toEqual({ posttrain: 2, importance: 0, finetune: 3 });
    expect(state('a', 'one').counters).toEqual({ posttrain: 1, importance: 0, finetune: 1 });   // domain 0 is NCL's, copied
    expect(s.baseFinetunes).toBe(2);
    console.log(`tiny das run (das+ncl+one, 2 domains × 6 steps, 9 + 2 fine-tunes): ${seconds.toFixed(1)} s; s/step DAS ${JSON.stringify(s.states[0].domains.map((d) => d.secondsPerStep))}, NCL ${JSON.stringify(s.states[1].domains.map((d) => d.secondsPerStep))}`);
  });

  it("ONE's first domain, copied from NCL's, is bit-identical to ONE trained on its own", async () => {
    await runSequence(opts('one-alone', { methods: ['one'], baseFinetune: false, heldOut: { maxChunks: 2 } }));
    expect(readdirSync(join(work, 'one-alone/base'))).toEqual(['mlm-eval.json']);   // no base fine-tunes
    const model = (out: string, m: string) => readFileSync(join(dom(out, m, 0), 'model/model.safetensors'));
    expect(Buffer.compare(model('one-alone', 'one'), model('a', 'ncl'))).toBe(0);
    expect(Buffer.compare(model('a', 'one'), model('a', 'ncl'))).toBe(0);
    const score = (out: string, m: string) => { const { seconds: _s, model: _m, ...rest } = JSON.parse(readFileSync(join(dom(out, m, 0), 'finetune/0-farm.json'), 'utf8')) as Record<string, unknown>; return rest; };
    expect(score('one-alone', 'one')).toEqual(score('a', 'one'));
    expect(state('one-alone', 'one').counters).toEqual({ posttrain: 2, importance: 0, finetune: 2 });
    // continuing with another --held-out size recomputes the losses (and nothing else)
    const chunks = () => (JSON.parse(readFileSync(join(dom('one-alone', 'one', 0), 'mlm-eval.json'), 'utf8')) as { chunks: Record<string, number> }).chunks;
    expect(chunks()).toEqual({ general: 2, farm: 2 });
    const before = mtime(join(dom('one-alone', 'one', 0), 'model/model.safetensors'));
    await runSequence(opts('one-alone', { methods: ['one'], baseFinetune: false, heldOut: { maxChunks: 1 } }));
    expect(chunks()).toEqual({ general: 1, farm: 1 });
    expect(mtime(join(dom('one-alone', 'one', 0), 'model/model.safetensors'))).toBe(before);
    expect(existsSync(`${dom('a', 'one', 0)}.copy`)).toBe(false);
  });

  it('redoes nothing when run again, and only what was deleted', async () => {
    const files = [join(dom('a', 'das', 0), 'model/model.safetensors'), join(dom('a', 'das', 1), 'model/model.safetensors'), join(work, 'a/das/seed-2021/kl-importance/head_impt.npy'), join(work, 'a/base/seed-2021/0-farm.json')];
    const before = files.map(mtime);
    const again = await runSequence(opts('a'));
    expect(again.baseFinetunes).toBe(0);
    expect(files.map(mtime)).toEqual(before);
    expect(state('a', 'das').counters).toEqual({ posttrain: 2, importance: 3, finetune: 3 });
    // a crash after domain 1's model was written: its importance and scores are missing
    rmSync(join(dom('a', 'das', 1), 'importance'), { recursive: true });
    rmSync(join(dom('a', 'das', 1), 'finetune'), { recursive: true });
    await runSequence(opts('a', { methods: ['das'] }));
    expect(state('a', 'das').counters).toEqual({ posttrain: 2, importance: 4, finetune: 5 });
    expect(files.map(mtime)).toEqual(before);
    expect(existsSync(join(dom('a', 'das', 1), 'finetune/1-sea.json'))).toBe(true);
  });

  it('resumes a run interrupted mid-domain from its checkpoint, bit for bit', async () => {
    const ctl = new AbortController();
    const o = opts('b', { methods: ['das'], onStep: (e) => { if (e.domain === 1 && e.step === 5) ctl.abort(); } });
    await expect(runSequence({ ...o, signal: ctl.signal })).rejects.toThrow(/abort/i);
    const d0 = join(dom('b', 'das', 0), 'model/model.safetensors');
    const before = mtime(d0);
    expect(existsSync(join(dom('b', 'das', 1), 'checkpoint/trainer_state.json'))).toBe(true);
    expect(existsSync(join(dom('b', 'das', 1), 'model'))).toBe(false);
    expect(state('b', 'das').counters).toEqual({ posttrain: 1, importance: 2, finetune: 1 });
    await runSequence({ ...o, onStep: undefined });
    expect(mtime(d0)).toBe(before);
    expect(state('b', 'das')).toMatchObject({ done: true, counters: { posttrain: 2, importance: 3, finetune: 3 } });
    const res = JSON.parse(readFileSync(join(dom('b', 'das', 1), 'result.json'), 'utf8')) as { resumedAt: number };
    expect(res.resumedAt).toBe(4);
    const logged = readFileSync(join(dom('b', 'das', 1), 'log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    expect(logged).toEqual([1, 2, 3, 4, 5, 6]);   // step 5 was logged before the abort, dropped on resume, logged again once
    const a = readFileSync(join(dom('a', 'das', 1), 'model/model.safetensors'));
    const b = readFileSync(join(dom('b', 'das', 1), 'model/model.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
    // other settings in the same --out are refused
    await expect(runSequence(opts('b', { methods: ['das'], posttrain: { ...o.posttrain, steps: 7 } }))).rejects.toThrow(/other settings/);
  });

  it('das posttrain: one DAS domain from the CLI; DAS needs prior importance; NaN stops and keeps no model', async () => {
    const run = async (args: string[]) => {
      const out: string[] = [];
      const o = vi.spyOn(process.stdout, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
      try { return { code: await main(['posttrain', '--model', w.model, '--corpus', join(work, 'sea/train.txt'), '--steps', '3', '--batch-size', '4', '--seq-len', '32', '--backend', 'cpu', '--quiet', ...args]), text: out.join('') }; }
      finally { o.mockRestore(); e.mockRestore(); }
    };
    const kl = join(work, 'a/das/seed-2021/kl-importance'), mlm = join(dom('a', 'das', 0), 'importance');
    const ok = await run(['--out', join(work, 'pt'), '--method', 'das', '--importance', kl, mlm, '--reference-compat', '--soft-mask-target', 'update', '--importance-subset', '8']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.text.trim())).toMatchObject({ method: 'das', steps: 3, trained: true, importanceComputed: true, stoppedOnNaN: false });
    expect(JSON.parse(readFileSync(join(work, 'pt/importance/importance.json'), 'utf8'))).toMatchObject({ normalized: false, loss: 'mlm', mlmInput: 'original', aggregation: 'signed-batch-cumulative' });
    const none = await run(['--out', join(work, 'pt2'), '--method', 'das']);
    expect(none.code).toBe(1);
    expect(none.text).toMatch(/needs prior importance/);
    // a flag the method does not read is refused before any work (a usage error)
    const unread = await run(['--out', join(work, 'pt4'), '--method', 'ncl', '--importance-subset', '8']);
    expect(unread.code).toBe(2);
    expect(unread.text).toMatch(/--importance-subset is a setting of .*das.*; --method ncl does not run any of them/);
    expect(existsSync(join(work, 'pt4'))).toBe(false);
    const nan = await run(['--out', join(work, 'pt3'), '--method', 'ncl', '--lr', '1e25', '--save-every', '1']);
    expect(nan.code).toBe(1);
    expect(nan.text).toMatch(/loss became (NaN|Infinity|-Infinity) at step \d/);
    expect(existsSync(join(work, 'pt3/model'))).toBe(false);
  });

  it('--matrix diagonal-final fine-tunes only the diagonal and the final row, and still gives FR', async () => {
    // a third domain: a copy of 'farm' under another name
    const seq = JSON.parse(readFileSync(w.sequence, 'utf8')) as { domains: { name: string; train: string; taskTrain: string; taskTest: string; labels: string }[] };
    const farm = seq.domains[0];
    seq.domains.push({ ...farm, name: 'farm2' });
    const seq3 = join(work, 'sequence3.json');
    writeFileSync(seq3, JSON.stringify({ ...seq, domains: seq.domains.map((d) => ({ ...d, train: join(w.dir, d.train), taskTrain: join(w.dir, d.taskTrain), taskTest: join(w.dir, d.taskTest), labels: join(w.dir, d.labels) })) }));
    await runSequence(opts('diag', { sequence: seq3, methods: ['ncl'], matrix: 'diagonal-final', posttrain: { ...opts('x').posttrain, steps: 2 }, finetune: { ...opts('x').finetune, epochs: 2 } }));
    const st = state('diag', 'ncl');
    expect(st.domains.map((d) => [...d.evaluated].sort())).toEqual([[0], [1], [0, 1, 2]]);
    const r = JSON.parse(readFileSync(join(work, 'diag/results.json'), 'utf8')) as RunResults;
    const m = r.methods[0];
    expect(m.perSeed[0].mf1[1][0]).toBeNull();
    expect(m.forgetting?.mf1).not.toBeNull();
    const A = m.perSeed[0].acc as (number | null)[][];
    expect(m.forgetting?.acc).toBeCloseTo(((A[0][0]! - A[2][0]!) + (A[1][1]! - A[2][1]!)) / 2, 10);
  });

  it('rejects bad input before any training', async () => {
    const seq = JSON.parse(readFileSync(w.sequence, 'utf8')) as { domains: { name: string; train: string; labels: string }[] };
    const write = (name: string, v: unknown) => { const p = join(work, name); writeFileSync(p, JSON.stringify(v)); return p; };
    const missing = write('missing.json', { ...seq, domains: [seq.domains[0], { ...seq.domains[1], train: 'sea/nowhere.txt' }] });
    await expect(runSequence(opts('bad1', { sequence: missing }))).rejects.toThrow(/nowhere\.txt: cannot read/);
    const repeated = write('repeated.json', { ...seq, domains: [seq.domains[0], seq.domains[0]] });
    await expect(runSequence(opts('bad2', { sequence: repeated }))).rejects.toThrow(/duplicate domain "farm"/);
    writeFileSync(join(work, 'sea/other-labels.json'), JSON.stringify(['north', 'east']));
    const labels = write('labels.json', { ...seq, domains: [seq.domains[0], { ...seq.domains[1], labels: 'sea/other-labels.json' }] });
    await expect(runSequence(opts('bad3', { sequence: labels }))).rejects.toThrow(/task-(train|test)\.jsonl:\d+: unknown label "south"/);
    for (const d of ['bad1', 'bad2', 'bad3']) expect(existsSync(join(work, d))).toBe(false);
    // the CLI: exit code 1 and the message on stderr; an unknown method is a usage error (2)
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
    try {
      expect(await main(['run', '--sequence', missing, '--model', w.model, '--out', join(work, 'bad4'), '--method', 'das,ncl', '--backend', 'cpu', '--quick', '--quiet'])).toBe(1);
      expect(await main(['run', '--sequence', w.sequence, '--model', w.model, '--method', 'das,bogus', '--backend', 'cpu'])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(err.join('')).toMatch(/das run: .*nowhere\.txt: cannot read[\s\S]*unknown method 'bogus'/);
  });
});
