// Soft-masking (docs/method.md §6.5–6.7, §11.6, §12.8/9/15/16): parity with PyTorch (test/fixtures/gen_das.py,
// both axis modes, both backends, and through `das grads --importance`), and laws checked against a host
// model of the scales: importance 0 is the identity, importance 1 freezes exactly the unit's rows/columns.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { type Backend, type Tensor, ShapeError, fromArray, read, release, tidy, sub, mul } from '../../src/index.js';
import { E } from '../../src/fp.js';
import { type RobertaConfig, parseConfig, tinyTestConfig } from '../../src/nn/config.js';
import { hfNames, paramsFromHf, saveCheckpoint } from '../../src/io/hf-roberta.js';
import { type HostArray as StArray, readSafetensors } from '../../src/io/safetensors.js';
import type { Params } from '../../src/nn/params.js';
import { type AdamWState, adamw, adamwDefaults, adamwInit } from '../../src/optim/adamw.js';
import { applyGradients, applyUpdates, chain, emptyState } from '../../src/optim/transform.js';
import {
  type Importance, applySoftMask, checkImportance, resolveAxes, softMask, softMaskScales,
} from '../../src/das/soft-mask.js';
import { readImportanceDir } from '../../src/das-files/importance-dirs.js';
import { toLayerGates } from '../../src/das/importance.js';
import { decodeNpy } from '../../src/io/npy.js';
import { gradsCommand } from '../../src/cli/grads.js';
import { treeLeavesWithPaths, treeZip } from '../../src/tensor/tree.js';
import { backends, cpuBackend } from '../support/devices.js';
import { type Fixture, loadFixture } from '../support/fixtures.js';
import { expectAllClose, expectCloseToScale, seededValues } from '../support/oracle.js';

const KINDS = ['head', 'intermediate', 'output'] as const;
type Kind = (typeof KINDS)[number];
type HostImpt = Record<Kind, number[][]>;                                   // [L][X]
type Axes = ReturnType<typeof resolveAxes>;
const MODES: [string, Axes][] = [['paper', resolveAxes()], ['reference', resolveAxes({ referenceCompat: true })]];

const fx = await loadFixture('das.safetensors');
const fxCfg = (() => { const c = parseConfig(JSON.parse(fx.metadata.config)); if (E.isLeft(c)) throw c.left; return c.right; })();

/** A parameter-shaped tree from fixture tensors `<prefix><hf name>`. */
function treeFrom(f: Fixture, cfg: RobertaConfig, prefix: string, be: Backend): Params {
  const m = new Map<string, StArray>();
  for (const [, [hf]] of hfNames(cfg, { mlm: true })) m.set(hf, f.get(prefix + hf));
  const p = paramsFromHf(cfg, m, be);
  if (E.isLeft(p)) throw p.left;
  return p.right;
}

const widths = (cfg: RobertaConfig): Record<Kind, number> => ({ head: cfg.heads, intermediate: cfg.intermediate, output: cfg.width });
const imptOn = (h: HostImpt, be: Backend): Importance =>
  h.head.map((_, l) => ({ head: fromArray(h.head[l], undefined, { backend: be }), intermediate: fromArray(h.intermediate[l], undefined, { backend: be }), output: fromArray(h.output[l], undefined, { backend: be }) }));
const fixtureImpt = (cfg: RobertaConfig): HostImpt => {
  const rows = (k: Kind) => { const t = fx.get(`in.softmask.impt.${k}`); const n = t.shape[1]; return Array.from({ length: cfg.layers }, (_, l) => Array.from(t.data.slice(l * n, (l + 1) * n))); };
  return { head: rows('head'), intermediate: rows('intermediate'), output: rows('output') };
};

/** The host model of §6.6: the scale of element `i` of parameter `path` (shape [r, c] or [r]), or null when unmasked. */
function hostScale(cfg: RobertaConfig, h: HostImpt, axes: Axes, path: string, shape: readonly number[]): Float32Array | null {
  const m = /^layers\[(\d+)\]\.(query|key|value|attnOut|ffnIn|ffnOut)\.(weight|bias)$/.exec(path);
  if (m === null) return null;
  const l = Number(m[1]), unit = m[2], leaf = m[3];
  const eta = (f: number) => Math.fround(1 - h.head[l][Math.floor(f / cfg.headDim)]);
  const iota = (j: number) => Math.fround(1 - h.intermediate[l][j]);
  const omega = (k: number) => Math.fround(1 - h.output[l][k]);
  const cols = shape.length === 2 ? shape[1] : 1;
  let at: (r: number, c: number) => number;
  if (unit === 'ffnIn') at = (r) => iota(r);
  else if (unit === 'ffnOut') at = (r) => omega(r);
  else if (unit === 'attnOut') {
    if (leaf === 'bias' && !axes.maskAttnOutBias) return null;
    at = leaf === 'weight' ? (_r, c) => eta(c) : (r) => eta(r);
  } else at = leaf === 'weight' && axes.headMaskQKVAxis === 'in' ? (_r, c) => eta(c) : (r) => eta(r);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => at(Math.floor(i / cols), i % cols));
}

/** Random parameter-shaped host values, one seed per tree. */
function randomTree(cfg: RobertaConfig, seed: number, be: Backend, fill?: number): Params {
  const m = new Map<string, StArray>();
  let n = 0;
  for (const [, [hf, shape]] of hfNames(cfg, { mlm: true })) {
    const size = shape.reduce((a, b) => a * b, 1);
    m.set(hf, { dtype: 'f32', shape: [...shape], data: fill === undefined ? Float32Array.from(seededValues(size, seed * 997 + n++)) : new Float32Array(size).fill(fill) });
  }
  const p = paramsFromHf(cfg, m, be);
  if (E.isLeft(p)) throw p.left;
  return p.right;
}

const oneHead: RobertaConfig = { ...tinyTestConfig, width: 8, heads: 1, headDim: 8, intermediate: 12, vocabSize: 30 };
const arbCfg = fc.constantFrom(tinyTestConfig, oneHead);
/** Importance with exact 0s and 1s mixed into uniform values. */
const arbImpt = (cfg: RobertaConfig): fc.Arbitrary<HostImpt> => {
  const v = fc.oneof(fc.constant(0), fc.constant(1), fc.float({ min: 0, max: 1, noNaN: true }));
  const w = widths(cfg);
  const kind = (k: Kind) => fc.array(fc.array(v, { minLength: w[k], maxLength: w[k] }), { minLength: cfg.layers, maxLength: cfg.layers });
  return fc.record({ head: kind('head'), intermediate: kind('intermediate'), output: kind('output') });
};
const zeroImpt = (cfg: RobertaConfig): HostImpt => {
  const w = widths(cfg);
  const z = (k: Kind) => Array.from({ length: cfg.layers }, () => new Array<number>(w[k]).fill(0));
  return { head: z('head'), intermediate: z('intermediate'), output: z('output') };
};

/** DAS's optimizer step as posttrain composes it: the soft mask before AdamW (on the gradient) or after it (on the update). */
function maskedStep(params: Params, grads: Params, state: AdamWState<Params>, scales: Map<string, Tensor>, target: 'gradient' | 'update'): [Params, AdamWState<Params>] {
  const adam = adamw<Params>({ ...adamwDefaults, lr: 1e-2 }), mask = softMask<Params>(scales);
  if (target === 'update') { const [p, [s]] = applyGradients(chain(adam, mask), params, grads, [state, emptyState]); return [p, s]; }
  const [p, [, s]] = applyGradients(chain(mask, adam), params, grads, [emptyState, state]);
  return [p, s];
}

async function leaves(tree: unknown): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [path, t] of treeLeavesWithPaths(tree)) out.set(path, Float32Array.from(await read(t)));
  return out;
}

describe('soft-mask parity with PyTorch (das.safetensors)', () => {
  for (const be of backends) {
    for (const [mode, axes] of MODES) {
      it(`${be.name} ${mode} axes: every masked gradient`, async () => {
        const grads = treeFrom(fx, fxCfg, 'grad.mlm.', be);
        const impt = imptOn(fixtureImpt(fxCfg), be);
        const scales = softMaskScales(impt, fxCfg, axes);
        const masked = tidy(() => applySoftMask(grads, scales));
        const names = hfNames(fxCfg, { mlm: true });
        for (const [path, g] of await leaves(masked)) {
          const hf = names.get(path)![0];
          try { expectCloseToScale(g, fx.get(`grad.softmask.${mode}.${hf}`).data, 1e-6); } catch (e) { throw new Error(`${hf}: ${(e as Error).message}`); }
        }
        // head 0 of layer 0 has importance 1: its Q rows (paper) or Q columns (reference) are exactly zero
        const wq = (await leaves(masked)).get('layers[0].query.weight')!;
        const D = fxCfg.width, Dh = fxCfg.headDim;
        for (let i = 0; i < D * D; i++) if ((mode === 'paper' ? Math.floor(i / D) : i % D) < Dh) expect(wq[i] === 0, `Q weight element ${i}`).toBe(true);
        release(grads, impt, [...scales.values()], masked);
      });
    }
  }
});

describe('soft-mask laws (CPU, against a host model of docs/method.md §6.6)', () => {
  const be = cpuBackend;

  it('multiplies every element by exactly its host-model scale, in both axis modes', async () => {
    await fc.assert(fc.asyncProperty(arbCfg.chain((cfg) => fc.tuple(fc.constant(cfg), arbImpt(cfg), fc.nat(), fc.constantFrom(...MODES))), async ([cfg, h, seed, [, axes]]) => {
      const grads = randomTree(cfg, seed, be), impt = imptOn(h, be);
      const scales = softMaskScales(impt, cfg, axes);
      const masked = tidy(() => applySoftMask(grads, scales));
      const before = await leaves(grads), after = await leaves(masked);
      for (const [path, g] of before) {
        const s = hostScale(cfg, h, axes, path, treeLeavesWithPaths(grads).find(([p]) => p === path)![1].shape);
        const want = s === null ? g : g.map((x, i) => Math.fround(x * s[i]));
        expect(after.get(path), path).toEqual(want);
      }
      release(grads, impt, [...scales.values()], masked);
    }), { numRuns: 20 });
  });

  it('with importance 0 returns exactly the unmasked gradient', async () => {
    await fc.assert(fc.asyncProperty(arbCfg, fc.nat(), fc.constantFrom(...MODES), async (cfg, seed, [, axes]) => {
      const grads = randomTree(cfg, seed, be), impt = imptOn(zeroImpt(cfg), be);
      const scales = softMaskScales(impt, cfg, axes);
      const masked = tidy(() => applySoftMask(grads, scales));
      expect(await leaves(masked)).toEqual(await leaves(grads));
      release(grads, impt, [...scales.values()], masked);
    }), { numRuns: 10 });
  });

  it('touches exactly the rows/columns of the one important unit, in each axis mode', async () => {
    const arbUnit = arbCfg.chain((cfg) => fc.tuple(
      fc.constant(cfg), fc.nat({ max: cfg.layers - 1 }), fc.constantFrom(...KINDS), fc.nat(), fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }), fc.constantFrom(...MODES)));
    await fc.assert(fc.asyncProperty(arbUnit, async ([cfg, l, kind, idx, v, [mode, axes]]) => {
      const j = idx % widths(cfg)[kind];
      const h = zeroImpt(cfg);
      h[kind][l][j] = v;
      const ones = randomTree(cfg, 0, be, 1), impt = imptOn(h, be);
      const scales = softMaskScales(impt, cfg, axes);
      const masked = await leaves(tidy(() => applySoftMask(ones, scales)));
      const D = cfg.width, Dh = cfg.headDim, F = cfg.intermediate;
      const inHead = (f: number) => Math.floor(f / Dh) === j;
      // the expected touched set, written out per parameter (docs/method.md §6.6 table / fixture README (d))
      const touched = (path: string, r: number, c: number): boolean => {
        const pre = `layers[${l}].`;
        if (!path.startsWith(pre)) return false;
        const name = path.slice(pre.length);
        if (kind === 'head') {
          if (/^(query|key|value)\.weight$/.test(name)) return mode === 'paper' ? inHead(r) : inHead(c);
          if (/^(query|key|value)\.bias$/.test(name)) return inHead(r);
          if (name === 'attnOut.weight') return inHead(c);
          if (name === 'attnOut.bias') return mode === 'reference' && inHead(r);
          return false;
        }
        if (kind === 'intermediate') return (name === 'ffnIn.weight' || name === 'ffnIn.bias') && r === j;
        return (name === 'ffnOut.weight' || name === 'ffnOut.bias') && r === j;
      };
      for (const [path, g] of masked) {
        const cols = /weight$/.test(path) && path.startsWith('layers') ? (path.includes('ffnOut') ? F : D) : 1;
        g.forEach((x, i) => {
          const t = touched(path, Math.floor(i / cols), i % cols);
          if (t) expect(x, `${path}[${i}]`).toBe(Math.fround(1 - v));
          else expect(x, `${path}[${i}]`).toBe(1);
        });
      }
      release(ones, impt, [...scales.values()]);
    }), { numRuns: 30 });
  });

  /** Elements whose host-model scale is exactly 0 (importance 1). */
  const frozenElements = (cfg: RobertaConfig, h: HostImpt, axes: Axes, tree: Params) =>
    new Map(treeLeavesWithPaths(tree).map(([p, t]) => [p, hostScale(cfg, h, axes, p, t.shape)?.map((s) => (s === 0 ? 1 : 0)) ?? null]));

  async function expectFrozen(cfg: RobertaConfig, h: HostImpt, axes: Axes, before: Params, after: Params): Promise<number> {
    const frozen = frozenElements(cfg, h, axes, before);
    const a = await leaves(before), b = await leaves(after);
    let count = 0;
    for (const [path, f] of frozen) {
      if (f === null) continue;
      const x = a.get(path)!, y = b.get(path)!;
      f.forEach((isFrozen, i) => { if (isFrozen) { count++; expect(y[i], `${path}[${i}]`).toBe(x[i]); } });
    }
    return count;
  }

  it('with importance 1 freezes the masked rows/columns under SGD', async () => {
    await fc.assert(fc.asyncProperty(arbCfg.chain((cfg) => fc.tuple(fc.constant(cfg), arbImpt(cfg), fc.nat(), fc.constantFrom(...MODES))), async ([cfg, h, seed, [, axes]]) => {
      h.head[0][0] = 1;                                                     // at least one frozen unit
      const params = randomTree(cfg, seed, be), grads = randomTree(cfg, seed + 1, be), impt = imptOn(h, be);
      const scales = softMaskScales(impt, cfg, axes);
      const next = tidy(() => treeZip(params, applySoftMask(grads, scales), (p, g) => sub(p, mul(g, 0.5))));   // SGD, lr 0.5
      expect(await expectFrozen(cfg, h, axes, params, next)).toBeGreaterThan(0);
      release(params, grads, impt, [...scales.values()], next);
    }), { numRuns: 10 });
  });

  for (const target of ['update', 'gradient'] as const) {
    it(`with importance 1 freezes the masked rows/columns under AdamW (soft-mask target ${target})`, async () => {
      await fc.assert(fc.asyncProperty(arbCfg.chain((cfg) => fc.tuple(fc.constant(cfg), arbImpt(cfg), fc.nat(), fc.constantFrom(...MODES))), async ([cfg, h, seed, [, axes]]) => {
        h.intermediate[cfg.layers - 1][0] = 1;
        const params = randomTree(cfg, seed, be), grads = randomTree(cfg, seed + 1, be), impt = imptOn(h, be);
        const scales = softMaskScales(impt, cfg, axes);
        const state = adamwInit(params);
        const [p1, s1] = maskedStep(params, grads, state, scales, target);
        const [p2, s2] = maskedStep(p1, grads, s1, scales, target);
        expect(await expectFrozen(cfg, h, axes, params, p2)).toBeGreaterThan(0);
        release(params, grads, impt, [...scales.values()], state, p1, s1, p2, s2);
      }), { numRuns: 6 });
    });

    // 'gradient' against the fused AdamW step; 'update' against AdamW's explicit update + applyUpdates (the path
    // it takes: p + u rounds once more than the fused p − δ, transform.test.ts bounds that difference).
    it(`with importance 0 gives exactly the unmasked AdamW step (soft-mask target ${target})`, async () => {
      await fc.assert(fc.asyncProperty(arbCfg, fc.nat(), async (cfg, seed) => {
        const params = randomTree(cfg, seed, be), grads = randomTree(cfg, seed + 1, be), impt = imptOn(zeroImpt(cfg), be);
        const scales = softMaskScales(impt, cfg);
        const state = adamwInit(params);
        const [pm, sm] = maskedStep(params, grads, state, scales, target);
        const adam = adamw<Params>({ ...adamwDefaults, lr: 1e-2 });
        const [pp, sp] = target === 'gradient'
          ? applyGradients(adam, params, grads, state)
          : tidy(() => { const [u, s2] = adam.update(grads, state, params); return [applyUpdates(params, u), s2] as const; });
        expect(await leaves(pm)).toEqual(await leaves(pp));
        release(params, grads, impt, [...scales.values()], state, pm, sm, pp, sp);
      }), { numRuns: 5 });
    });
  }
});

describe('soft-mask shapes and options', () => {
  const be = cpuBackend;
  it('rejects a scale that would broadcast along the wrong axis, and scales for unknown parameters', () => {
    const grads = randomTree(tinyTestConfig, 1, be);
    const D = tinyTestConfig.width;
    const flat = fromArray(new Float32Array(D).fill(1), [D], { backend: be });
    expect(() => applySoftMask(grads, new Map([['layers[0].query.weight', flat]]))).toThrow(ShapeError);
    expect(() => applySoftMask(grads, new Map([['layers[9].query.weight', fromArray(new Float32Array(D).fill(1), [D, 1], { backend: be })]]))).toThrow(/does not have/);
    release(grads, flat);
  });

  it('rejects importance of the wrong layer count or width', () => {
    const h = zeroImpt(tinyTestConfig);
    const impt = imptOn(h, be);
    expect(() => checkImportance(impt.slice(1), tinyTestConfig)).toThrow(ShapeError);
    expect(() => softMaskScales(imptOn({ ...h, head: h.head.map((r) => [...r, 0]) }, be), tinyTestConfig)).toThrow(/layer 0 head/);
    release(impt);
  });

  it('resolves the axis presets: paper by default, reference with referenceCompat, explicit fields win', () => {
    expect(resolveAxes()).toEqual({ headMaskQKVAxis: 'out', maskAttnOutBias: false });
    expect(resolveAxes({ referenceCompat: true })).toEqual({ headMaskQKVAxis: 'in', maskAttnOutBias: true });
    expect(resolveAxes({ referenceCompat: true, maskAttnOutBias: false })).toEqual({ headMaskQKVAxis: 'in', maskAttnOutBias: false });
  });

  it('splits stacked [L, ·] importance sets into per-layer records', async () => {
    const h = fixtureImpt(fxCfg);
    const stacked = { head: fromArray(h.head.flat(), [fxCfg.layers, fxCfg.heads], { backend: be }), intermediate: fromArray(h.intermediate.flat(), [fxCfg.layers, fxCfg.intermediate], { backend: be }), output: fromArray(h.output.flat(), [fxCfg.layers, fxCfg.width], { backend: be }) };
    const layers = toLayerGates(stacked);
    for (const k of KINDS) for (let l = 0; l < fxCfg.layers; l++) expect(Array.from(await read(layers[l][k]))).toEqual(h[k][l].map(Math.fround));
    release(stacked, layers);
  });
});

/** A version-1.0 .npy file of float32 (or float64) values. */
function npy(values: ArrayLike<number>, shape: number[], descr: '<f4' | '<f8' = '<f4'): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const body = descr === '<f4' ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(Float64Array.from(values).buffer);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

describe('importance directory (.npy) and `das grads --importance`', () => {
  const dirs: string[] = [];
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

  it('parses .npy float32 and float64 and rejects what it cannot read', () => {
    for (const d of ['<f4', '<f8'] as const) {
      const r = decodeNpy(npy([0.5, 0.25, 1, 0, 0.125, 0.75], [2, 3], d));
      expect(E.isRight(r) && r.right.shape).toEqual([2, 3]);
      expect(E.isRight(r) && Array.from(r.right.data)).toEqual([0.5, 0.25, 1, 0, 0.125, 0.75]);
    }
    expect(E.isLeft(decodeNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])))).toBe(true);
    expect(E.isLeft(decodeNpy(npy([1, 2, 3], [4])))).toBe(true);
  });

  async function setup(): Promise<{ dir: string; imptDir: string; examples: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'das-softmask-'));
    dirs.push(dir);
    const params = treeFrom(fx, fxCfg, '', cpuBackend);
    await saveCheckpoint(join(dir, 'model'), fxCfg, params);
    release(params);
    const ids = fx.get('in.input_ids'), lab = fx.get('in.labels');
    const [B, T] = ids.shape;
    const lines = Array.from({ length: B }, (_, b) => JSON.stringify({ input_ids: Array.from(ids.data.slice(b * T, (b + 1) * T)), labels: Array.from(lab.data.slice(b * T, (b + 1) * T)) }));
    await writeFile(join(dir, 'examples.jsonl'), `${lines.join('\n')}\n`);
    const imptDir = join(dir, 'impt');
    await mkdir(imptDir);
    for (const k of KINDS) { const t = fx.get(`in.softmask.impt.${k}`); await writeFile(join(imptDir, `${k}_impt.npy`), npy(t.data, t.shape)); }
    return { dir, imptDir, examples: join(dir, 'examples.jsonl') };
  }

  it('rejects importance outside [0, 1] or of the wrong shape, naming the file', async () => {
    const { imptDir } = await setup();
    await writeFile(join(imptDir, 'output_impt.npy'), npy(new Float32Array(fxCfg.layers * fxCfg.width).fill(1.5), [fxCfg.layers, fxCfg.width]));
    const r = await readImportanceDir(imptDir, fxCfg, cpuBackend);
    expect(E.isLeft(r) && r.left.message).toMatch(/output_impt\.npy.*outside \[0, 1\]/);
    await writeFile(join(imptDir, 'head_impt.npy'), npy([0, 0], [1, 2]));
    const r2 = await readImportanceDir(imptDir, fxCfg, cpuBackend);
    expect(E.isLeft(r2) && r2.left.message).toMatch(/head_impt\.npy.*shape/);
  });

  for (const [mode] of MODES) {
    it(`writes PyTorch's soft-masked gradients (${mode} axes)`, async () => {
      const { dir, imptDir, examples } = await setup();
      const out = join(dir, `${mode}.safetensors`);
      const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(await gradsCommand(['--model', join(dir, 'model'), '--examples', examples, '--out', out, '--importance', imptDir, '--backend', 'cpu', ...(mode === 'reference' ? ['--reference-compat'] : [])])).toBe(0);
      } finally { quiet.mockRestore(); }
      const st = await readSafetensors(out);
      if (E.isLeft(st)) throw st.left;
      expect(st.right.metadata.headMaskQKVAxis).toBe(mode === 'paper' ? 'out' : 'in');
      for (const [, [hf]] of hfNames(fxCfg, { mlm: true })) {
        const want = fx.get(`grad.softmask.${mode}.${hf}`).data;
        if (hf.endsWith('attention.self.key.bias')) { expectAllClose(st.right.tensors.get(hf)!.data, want, { rtol: 0, atol: 1e-6 }); continue; }
        try { expectCloseToScale(st.right.tensors.get(hf)!.data, want, 2e-4); } catch (e) { throw new Error(`${hf}: ${(e as Error).message}`); }
      }
    });
  }

  it('with --soft-mask-target update writes the plain gradients and the update scales', async () => {
    const { dir, imptDir, examples } = await setup();
    const out = join(dir, 'update.safetensors');
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await gradsCommand(['--model', join(dir, 'model'), '--examples', examples, '--out', out, '--importance', imptDir, '--backend', 'cpu', '--soft-mask-target', 'update'])).toBe(0);
      await expect(gradsCommand(['--model', join(dir, 'model'), '--examples', examples, '--out', out, '--backend', 'cpu', '--soft-mask-target', 'weights'])).rejects.toThrow(/gradient(,| or) update/);
      await expect(gradsCommand(['--model', join(dir, 'model'), '--examples', examples, '--out', out, '--backend', 'cpu', '--reference-compat'])).rejects.toThrow(/needs --importance/);
    } finally { quiet.mockRestore(); }
    const st = await readSafetensors(out);
    if (E.isLeft(st)) throw st.left;
    const qw = 'roberta.encoder.layer.0.attention.self.query.weight';
    expectCloseToScale(st.right.tensors.get(qw)!.data, fx.get(`grad.mlm.${qw}`).data, 2e-4);
    const s = st.right.tensors.get(`softmask.update_scale.${qw}`)!;
    expect(s.shape).toEqual([fxCfg.width, 1]);
    const head = fx.get('in.softmask.impt.head').data;
    expect(Array.from(s.data)).toEqual(Array.from({ length: fxCfg.width }, (_, f) => Math.fround(1 - head[Math.floor(f / fxCfg.headDim)])));
  });
});
