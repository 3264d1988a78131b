// das pretrain end to end: the loss falls on real text; kill -9 and resume gives the same model bit
// for bit as an uninterrupted run; NaN stops the run and keeps the last good checkpoint.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpu } from '../../src/index.js';
import { pretrain, type PretrainOptions } from '../../src/train/pretrain.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const corpus = join(root, 'data/general/train.txt');
const work = mkdtempSync(join(tmpdir(), 'das-pretrain-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tiny = (out: string, extra: Partial<PretrainOptions> = {}): PretrainOptions => ({
  corpus, out, scratch: { width: 32, heads: 2, layers: 1, intermediate: 64, vocabSize: 600 },
  steps: 150, batchSize: 8, seqLen: 32, lr: 2e-3, warmup: 0.05, weightDecay: 0.01, seed: 5, dropout: true,
  evalEvery: 25, saveEvery: 50, validBatches: 4, resume: true, backend: cpu(), quiet: true, ...extra,
});

describe('das pretrain', () => {
  beforeAll(() => { execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' }); }, 120_000);

  it('the held-out MLM loss of a tiny model falls on the Brown corpus within 200 steps (cpu)', async () => {
    const out = join(work, 'falls');
    const r = await pretrain(tiny(out, { steps: 200, evalEvery: 10 }));
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { validLoss?: number });
    const valid = log.filter((x) => x.validLoss !== undefined).map((x) => x.validLoss!);
    expect(valid.length).toBe(20);
    expect(valid[valid.length - 1]).toBeLessThan(valid[0] - 0.5);
    // ln(V) is the loss of a uniform guess
    expect(r.valid!.loss).toBeLessThan(Math.log(600) - 0.8);
    expect(existsSync(join(out, 'model/model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'model/tokenizer.json'))).toBe(true);
  });

  it('after kill -9, a resumed run ends with exactly the weights of an uninterrupted run', async () => {
    const args = (out: string) => ['bin/das.js', 'pretrain', '--corpus', corpus, '--out', out, '--steps', '120', '--batch-size', '4', '--seq-len', '16',
      '--width', '16', '--heads', '2', '--layers', '1', '--intermediate', '32', '--vocab-size', '400', '--save-every', '5', '--eval-every', '20', '--backend', 'cpu'];
    const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
    const straight = join(work, 'straight'), resumed = join(work, 'resumed');
    execFileSync('node', args(straight), { cwd: root, env, stdio: 'pipe' });
    const child = spawn('node', args(resumed), { cwd: root, env, stdio: 'ignore' });
    const state = join(resumed, 'checkpoint/trainer_state.json');
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(state) && (JSON.parse(readFileSync(state, 'utf8')) as { step: number }).step >= 10) { clearInterval(t); child.kill('SIGKILL'); resolve(); }
      }, 20);
      child.on('exit', () => { clearInterval(t); reject(new Error('the run finished before it could be killed')); });
    });
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(join(resumed, 'model'))).toBe(false);
    const out = execFileSync('node', args(resumed), { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(JSON.parse(out.trim()).steps).toBe(120);
    const a = readFileSync(join(straight, 'model/model.safetensors'));
    const b = readFileSync(join(resumed, 'model/model.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
    // (120 steps: long enough that a loaded machine still sees step 10 before the end) the resumed log holds each step once (records after the last checkpoint were dropped on resume)
    const logged = readFileSync(join(resumed, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    expect(logged).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
  });

  it('a non-finite loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    const out = join(work, 'nan');
    const r = await pretrain(tiny(out, { steps: 30, lr: 1e25, warmup: 0, saveEvery: 1, evalEvery: 100 }));
    expect(r.stoppedOnNaN).toBe(true);
    expect(existsSync(join(out, 'model'))).toBe(false);
    if (existsSync(join(out, 'checkpoint'))) {
      const st = JSON.parse(readFileSync(join(out, 'checkpoint/trainer_state.json'), 'utf8')) as { step: number };
      expect(st.step).toBeLessThan(30);
    }
  });

  it('refuses to resume a run with other settings, and bad input fails before training', async () => {
    const out = join(work, 'falls');
    await expect(pretrain(tiny(out, { seqLen: 16 }))).rejects.toThrow(/other settings/);
    const empty = join(work, 'empty.txt');
    writeFileSync(empty, '');
    await expect(pretrain(tiny(join(work, 'e'), { corpus: empty }))).rejects.toThrow(/empty/);
    const bad = join(work, 'bad.txt');
    writeFileSync(bad, Buffer.from([0x66, 0xff, 0xfe, 0x0a]));
    await expect(pretrain(tiny(join(work, 'b'), { corpus: bad }))).rejects.toThrow(/UTF-8/);
  });
});
