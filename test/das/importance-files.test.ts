// Importance sets on disk (.npy in ContinualLM's layout) and the `das importance` commands end to end
// on a tiny model: npy bytes as NumPy writes them, round trips, every error case, no silent overwrite.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E } from '../../src/fp.js';
import { cpu, key, read, release } from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { type HostImportance, IMPORTANCE_FILES, importanceFromHost, importanceToHost } from '../../src/das/importance-files.js';
import { readImportance, writeImportance } from '../../src/das-files/importance-dirs.js';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';
import { UNIT_KINDS, computeImportance, maxAccumulate, normalizeSet } from '../../src/das/importance.js';
import { batchesOf, readJsonlExamples } from '../../src/data/mlm-jsonl.js';
import { isAtomicLeftover } from '../../src/io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/hf-roberta.js';
import { trainBpe } from '../../src/io/tokenizer/index.js';
import { type RobertaConfig, tinyTestConfig } from '../../src/nn/config.js';
import { initParams } from '../../src/nn/params.js';
import { tokenizerFiles } from '../../src/train/checkpointing.js';
import { expectAllClose } from '../support/oracle.js';

const work = mkdtempSync(join(tmpdir(), 'das-importance-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bytes = (path: string) => new Uint8Array(readFileSync(path));

// np.save(np.array([[0.5, -1.25, 3], [0, 1e-3, 7]], dtype=np.float32)) with NumPy 1.24
const GOLDEN = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAA/AACgvwAAQEAAAAAAbxKDOgAA4EA=';
const golden = new Uint8Array(Buffer.from(GOLDEN, 'base64'));
const left = (r: E.Either<Error, unknown>): string => (E.isLeft(r) ? r.left.message : 'no error');

/** v1.0 bytes with a hand-written header (for malformed cases). */
function npyWith(header: string, data: Uint8Array, version = 1): Uint8Array {
  const h = header + ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true); else dv.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.set(data, pre + h.length);
  return out;
}

describe('.npy reader and writer', () => {
  it('writes exactly the bytes NumPy writes, and reads them back', () => {
    const a = { shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3, 0, 1e-3, 7]) };
    expect(Buffer.compare(Buffer.from(encodeNpy(a)), Buffer.from(golden))).toBe(0);
    const r = decodeNpy(golden);
    if (E.isLeft(r)) throw r.left;
    expect(r.right.shape).toEqual([2, 3]);
    expect(Array.from(r.right.data)).toEqual(Array.from(a.data));
  });

  it('round-trips any float32 array; the header is padded to a multiple of 64 bytes', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 3 }).chain((shape) =>
      fc.array(fc.float({ noNaN: true }), { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((v) => ({ shape, data: Float32Array.from(v) }))), (a) => {
      const b = encodeNpy(a);
      const hlen = b[8] + 256 * b[9];
      expect((10 + hlen) % 64).toBe(0);
      expect(b[10 + hlen - 1]).toBe(0x0a);
      const r = decodeNpy(b);
      if (E.isLeft(r)) throw r.left;
      expect(r.right.shape).toEqual(a.shape);
      expect(r.right.data.every((v, i) => Object.is(v, a.data[i]))).toBe(true);
    }));
  });

  it('reads format 2.0 and float64 (narrowed to float32)', () => {
    const d = new Uint8Array(16);
    new DataView(d.buffer).setFloat64(0, 0.1, true);
    new DataView(d.buffer).setFloat64(8, -2, true);
    const r = decodeNpy(npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", d, 2));
    if (E.isLeft(r)) throw r.left;
    expect(Array.from(r.right.data)).toEqual([Math.fround(0.1), -2]);
  });

  it('rejects bad magic, truncated or trailing data, big-endian or integer dtypes, Fortran order, malformed headers', () => {
    expect(left(decodeNpy(new Uint8Array([1, 2, 3])))).toMatch(/bad magic/);
    expect(left(decodeNpy(golden.subarray(0, golden.length - 4), 'x.npy'))).toMatch(/^x\.npy: truncated: shape \(2, 3\) of <f4 needs 24 data bytes, the file has 20/);
    expect(left(decodeNpy(golden.subarray(0, 60)))).toMatch(/truncated header/);
    expect(left(decodeNpy(new Uint8Array([...golden, 0, 0, 0, 0])))).toMatch(/trailing bytes/);
    expect(left(decodeNpy(npyWith("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4))))).toMatch(/'>f4' is not supported/);
    expect(left(decodeNpy(npyWith("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4))))).toMatch(/'<i4' is not supported/);
    expect(left(decodeNpy(npyWith("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", new Uint8Array(4))))).toMatch(/Fortran/);
    expect(left(decodeNpy(npyWith("{'descr': '<f4'}", new Uint8Array(0))))).toMatch(/malformed header/);
  });
});

// ---- importance directories -----------------------------------------------------------------------

const dims = { layers: 2, heads: 3, intermediate: 5, width: 4 };
const hostSet = (seed: number, d = dims): HostImportance => {
  const arr = (n: number, w: number) => ({ shape: [d.layers, w], data: Float32Array.from({ length: d.layers * w }, (_, i) => Math.sin(seed * 7 + i * (n + 1))) });
  return { head: arr(1, d.heads), intermediate: arr(2, d.intermediate), output: arr(3, d.width) };
};

describe('importance directories', () => {
  it('round-trips a set with its metadata; no temporary files are left behind', async () => {
    const dir = join(work, 'rt');
    const s = hostSet(1);
    await writeImportance(dir, s, { normalized: false, loss: 'mlm' });
    expect(readdirSync(dir).sort()).toEqual(['head_impt.npy', 'importance.json', 'intermediate_impt.npy', 'output_impt.npy']);
    expect(readdirSync(work).filter(isAtomicLeftover)).toEqual([]);
    const r = await readImportance(dir, dims);
    if (E.isLeft(r)) throw r.left;
    expect(r.right.meta).toEqual({ normalized: false, loss: 'mlm' });
    for (const k of UNIT_KINDS) expect(Array.from(r.right.set[k].data)).toEqual(Array.from(s[k].data));
  });

  it('never overwrites an existing directory unless forced', async () => {
    const dir = join(work, 'noclobber');
    await writeImportance(dir, hostSet(1), { normalized: false });
    await expect(writeImportance(dir, hostSet(2), { normalized: false })).rejects.toThrow(/already exists.*--force/);
    expect(bytes(join(dir, IMPORTANCE_FILES.head))).toEqual(encodeNpy(hostSet(1).head));
    await writeImportance(dir, hostSet(2), { normalized: true }, { force: true });
    expect(bytes(join(dir, IMPORTANCE_FILES.head))).toEqual(encodeNpy(hostSet(2).head));
  });

  it('reads a ContinualLM folder (npy files only) as a raw set', async () => {
    const dir = join(work, 'after_mlm0');
    mkdirSync(dir);
    for (const k of UNIT_KINDS) writeFileSync(join(dir, IMPORTANCE_FILES[k]), encodeNpy(hostSet(3)[k]));
    const r = await readImportance(dir);
    if (E.isLeft(r)) throw r.left;
    expect(r.right.meta.normalized).toBe(false);
  });

  it('names the file for a wrong shape, another model\'s sizes, mismatched layers, NaN, a missing file, bad metadata', async () => {
    const base = join(work, 'bad');
    const variant = async (name: string, edit: (d: string) => void) => { const d = join(base, name); mkdirSync(d, { recursive: true }); for (const k of UNIT_KINDS) writeFileSync(join(d, IMPORTANCE_FILES[k]), encodeNpy(hostSet(4)[k])); edit(d); return d; };
    const other = await variant('other', (d) => { for (const k of UNIT_KINDS) writeFileSync(join(d, IMPORTANCE_FILES[k]), encodeNpy(hostSet(4, { layers: 12, heads: 12, intermediate: 30, width: 7 })[k])); });
    expect(left(await readImportance(other, dims))).toMatch(/head_impt\.npy: shape \(12, 12\) does not fit: the model needs \(2, 3\) = \(layers, heads\); is this the importance of another model\?/);
    const rank = await variant('rank', (d) => writeFileSync(join(d, 'output_impt.npy'), encodeNpy({ shape: [8], data: new Float32Array(8) })));
    expect(left(await readImportance(rank))).toMatch(/output_impt\.npy: expected a 2-D array \(layers, hidden size\), got shape \(8\)/);
    const layers = await variant('layers', (d) => writeFileSync(join(d, 'intermediate_impt.npy'), encodeNpy({ shape: [3, 5], data: new Float32Array(15) })));
    expect(left(await readImportance(layers))).toMatch(/intermediate_impt\.npy: shape \(3, 5\) does not fit: the other files of this set imply \(2, 5\)/);
    const nan = await variant('nan', (d) => { const h = hostSet(4).output; h.data[5] = NaN; writeFileSync(join(d, 'output_impt.npy'), encodeNpy(h)); });
    expect(left(await readImportance(nan, dims))).toMatch(/output_impt\.npy: value NaN at layer 1, unit 1 is not finite/);
    const missing = await variant('missing', (d) => rmSync(join(d, 'head_impt.npy')));
    expect(left(await readImportance(missing))).toMatch(/head_impt\.npy: cannot read file \(ENOENT\)/);
    const trunc = await variant('trunc', (d) => writeFileSync(join(d, 'head_impt.npy'), encodeNpy(hostSet(4).head).subarray(0, 140)));
    expect(left(await readImportance(trunc))).toMatch(/head_impt\.npy: truncated/);
    const meta = await variant('meta', (d) => writeFileSync(join(d, 'importance.json'), '{"normalized": "yes"}'));
    expect(left(await readImportance(meta))).toMatch(/importance\.json: malformed/);
    const bad = hostSet(5); bad.head.data[0] = Infinity;
    await expect(writeImportance(join(work, 'never'), bad, { normalized: false })).rejects.toThrow(/not finite/);
  });

  it('device ↔ host conversion keeps shapes and values', async () => {
    const s = hostSet(6);
    const back = await importanceToHost(importanceFromHost(s, cpu()));
    for (const k of UNIT_KINDS) { expect(back[k].shape).toEqual(s[k].shape); expect(Array.from(back[k].data)).toEqual(Array.from(s[k].data)); }
  });
});

// ---- das importance, end to end on a tiny model ---------------------------------------------------

const root = fileURLToPath(new URL('../..', import.meta.url));
const model = join(work, 'model'), corpus = join(work, 'corpus.txt'), jsonl = join(work, 'examples.jsonl');
const cfg: RobertaConfig = { ...tinyTestConfig, vocabSize: 300, width: 16, heads: 2, headDim: 8, intermediate: 24, layers: 2, maxPositions: 40, initializerRange: 0.3 };

async function das(...args: string[]): Promise<{ rc: number; err: string }> {
  let err = '';
  const [o, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try { return { rc: await main(args), err }; } finally { process.stdout.write = o; process.stderr.write = e; }
}
const readSet = async (dir: string) => { const r = await readImportance(dir, cfg); if (E.isLeft(r)) throw r.left; return r.right; };
const common = ['--model', model, '--seq-len', '12', '--batch-size', '4', '--subset', '10', '--backend', 'cpu'];

describe('das importance (tiny model, cpu)', () => {
  beforeAll(async () => {
    const lines = readFileSync(join(root, 'data/general/train.txt'), 'utf8').split('\n').slice(0, 400);
    const tok = trainBpe(lines, { vocabSize: cfg.vocabSize });
    const params = initParams(cfg, key(3), cpu());
    await saveCheckpoint(model, cfg, params, tokenizerFiles(tok));
    release(params);
    writeFileSync(corpus, lines.slice(0, 60).join('\n'));
    const ex = (ids: number[], labels: number[]) => JSON.stringify({ input_ids: ids, attention_mask: ids.map(() => 1), labels });
    writeFileSync(jsonl, [ex([0, 50, 299, 70, 2], [-100, -100, 81, -100, -100]), ex([0, 299, 40, 2], [-100, 33, -100, -100]), ex([0, 60, 61, 299, 62, 2], [-100, 7, -100, 90, -100, -100])].join('\n'));
  });

  it('writes raw KL and MLM sets in ContinualLM layout; the same seed gives the same bytes', async () => {
    for (const loss of ['kl', 'mlm']) {
      expect((await das('importance', ...common, '--data', corpus, '--loss', loss, '--out', join(work, loss))).rc).toBe(0);
      const s = await readSet(join(work, loss));
      expect(s.meta).toMatchObject({ normalized: false, loss, aggregation: 'abs-per-example', examples: 10, tokens: 120 });
      expect(s.set.intermediate.shape).toEqual([cfg.layers, cfg.intermediate]);
      expect(s.set.head.data.some((v) => v > 0)).toBe(true);
    }
    expect((await das('importance', ...common, '--data', corpus, '--loss', 'kl', '--out', join(work, 'kl-again'))).rc).toBe(0);
    for (const k of UNIT_KINDS) expect(bytes(join(work, 'kl-again', IMPORTANCE_FILES[k]))).toEqual(bytes(join(work, 'kl', IMPORTANCE_FILES[k])));
  });

  it('refuses to overwrite --out without --force', async () => {
    const r = await das('importance', ...common, '--data', corpus, '--loss', 'kl', '--out', join(work, 'kl'), '--seed', '9');
    expect(r.rc).toBe(1);
    expect(r.err).toMatch(/already exists.*--force/);
    expect((await das('importance', ...common, '--data', corpus, '--loss', 'kl', '--out', join(work, 'kl'), '--seed', '9', '--force')).rc).toBe(0);
    expect((await readSet(join(work, 'kl'))).meta.seed).toBe(9);
  });

  it('--dropout 0 makes the KL proxy rounding noise (and says so)', async () => {
    const r = await das('importance', ...common, '--data', corpus, '--loss', 'kl', '--dropout', '0', '--out', join(work, 'kl0'));
    expect(r.rc).toBe(0);
    expect(r.err).toMatch(/rounding noise/);
    const [off, on] = [await readSet(join(work, 'kl0')), await readSet(join(work, 'kl'))];
    const top = (h: HostImportance) => Math.max(...UNIT_KINDS.flatMap((k) => Array.from(h[k].data)));
    expect(top(off.set)).toBeLessThan(1e-4 * top(on.set));
  });

  it('uses .jsonl examples exactly as given', async () => {
    expect((await das('importance', ...common, '--data', jsonl, '--loss', 'mlm', '--agg', 'signed-batch', '--dropout', '0', '--out', join(work, 'jsonl'))).rc).toBe(0);
    const ck = await loadCheckpoint(model, cpu());
    if (E.isLeft(ck)) throw ck.left;
    const want = computeImportance({ ...cfg, hiddenDropout: 0, attentionDropout: 0 }, ck.right.params, batchesOf(readJsonlExamples(jsonl), 4), { loss: 'mlm', aggregation: 'signed-batch' });
    expect(want.tokens).toBe(15);
    const got = await readSet(join(work, 'jsonl'));
    for (const k of UNIT_KINDS) expectAllClose(got.set[k].data, await read(want.raw[k]), { rtol: 1e-6, atol: 0 });
    release(want.raw, ck.right.params);
  });

  it('accumulate normalises raw sets, takes the max, and treats its own output as already normalised', async () => {
    const acc = join(work, 'acc'), acc2 = join(work, 'acc2');
    expect((await das('importance', 'accumulate', '--in', join(work, 'kl'), join(work, 'mlm'), '--out', acc, '--model', model)).rc).toBe(0);
    const be = cpu();
    const sets = await Promise.all(['kl', 'mlm'].map(async (n) => normalizeSet(importanceFromHost((await readSet(join(work, n))).set, be))));
    const want = await importanceToHost(maxAccumulate(sets));
    const got = await readSet(acc);
    expect(got.meta.normalized).toBe(true);
    for (const k of UNIT_KINDS) {
      expect(Array.from(got.set[k].data)).toEqual(Array.from(want[k].data));
      expect(got.set[k].data.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    expect((await das('importance', 'accumulate', '--in', acc, join(work, 'kl'), '--out', acc2)).rc).toBe(0);
    const again = await readSet(acc2);
    for (const k of UNIT_KINDS) expect(Array.from(again.set[k].data)).toEqual(Array.from(got.set[k].data));
  });

  it('accumulate rejects sets of different models and bad usage', async () => {
    const other = join(work, 'other-model');
    await writeImportance(other, hostSet(1), { normalized: false });
    const r = await das('importance', 'accumulate', '--in', join(work, 'kl'), other, '--out', join(work, 'never'));
    expect(r.rc).toBe(1);
    expect(r.err).toMatch(/other-model: sizes .* differ .*different models/);
    const m = await das('importance', 'accumulate', '--in', other, '--out', join(work, 'never'), '--model', model);
    expect(m.err).toMatch(/another model/);
    expect((await das('importance', ...common, '--data', corpus, '--loss', 'entropy', '--out', join(work, 'never'))).rc).toBe(2);
    expect((await das('importance', ...common, '--data', corpus, '--loss', 'kl', '--agg', 'mean', '--out', join(work, 'never'))).rc).toBe(2);
    expect((await das('importance', 'accumulate', '--out', join(work, 'never'))).rc).toBe(2);
    expect(readdirSync(work)).not.toContain('never');
  });
});
