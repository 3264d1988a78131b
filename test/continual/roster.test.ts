// The baseline roster's plumbing and the mechanisms of the records built on it (CPU, tiny world):
// `--method all` and its order, refusal of unknown names and of flags no chosen method reads, the
// frozen LM of adapter-one and prompt-one, DGA's heads-only soft mask, DEMIX's choice of a start,
// and MTL's single post-training on mixed text scored by its final row without forgetting.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/continual.js';
import { adapterOne, promptLength, promptOne, startDir } from '../../src/continual/baselines/adapters.js';
import { dga } from '../../src/continual/baselines/dga.js';
import type { SeedContext } from '../../src/continual/method.js';
import { ROSTER, expandMethods, methodByName } from '../../src/continual/methods.js';
import { posttrain } from '../../src/continual/posttrain.js';
import { type RunOptions, runSequence } from '../../src/continual/run.js';
import { dasTraining } from '../../src/continual/das-method.js';
import type { RunResults } from '../../src/eval/report.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { splitValid } from '../../src/data/mlm-data.js';
import { writeImportance } from '../../src/das-files/importance-dirs.js';
import type { Params } from '../../src/nn/params.js';
import { ones } from '../../src/ops/creation.js';
import { release } from '../../src/tensor/scope.js';
import { counters, toArray } from '../../src/tensor/tensor.js';
import { treeLeavesWithPaths, treeMap } from '../../src/tensor/tree.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-roster-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => { w = await makeTinyWorld(work, { trainExamples: 24, testExamples: 12 }); });

const tensors = async (file: string) => {
  const r = await readSafetensors(file);
  if (!('right' in r)) throw new Error(`unreadable ${file}`);
  return r.right.tensors;
};
const bytes = (t: { data: ArrayBufferView }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe('the roster', () => {
  it("'all' is the paper's twelve, non-continual first and DAS last; lists keep that order", () => {
    expect(ROSTER).toEqual(['mtl', 'one', 'adapter-one', 'prompt-one', 'dga', 'ncl', 'kd', 'ewc', 'derpp', 'hat', 'demix', 'das']);
    expect(expandMethods('all')).toEqual(ROSTER);
    expect(expandMethods('das,ncl,one')).toEqual(['one', 'ncl', 'das']);
    expect(expandMethods('all,das-update').at(-1)).toBe('das-update');
    expect(() => expandMethods('das,foo')).toThrow(/unknown method 'foo' \(choose from mtl, one, .*das-update, or all\)/);
    for (const m of ROSTER) expect(methodByName(m).summary, m).toMatch(/.{30}/);
  });

  it('a flag that no chosen method reads is refused, naming the methods that read it, before any work', async () => {
    const run = (...a: string[]) => runCommand(['--model', w.model, '--sequence', w.sequence, '--out', join(work, 'never'), ...a]);
    await expect(run('--method', 'ncl,one', '--ewc-lambda', '10')).rejects.toThrow(/--ewc-lambda is a setting of ewc; --method one,ncl does not run it/);
    await expect(run('--method', 'ncl', '--contrast-weight', '0.5')).rejects.toThrow(/--contrast-weight is a setting of dga, das, das-update; --method ncl does not run any of them/);
    await expect(run('--method', 'das', '--prompt-length=8')).rejects.toThrow(/--prompt-length is a setting of prompt-one/);
    await expect(run('--method', 'bogus')).rejects.toThrow(/unknown method 'bogus'/);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });
});

const pt = (out: string, method: Parameters<typeof posttrain>[0]['method'], model: string, extra: Partial<Parameters<typeof posttrain>[0]> = {}) => posttrain({
  model, corpus: join(w.dir, 'farm/train.txt'), out: join(work, out), method, steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 5, saveEvery: 2, backend: cpuBackend, quiet: true, ...extra,
});
const ctxFor = (dir: string): SeedContext => ({
  base: w.model, domains: [{ name: 'farm', train: join(w.dir, 'farm/train.txt') }, { name: 'sea', train: join(w.dir, 'sea/train.txt') }] as SeedContext['domains'],
  seed: 3, dir: join(work, dir), backend: cpuBackend, counters: { posttrain: 0, importance: 0, finetune: 0 }, quiet: true, log: () => {},
  hyper: { steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, importanceSubset: 8, importanceBatchSize: 4 },
});

describe('frozen-LM baselines', () => {
  it('adapter-one trains only its adapters: every LM weight is byte-identical to the base model', async () => {
    const ctx = ctxFor('aone');
    const live = counters.liveTensors;
    const start = await adapterOne.startsFrom(ctx, 0);
    expect(counters.liveTensors).toBe(live);                            // building the start leaks no tensor
    expect(start).toBe(startDir(ctx, 0));
    await pt('aone/out', adapterOne, start);
    const base = await tensors(join(w.model, 'model.safetensors')), s0 = await tensors(join(start, 'model.safetensors')), after = await tensors(join(work, 'aone/out/model/model.safetensors'));
    let lm = 0, moved = 0;
    for (const [k, t] of after) {
      if (k.includes('.adapter.')) { if (Buffer.compare(bytes(t), bytes(s0.get(k)!)) !== 0) moved++; continue; }
      expect(Buffer.compare(bytes(t), bytes(base.get(k)!)), k).toBe(0);
      lm++;
    }
    expect(lm).toBeGreaterThan(10);
    expect(moved).toBeGreaterThan(0);
    expect([...after.keys()].some((k) => k === 'roberta.encoder.layer.0.adapter.attention.down.weight')).toBe(true);
  });

  it('prompt-one trains only its prompt (length clamped to the positions left beside --seq-len)', async () => {
    expect(promptLength(100, 130, 1, 64)).toBe(64);
    expect(promptLength(10, 130, 1, 64)).toBe(10);
    const ctx = { ...ctxFor('pone'), hyper: { ...ctxFor('pone').hyper, options: { 'prompt-length': 5 } } };
    const start = await promptOne.startsFrom(ctx, 0);
    await pt('pone/out', promptOne, start, { options: { 'prompt-length': 5 } });
    const base = await tensors(join(w.model, 'model.safetensors')), s0 = await tensors(join(start, 'model.safetensors')), after = await tensors(join(work, 'pone/out/model/model.safetensors'));
    expect(after.get('roberta.prompt.embeddings')!.shape).toEqual([5, s0.get('roberta.embeddings.word_embeddings.weight')!.shape[1]]);
    expect(Buffer.compare(bytes(after.get('roberta.prompt.embeddings')!), bytes(s0.get('roberta.prompt.embeddings')!))).not.toBe(0);
    for (const [k, t] of after) if (k !== 'roberta.prompt.embeddings') expect(Buffer.compare(bytes(t), bytes(base.get(k)!)), k).toBe(0);
  });
});

describe('DGA', () => {
  it('heads only: the soft mask leaves FFN gradients alone and scales head rows by 1 − I', async () => {
    const { loadCheckpoint } = await import('../../src/io/hf-roberta.js');
    const ck = await loadCheckpoint(w.model, cpuBackend);
    if (!('right' in ck)) throw new Error('model');
    const { cfg, params } = ck.right;
    const H = cfg.heads, F = cfg.intermediate, D = cfg.width, L = cfg.layers;
    const dir = join(work, 'dga-impt');
    const head = Array.from({ length: L }, () => Float32Array.from({ length: H }, (_, h) => (h + 1) / (H + 1)));
    await writeImportance(dir, { head: { shape: [L, H], data: Float32Array.from(head.flatMap((x) => [...x])) }, intermediate: { shape: [L, F], data: new Float32Array(L * F).fill(0.9) }, output: { shape: [L, D], data: new Float32Array(L * D).fill(0.9) } }, { normalized: true });
    const env = { cfg, backend: cpuBackend, priors: [dir], hyper: { steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 1, dropout: false } };
    const d = await dasTraining(env, 'heads');
    const { lmHead: _h, classifier: _c, ...enc } = params;
    const g = treeMap(enc as Params, (t) => ones(t.shape, { backend: cpuBackend }));
    const [u] = d.before![0].update(g, {}, enc as Params);
    const byPath = new Map(treeLeavesWithPaths(u));
    for (const p of ['layers[0].ffnIn.weight', 'layers[0].ffnOut.weight', 'layers[0].ffnIn.bias', 'layers[0].ffnOut.bias']) expect((await toArray(byPath.get(p)!)).every((x) => x === 1), p).toBe(true);
    const q = await toArray(byPath.get('layers[0].query.weight')!), dh = D / H;
    for (let h = 0; h < H; h++) expect(q[h * dh * D]).toBeCloseTo(1 - (h + 1) / (H + 1), 6);
    d.release();
    release(u, g, params);
    expect(dga.options!['dga-units'].default).toBe('heads');
  });
});

describe('a whole roster run', () => {
  it('MTL trains once on mixed text for the whole budget and is scored by its final row without FR; DEMIX records its choice', async () => {
    const o: RunOptions = {
      sequence: w.sequence, model: w.model, out: join(work, 'run'), methods: ['mtl', 'demix'], seeds: [2021], matrix: 'full',
      posttrain: { steps: 3, batchSize: 4, seqLen: 32, lr: 1e-3, referenceCompat: false, softMaskTarget: 'gradient', saveEvery: 2, importanceSubset: 8, importanceBatchSize: 4 },
      finetune: { epochs: 2, lr: 3e-3, batchSize: 8, seqLen: 32, weightDecay: 0.01, pool: 'cls' }, backend: cpuBackend, quiet: true, baseFinetune: false,
    };
    const s = await runSequence(o);
    const seed = join(work, 'run/mtl/seed-2021');
    expect(existsSync(join(seed, '0-farm'))).toBe(false);
    const r1 = JSON.parse(readFileSync(join(seed, '1-sea/result.json'), 'utf8'));
    expect(r1.steps).toBe(6);                                            // 3 steps × 2 domains
    // every domain's training lines and none of the 5 % it holds out for the held-out evaluation, used whole (no second split)
    const train = (d: string) => splitValid(readFileSync(join(w.dir, d, 'train.txt'), 'utf8').split('\n').filter((l) => l.trim() !== ''), 5).train;
    expect(readFileSync(join(seed, 'mixed.txt'), 'utf8').trimEnd().split('\n')).toEqual([...train('farm'), ...train('sea')]);
    expect(JSON.parse(readFileSync(join(seed, '1-sea/settings.json'), 'utf8'))).toMatchObject({ wholeCorpus: true });
    const r = JSON.parse(readFileSync(join(work, 'run/results.json'), 'utf8')) as RunResults;
    const mtl = r.methods.find((m) => m.method === 'mtl')!;
    expect(mtl.forgetting).toEqual({ mf1: null, acc: null });
    expect(mtl.final.mf1).toHaveLength(2);
    const choice = JSON.parse(readFileSync(join(work, 'run/demix/seed-2021/starts/1-sea/choice.json'), 'utf8'));
    expect(choice).toMatchObject({ from: 0, domain: 'farm' });
    expect(choice.losses).toHaveLength(1);
    expect(s.results.methods.map((m) => m.method)).toEqual(['mtl', 'demix']);
    // continuing this run with one of its methods: its recorded --importance-subset is accepted although mtl does not read it
    const cli = ['--model', w.model, '--sequence', w.sequence, '--out', join(work, 'run'), '--steps', '3', '--batch-size', '4', '--seq-len', '32', '--lr', '1e-3', '--save-every', '2',
      '--importance-batch-size', '4', '--ft-epochs', '2', '--ft-lr', '3e-3', '--ft-batch-size', '8', '--ft-seq-len', '32', '--no-base', '--backend', 'cpu', '--quiet'];
    await expect(runCommand([...cli, '--method', 'mtl', '--importance-subset', '8'])).resolves.toBe(0);
    await expect(runCommand([...cli, '--method', 'mtl', '--importance-subset', '9'])).rejects.toThrow(/--importance-subset is a setting of/);
  }, 240_000);

  it("a method's own setting goes to that method only: das run --method ncl,kd --kd-weight 2", async () => {
    const o: RunOptions = {
      sequence: w.sequence, model: w.model, out: join(work, 'kdrun'), methods: ['ncl', 'kd'], seeds: [2021], matrix: 'diagonal-final', domains: 1,
      posttrain: { steps: 2, batchSize: 4, seqLen: 32, lr: 1e-3, saveEvery: 2, importanceSubset: 8, importanceBatchSize: 4, options: { 'kd-weight': 2 } },
      finetune: { epochs: 1, lr: 3e-3, batchSize: 8, seqLen: 32 }, backend: cpuBackend, quiet: true, baseFinetune: false,
    };
    await runSequence(o);
    const settings = (m: string) => JSON.parse(readFileSync(join(work, 'kdrun', m, 'seed-2021/0-farm/settings.json'), 'utf8'));
    expect(settings('kd').options).toEqual({ 'kd-weight': 2, 'kd-temperature': 1 });
    expect(settings('ncl').options).toBeUndefined();
    await expect(posttrain({ ...o.posttrain, model: w.model, corpus: join(w.dir, 'farm/train.txt'), out: join(work, 'bad-dga'), method: 'dga', importance: [join(work, 'dga-impt')], seed: 1, backend: cpuBackend, quiet: true, options: { 'dga-units': 'ffn' } }))
      .rejects.toThrow(/setting 'dga-units' must be one of heads, all, got "ffn"/);
    expect(existsSync(join(work, 'bad-dga'))).toBe(false);
  }, 120_000);
});
