// `das run --shard K/N`: two shard processes run concurrently on one run directory, then the same
// command without --shard finds every part done (no work) and writes results.json, which equals a
// single-process run's byte for byte once the wall-clock records (`created`, `timings`) are set
// aside. Part locks: a stale lock of a dead local process is taken over; a live one is waited for and
// its holder named. Bad --shard values and shards with other settings are refused.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { type RunOptions, type SeedState, runSequence } from '../../src/continual/run.js';
import { lockFile, parseShard, runParts, shardOf } from '../../src/continual/shards.js';
import { buildDist, root } from '../package/build.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-shard-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => {
  w = await makeTinyWorld(work, { trainExamples: 24, testExamples: 12 });
  buildDist();
}, 300_000);

const args = (out: string, ...extra: string[]) => [
  join(root, 'bin/das.js'), 'run', '--sequence', w.sequence, '--model', w.model, '--out', out, '--method', 'das,ncl,one', '--seed-list', '2021',
  '--steps', '4', '--batch-size', '4', '--seq-len', '32', '--save-every', '2', '--importance-subset', '8', '--importance-batch-size', '4',
  '--ft-epochs', '2', '--ft-lr', '3e-3', '--ft-batch-size', '8', '--ft-seq-len', '32', '--held-out', '2', '--backend', 'cpu', '--quiet', ...extra,
];
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
function das(out: string, ...extra: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(out, ...extra), { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}
/** results.json without its wall-clock records (`created`, `timings`): the rest must be identical. */
const results = (out: string) => {
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<string, unknown>;
  delete r.created;
  delete r.timings;
  return JSON.stringify(r, null, 2);
};
const markdown = (out: string) => readFileSync(join(out, 'results.md'), 'utf8').replace(/; run directory created [^\n]*/, '').replace(/- wall time [^\n]*/, '');
const state = (out: string, m: string) => JSON.parse(readFileSync(join(out, m, 'seed-2021', 'state.json'), 'utf8')) as SeedState;

describe('das run --shard', () => {
  it('parts, shards and bad --shard values', async () => {
    const parts = runParts({ methods: ['das', 'ncl', 'one'], seeds: [1, 2], heldOut: { maxChunks: 2 } });
    expect(parts.map((p) => p.id)).toEqual(['base/seed-1', 'base/seed-2', 'base/held-out', 'das/seed-1', 'das/seed-2', 'ncl/seed-1', 'ncl/seed-2', 'one/seed-1', 'one/seed-2']);
    const shards = [1, 2, 3].map((index) => shardOf(parts, { index, count: 3 }).map((p) => p.id));
    expect(shards.flat().sort()).toEqual(parts.map((p) => p.id).sort());       // disjoint, and together everything
    expect(shards[1]).toEqual(['base/seed-2', 'das/seed-2', 'one/seed-1']);
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    const usage = async (v: string) => {
      const out: string[] = [];
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((x) => { out.push(String(x)); return true; });
      try { return { code: await main(['run', '--model', w.model, '--sequence', w.sequence, '--out', join(work, 'never'), '--shard', v]), text: out.join('') }; } finally { e.mockRestore(); }
    };
    for (const [v, msg] of [['3/2', /--shard 3\/2: K must be between 1 and N/], ['0/2', /--shard 0\/2: K must be between 1 and N/], ['1of2', /--shard must be K\/N/]] as const) {
      const r = await usage(v);
      expect(r.code).toBe(2);
      expect(r.text).toMatch(msg);
    }
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('two concurrent shards, then the assembling run: results.json equals a single-process run', async () => {
    const single = join(work, 'single', 'exp'), sharded = join(work, 'sharded', 'exp');
    const [one, s1, s2] = await Promise.all([das(single), das(sharded, '--shard', '1/2'), das(sharded, '--shard', '2/2')]);
    for (const r of [one, s1, s2]) expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(sharded, 'results.json'))).toBe(false);               // shards write no table
    expect(readdirSync(join(sharded, 'shards')).sort()).toEqual(['1-of-2.json', '2-of-2.json']);
    expect(readdirSync(join(sharded, 'locks'))).toEqual([]);                     // every lock released
    const log = readFileSync(join(sharded, 'log.txt'), 'utf8');
    expect(log).toMatch(/\[shard 1\/2\] das run.*: methods .*parts base\/seed-2021, one\/seed-2021, das\/seed-2021;/);
    expect(log).toMatch(/\[shard 2\/2\] das run.*: methods .*parts base\/held-out, ncl\/seed-2021;/);
    const counters = ['das', 'ncl', 'one'].map((m) => state(sharded, m).counters);
    const assemble = await das(sharded);
    expect(assemble.code, assemble.stderr).toBe(0);
    expect(['das', 'ncl', 'one'].map((m) => state(sharded, m).counters)).toEqual(counters);   // it found everything done
    expect(results(sharded)).toBe(results(single));
    expect(markdown(sharded)).toBe(markdown(single));
    const timings = JSON.parse(readFileSync(join(sharded, 'results.json'), 'utf8')).timings as { invocations: { shard?: string }[] };
    expect(timings.invocations.map((i) => i.shard ?? 'all').sort()).toEqual(['1/2', '2/2', 'all']);
    // a shard with other settings on the same directory is refused by run.json's fingerprint
    const other = await das(sharded, '--shard', '1/2', '--steps', '5');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/other settings:\n {2}posttrain\.steps: 4 in the directory, 5 now/);
  }, 600_000);

  it('takes over the lock of a dead process, and waits for a live one, naming it', async () => {
    const o: RunOptions = {
      sequence: w.sequence, model: w.model, out: join(work, 'sharded', 'exp'), methods: ['das', 'ncl', 'one'], seeds: [2021], heldOut: { maxChunks: 2 },
      // as the command line builds them (run.json's fingerprint compares them as JSON text)
      posttrain: { steps: 4, batchSize: 4, seqLen: 32, lr: 1e-4, referenceCompat: false, softMaskTarget: 'gradient', saveEvery: 2, importanceSubset: 8, importanceBatchSize: 4 },
      finetune: { epochs: 2, lr: 3e-3, batchSize: 8, seqLen: 32, weightDecay: 0.01, pool: 'cls' }, backend: cpuBackend, quiet: true,
    };
    const dead = spawnSync('true').pid!;
    const file = lockFile(o.out, 'das/seed-2021');
    writeFileSync(file, JSON.stringify({ pid: dead, host: hostname(), started: '2020-01-01T00:00:00.000Z' }));
    const r = await runSequence(o);                                                // finished parts: nothing to do, stale lock taken over
    expect(r.parts).toContain('das/seed-2021');
    expect(existsSync(file)).toBe(false);
    const sleeper = spawn('sleep', ['60']);
    writeFileSync(file, JSON.stringify({ pid: sleeper.pid, host: hostname(), started: '2020-01-01T00:00:00.000Z', what: 'das run --shard 1/2' }));
    let finished = false;
    const run = runSequence(o).then(() => { finished = true; });
    const log = join(o.out, 'log.txt');
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain(`das/seed-2021 is being run by pid ${sleeper.pid} on ${hostname()} (since 2020-01-01T00:00:00.000Z, das run --shard 1/2); waiting for it`), { timeout: 30_000, interval: 200 });
    expect(finished).toBe(false);
    sleeper.kill('SIGKILL');
    await run;                                                                     // its holder is dead: taken over, found done
    expect(existsSync(file)).toBe(false);
  });
});
