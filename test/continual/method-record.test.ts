// Methods are data: a new method is a record passed to post-training, with no edit to the loop. A
// record's transformations act where the chain puts them, its loss parts are logged, its afterDomain
// runs once, and `das run` drives it like the built-in ones.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AfterDomainEnv, Method } from '../../src/continual/method.js';
import { ncl } from '../../src/continual/methods.js';
import { posttrain } from '../../src/continual/posttrain.js';
import { mlmLoss } from '../../src/nn/mlm.js';
import type { Params } from '../../src/nn/params.js';
import { mean } from '../../src/ops/reduce.js';
import { square } from '../../src/ops/unary.js';
import { scale } from '../../src/optim/transform.js';
import { cpuBackend } from '../support/devices.js';
import { type TinyWorld, makeTinyWorld } from '../support/tiny-continual.js';

const work = mkdtempSync(join(tmpdir(), 'das-method-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let w: TinyWorld;
beforeAll(async () => { w = await makeTinyWorld(work); });

const opts = (out: string, method: Method) => ({
  model: w.model, corpus: join(w.dir, 'farm/train.txt'), out, method, steps: 3, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 5, saveEvery: 2, backend: cpuBackend, quiet: true,
});
const weights = (dir: string) => readFileSync(join(dir, 'model.safetensors'));

describe('a method is a record', () => {
  it('a transformation before AdamW acts on the gradient: scale(0) leaves every weight as it was', async () => {
    const frozen: Method = { ...ncl, name: 'frozen', sameDomainAs: undefined, domain: async (env) => ({ ...(await ncl.domain(env)), before: [scale<Params>(0)] }) };
    const r = await posttrain(opts(join(work, 'frozen'), frozen));
    expect(r).toMatchObject({ method: 'frozen', trained: true, steps: 3 });
    // the start's weights, byte for byte (AdamW of a zero gradient is a zero update without weight decay)
    const start = (await import('../../src/io/safetensors.js')).readSafetensors;
    const a = await start(join(w.model, 'model.safetensors')), b = await start(join(work, 'frozen/model/model.safetensors'));
    if (!('right' in a) || !('right' in b)) throw new Error('unreadable');
    for (const [k, t] of a.right.tensors) if (!k.startsWith('classifier')) expect(Buffer.compare(Buffer.from(t.data.buffer), Buffer.from(b.right.tensors.get(k)!.data.buffer)), k).toBe(0);
    // the same record without the transformation trains
    const moving: Method = { ...frozen, name: 'moving', domain: ncl.domain };
    await posttrain(opts(join(work, 'moving'), moving));
    expect(Buffer.compare(weights(join(work, 'moving/model')), weights(join(work, 'frozen/model')))).not.toBe(0);
  });

  it("the record's loss parts are logged per step, and its afterDomain runs once", async () => {
    const calls: string[] = [];
    const l2: Method = {
      ...ncl, name: 'l2', sameDomainAs: undefined,
      domain: async (env) => ({
        loss: (params, b, dk) => {
          const mlm = mlmLoss(env.cfg, params, b.corrupted, b.targets, dk ? { dropout: { key: dk } } : {});
          const penalty = mean(square(params.embeddings.word));
          return [mlm, { penalty }];
        },
        release: () => {},
      }),
      afterDomain: async (env: AfterDomainEnv) => {
        const marker = join(env.out, 'after.txt');
        if (existsSync(marker)) return false;
        calls.push(env.model);
        writeFileSync(marker, 'done');
        return true;
      },
    };
    const out = join(work, 'l2');
    const r = await posttrain(opts(out, l2));
    expect(r.importanceComputed).toBe(true);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(log.map((x) => Object.keys(x))).toEqual(Array(3).fill(['step', 'loss', 'penalty', 'lr', 'seconds']));
    expect(log.every((x) => x.penalty > 0)).toBe(true);
    const again = await posttrain(opts(out, l2));
    expect(again).toMatchObject({ trained: false, importanceComputed: false });
    expect(calls).toEqual([join(out, 'model')]);
    expect(JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')).method).toBe('l2');
  });
});
