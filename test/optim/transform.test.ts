// Gradient transformations (src/optim/transform.ts, src/optim/adamw.ts, softMask in src/continual/soft-mask.ts):
// chain order is semantics (soft mask before vs after AdamW, hand-computed), clipping and schedules as
// transformations, the fused path against the explicit chain, and the default steps bit for bit against
// the single-function optimizer they replaced (frozen hashes from commit 242fd8a: adamwStep / softMaskedAdamwStep).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Backend, type Tensor, HF_ADAMW, adamwUpdate, clipByGlobalNorm as clipTensors, counters, fromArray, mul, read, release, tidy,
} from '../../src/index.js';
import { type AdamWConfig, type AdamWState, adamw, adamwDefaults, adamwFromConfig, adamwInit } from '../../src/optim/adamw.js';
import { linearSchedule } from '../../src/optim/schedule.js';
import {
  type GradientTransformation, applyGradients, applyUpdates, chain, clipByGlobalNorm, emptyState, identity, scale, scaleBySchedule,
} from '../../src/optim/transform.js';
import { softMask } from '../../src/das/soft-mask.js';
import { treeLeaves, treeLeavesWithPaths, treeMap } from '../../src/tensor/tree.js';
import { backends, cpuBackend } from '../support/devices.js';
import { expectAllClose, seededValues } from '../support/oracle.js';

type T = Record<string, Tensor>;
const host = async (tree: unknown): Promise<number[][]> => Promise.all(treeLeaves(tree).map(async (t) => Array.from(await read(t))));
const bits = async (tree: unknown): Promise<string[]> => (await host(tree)).map((x) => Buffer.from(Float32Array.from(x).buffer).toString('hex'));

/** A small tree {w [6, 5], b [6], e [4, 5]} of seeded values, and soft-mask scales for w (rows) and b; e is unmasked. */
const shapes: Record<string, number[]> = { w: [6, 5], b: [6], e: [4, 5] };
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
const seededTree = (be: Backend, seed: number, lo = -1, hi = 1): T =>
  Object.fromEntries(Object.entries(shapes).map(([name, sh], k) => [name, fromArray(seededValues(sizeOf(sh), seed + k, lo, hi), sh, { backend: be })]));
const seededScales = (be: Backend) => new Map([
  ['w', fromArray(seededValues(6, 50, 0, 1), [6, 1], { backend: be })], ['b', fromArray(seededValues(6, 51, 0, 1), [6], { backend: be })],
]);

describe('chain: the soft mask before or after AdamW (hand-computed, one step)', () => {
  // p = [[1, −2], [0.5, 3]], g = [[0.5, −1], [2, −0.25]], row scales s = [0, 0.5]; torch AdamW, lr 0.01, wd 0.1,
  // eps 1e-12. Step 1: m̂ = g, v̂ = g², so a = lr·g/(|g| + ε) = ±0.01 for any nonzero g, and lr·wd = 0.001.
  //   no mask:      p' = p − 0.001·p − 0.01·sign(g)
  //   on gradient:  g' = s·g. Row 0 (s = 0): a = 0, only the decay: p' = 0.999·p. Row 1: AdamW cancels s: as unmasked.
  //   on update:    p' = p − s·(0.001·p + 0.01·sign(g)). Row 0: exactly p. Row 1: half the unmasked change.
  const cfg = { ...adamwDefaults, eps: 1e-12, weightDecay: 0.1, lr: 0.01 };
  const want = {
    none: [1 - 0.001 - 0.01, -2 + 0.002 + 0.01, 0.5 - 0.0005 - 0.01, 3 - 0.003 + 0.01],
    gradient: [0.999, -1.998, 0.5 - 0.0005 - 0.01, 3 - 0.003 + 0.01],
    update: [1, -2, 0.5 - 0.5 * (0.0005 + 0.01), 3 - 0.5 * (0.003 - 0.01)],
  };
  for (const be of backends) {
    it(`${be.name}: chain(softMask, adamw) masks the gradient, chain(adamw, softMask) the whole update`, async () => {
      const p: T = { w: fromArray([1, -2, 0.5, 3], [2, 2], { backend: be }) };
      const g: T = { w: fromArray([0.5, -1, 2, -0.25], [2, 2], { backend: be }) };
      const scales = new Map([['w', fromArray([0, 0.5], [2, 1], { backend: be })]]);
      const adam = adamw<T>(cfg), mask = softMask<T>(scales);
      const onGrad = chain(mask, adam), onUpdate = chain(adam, mask);
      expect(onGrad.fusedApply).toBeDefined();                 // adamw last: one fused kernel per tensor
      expect(onUpdate.fusedApply).toBeUndefined();             // softMask last: updates, then p + s·u
      const s0 = adamwInit(p);
      const [pn, sn] = applyGradients(adam, p, g, s0);
      const [pg, [, sg]] = applyGradients(onGrad, p, g, [emptyState, s0]);
      const [pu, [su]] = applyGradients(onUpdate, p, g, [s0, emptyState]);
      expectAllClose((await host(pn))[0], want.none, { rtol: 1e-6 });
      expectAllClose((await host(pg))[0], want.gradient, { rtol: 1e-6 });
      expectAllClose((await host(pu))[0], want.update, { rtol: 1e-6 });
      expect((await host(pu))[0].slice(0, 2)).toEqual([1, -2]);   // scale 0 on the update freezes exactly, decay included
      // the moments see the masked gradient only when the mask comes first
      expectAllClose((await host(sg.m))[0], [0, 0, 0.1, -0.0125], { rtol: 1e-6 });
      expectAllClose((await host(su.m))[0], [0.05, -0.1, 0.2, -0.025], { rtol: 1e-6 });
      expect(await bits(su.m)).toEqual(await bits(sn.m));
      expect([sn.step, sg.step, su.step]).toEqual([1, 1, 1]);
      release(p, g, [...scales.values()], s0, pn, sn, pg, sg, pu, su);
    });
  }

  it('init gives the tuple of the members\' states; a state of the wrong arity is refused', () => {
    const p: T = { w: fromArray([1, 2], [2], { backend: cpuBackend }) };
    const tx = chain(softMask<T>(new Map()), adamw<T>(cfg));
    const s = tx.init(p);
    expect(s.length).toBe(2);
    expect(s[0]).toBe(emptyState);
    expect(s[1].step).toBe(0);
    expect(() => tx.update(p, [s[1]] as never, p)).toThrow(/tuple of 2/);
    expect(() => softMask<T>(new Map([['x', p.w]])).init(p)).toThrow(/does not have/);
    release(p, s);
  });
});

describe('on-update soft mask: s multiplies the whole parameter change, weight decay included (CPU f64 reference)', () => {
  type Mode = { decay?: 'before' | 'after'; epsOn?: 'vhat' | 'v' };
  const modes: Mode[] = [{}, { decay: 'after' }, { epsOn: 'v' }, HF_ADAMW];
  const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.05 };
  /** PyTorch / transformers AdamW, one element at a time in f64, each step's change scaled by `s`. */
  function reference(p: number[], g: number[][], lr: number, o: Mode, s: number[]): number[] {
    const q = [...p], m = p.map(() => 0), v = p.map(() => 0);
    g.forEach((gt, k) => {
      const t = k + 1, bc1 = 1 - hyper.beta1 ** t, bc2 = 1 - hyper.beta2 ** t;
      for (let i = 0; i < q.length; i++) {
        const old = q[i];
        let x = q[i];
        if (o.decay !== 'after') x *= 1 - lr * hyper.weightDecay;
        m[i] = hyper.beta1 * m[i] + (1 - hyper.beta1) * gt[i];
        v[i] = hyper.beta2 * v[i] + (1 - hyper.beta2) * gt[i] * gt[i];
        if (o.epsOn === 'v') x -= (lr * Math.sqrt(bc2) / bc1) * m[i] / (Math.sqrt(v[i]) + hyper.eps);
        else x -= (lr / bc1) * m[i] / (Math.sqrt(v[i] / bc2) + hyper.eps);
        if (o.decay === 'after') x -= lr * hyper.weightDecay * x;
        q[i] = old + s[i] * (x - old);
      }
    });
    return q;
  }
  const shape = [4, 6], n = 24, p0 = seededValues(n, 2), gs = Array.from({ length: 3 }, (_, k) => seededValues(n, 20 + k, -2, 2));
  const cases = [
    { values: seededValues(24, 3, 0, 1), shape: [4, 6], expand: (i: number, s: number[]) => s[i] },
    { values: seededValues(6, 4, 0, 1), shape: [1, 6], expand: (i: number, s: number[]) => s[i % 6] },            // input axis
    { values: seededValues(4, 5, 0, 1), shape: [4, 1], expand: (i: number, s: number[]) => s[Math.floor(i / 6)] }, // output axis
    { values: [0.25], shape: [1, 1], expand: (_i: number, s: number[]) => s[0] },
  ];
  async function run(be: Backend, dtype: 'f32' | 'f64', mode: Mode, c: (typeof cases)[number]): Promise<number[]> {
    let p: T = { x: fromArray(p0, shape, { backend: be, dtype }) };
    const scales = new Map([['x', fromArray(c.values, c.shape, { backend: be, dtype })]]);
    const tx = chain(adamw<T>({ ...adamwDefaults, ...hyper, ...mode, lr: 1e-2 }), softMask<T>(scales));
    let s = tx.init(p);
    for (const gv of gs) {
      const g: T = { x: fromArray(gv, shape, { backend: be, dtype }) };
      const [p2, s2] = applyGradients(tx, p, g, s);
      release(p, s, g);
      [p, s] = [p2, s2];
    }
    const out = (await host(p))[0];
    release(p, s, [...scales.values()]);
    return out;
  }

  it('f64 on the CPU matches the reference for every broadcast of the scale; f32 agrees across backends', async () => {
    for (const mode of modes) {
      for (const c of cases) {
        const want = reference(p0, gs, 1e-2, mode, p0.map((_, i) => c.expand(i, c.values)));
        expectAllClose(await run(cpuBackend, 'f64', mode, c), want, { rtol: 1e-13, atol: 1e-15 });
        const c32 = await run(cpuBackend, 'f32', mode, c);
        expectAllClose(c32, want, { rtol: 0, atol: 4e-7 });
        for (const be of backends.slice(1)) expectAllClose(await run(be, 'f32', mode, c), c32, { rtol: 0, atol: 4e-7 });
      }
    }
  });
});

describe('the fused path equals the explicit chain (update, then applyUpdates) to f32 rounding', () => {
  for (const be of backends) {
    it(`${be.name}: adamw.fusedApply vs adamw.update + applyUpdates, both AdamW variants, 3 steps`, async () => {
      for (const mode of [{ decay: 'before', epsOn: 'vhat' }, HF_ADAMW] as const) {
        const tx = adamw<T>({ ...adamwDefaults, ...mode, weightDecay: 0.05, noDecay: (p) => p === 'b', lr: 0.02 });
        let p = seededTree(be, 1), s = adamwInit(p);
        for (let k = 0; k < 3; k++) {
          const g = seededTree(be, 100 * k + 7);
          const [pf, sf] = applyGradients(tx, p, g, s);
          const [pe, se] = tidy(() => { const [u, s2] = tx.update(g, s, p); return [applyUpdates(p, u), s2] as const; });
          expect(await bits(sf.m)).toEqual(await bits(se.m));
          expect(await bits(sf.v)).toEqual(await bits(se.v));
          const [hp, hf, he] = [await host(p), await host(pf), await host(pe)];
          // p + u rounds once more than p − δ: |difference| ≤ 2^-22 · max(|p|, |p'|)
          hf.forEach((leaf, j) => leaf.forEach((x, i) => {
            expect(Math.abs(x - he[j][i]), `leaf ${j} element ${i}`).toBeLessThanOrEqual(2 ** -22 * Math.max(Math.abs(x), Math.abs(hp[j][i])));
          }));
          release(p, s, g, pe, se);
          [p, s] = [pf, sf];
        }
        release(p, s);
      }
    });
  }
});

describe('clipByGlobalNorm as a transformation', () => {
  for (const be of backends) {
    it(`${be.name}: scales the whole tree by maxNorm / (norm + 1e-6) above maxNorm; chained before adamw it is the old clipNorm`, async () => {
      const g: T = { a: fromArray([3, 4], [2], { backend: be }), b: fromArray([12], [1, 1], { backend: be }) };
      const c = 6.5 / (13 + 1e-6);
      const [clipped, s] = clipByGlobalNorm<T>(6.5).update(g, emptyState, g);
      expect(s).toBe(emptyState);
      expect(Object.keys(clipped)).toEqual(['a', 'b']);
      const got = await host(clipped);
      expectAllClose(got[0], [3 * c, 4 * c], { rtol: 1e-6 });
      expectAllClose(got[1], [12 * c], { rtol: 1e-6 });
      const [same] = clipByGlobalNorm<T>(100).update(g, emptyState, g);
      expect(await host(same)).toEqual([[3, 4], [12]]);
      release(g, clipped, same);

      // chain(clip, adamw) = adamw on the clipped gradients, bit for bit; adamwFromConfig builds that chain from clipNorm
      const cfg: AdamWConfig = { ...adamwDefaults, weightDecay: 0.01, clipNorm: 0.5 };
      const p = seededTree(be, 1), grads = seededTree(be, 9), s0 = adamwInit(p);
      const [p1, [, s1]] = applyGradients(adamwFromConfig<T>(cfg, 1e-2), p, grads, [emptyState, s0]);
      const [p2, s2] = tidy(() => {
        const [cl] = clipTensors(treeLeaves(grads), 0.5);
        let i = 0;
        return applyGradients(adamw<T>({ ...adamwDefaults, weightDecay: 0.01, lr: 1e-2 }), p, treeMap(grads, () => cl[i++]), s0);
      });
      expect(await bits(p1)).toEqual(await bits(p2));
      expect(await bits(s1.m)).toEqual(await bits(s2.m));
      release(p, grads, s0, p1, s1, p2, s2);
    });
  }

  it('rejects maxNorm ≤ 0; adamw refuses a clipNorm it would silently ignore', () => {
    expect(() => clipByGlobalNorm(0)).toThrow(/maxNorm/);
    expect(() => adamw({ ...adamwDefaults, clipNorm: 1, lr: 1 } as never)).toThrow(/clipByGlobalNorm/);
  });
});

describe('schedules', () => {
  it('adamw with lr = schedule(state.step) equals adamw at the constant lr of each step, bit for bit', async () => {
    for (const be of backends) {
      const sched = linearSchedule(1e-2, 5, 2);                  // 0, 0.005, 0.01, 0.00667, 0.00333
      const scheduled = adamw<T>({ ...adamwDefaults, ...HF_ADAMW, weightDecay: 0.01, lr: sched });
      let pa = seededTree(be, 1), sa = adamwInit(pa), pb = seededTree(be, 1), sb = adamwInit(pb);
      const start = await bits(pa);
      for (let k = 0; k < 5; k++) {
        const g = seededTree(be, 100 * k + 3);
        const [pa2, sa2] = applyGradients(scheduled, pa, g, sa);
        const [pb2, sb2] = applyGradients(adamw<T>({ ...adamwDefaults, ...HF_ADAMW, weightDecay: 0.01, lr: sched(k) }), pb, g, sb);
        if (k === 0) expect(await bits(pa2)).toEqual(start);     // lr(0) = 0: warm-up starts from a standstill
        expect(await bits(pa2)).toEqual(await bits(pb2));
        expect(sa2.step).toBe(k + 1);
        release(pa, sa, pb, sb, g);
        [pa, sa, pb, sb] = [pa2, sa2, pb2, sb2];
      }
      release(pa, sa, pb, sb);
    }
  });

  it('scaleBySchedule multiplies by schedule(count) and counts; chain(scale(−lr)) is SGD', async () => {
    const be = cpuBackend;
    const g: T = { a: fromArray([1, -2, 4], [3], { backend: be }) };
    const tx = scaleBySchedule<T>((k) => 0.5 ** k);
    let s = tx.init(g);
    for (const f of [1, 0.5, 0.25]) {
      const [u, s2] = tx.update(g, s, g);
      expect((await host(u))[0]).toEqual([f, -2 * f, 4 * f]);
      release(u);
      s = s2;
    }
    expect(s).toEqual({ count: 3 });
    const p: T = { a: fromArray([1, 1, 1], [3], { backend: be }) };
    const [q, st] = applyGradients(chain(identity<T>(), scale<T>(-0.25)), p, g, [emptyState, emptyState]);
    expect((await host(q))[0]).toEqual([0.75, 1.5, 0]);
    expect(st).toEqual([emptyState, emptyState]);
    release(g, p, q);
  });
});

describe('the default steps are bit-identical to the optimizer they replaced', () => {
  // sha256 of p, m, v (leaves w, b, e in order) after 3 steps at lr 1e-3, 3e-3, 1e-2 on the CPU backend, computed
  // with adamwStep / softMaskedAdamwStep of commit 242fd8a (one fused kernel writing p' per tensor).
  const frozen: Record<string, string> = {
    'das-gradient-hf': '7da1c96f7fe2c65c608d6ea5bda7328506208da2f9b9943b3aeb9a3be04e4e53',   // posttrain DAS: HF AdamW, wd 0, mask on the gradient
    'hf-wd': '8347d8ff16068a340b5a4a79042469bd06adafc592e73704d7e033b2e1a9f48e',             // finetune: HF AdamW, wd 0.01
    'torch-clip-wd': '0b8031054c048b79ed83f586193c5a315c03f32e45638ef57c9b4d36e364ab7d',     // pretrain: torch AdamW, wd 0.01 (not on b), clip 1
  };
  const configs: Record<string, AdamWConfig> = {
    'das-gradient-hf': { ...adamwDefaults, ...HF_ADAMW, weightDecay: 0 },
    'hf-wd': { ...adamwDefaults, ...HF_ADAMW, weightDecay: 0.01 },
    'torch-clip-wd': { ...adamwDefaults, weightDecay: 0.01, clipNorm: 1, noDecay: (p) => p === 'b' },
  };
  /** The new API as the call sites use it (posttrain trainStep, finetune, mlmTrainStep). */
  const newStep = (name: string, scales: Map<string, Tensor>) => (p: T, g: T, s: AdamWState<T>, lr: number): [T, AdamWState<T>] => {
    const c = configs[name];
    if (name === 'das-gradient-hf') { const [q, [, o]] = applyGradients(chain(softMask<T>(scales), adamw<T>({ ...c, lr })), p, g, [emptyState, s]); return [q, o]; }
    if (name === 'hf-wd') return applyGradients(adamw<T>({ ...c, lr }), p, g, s);
    const [q, [, o]] = applyGradients(adamwFromConfig<T>(c, lr), p, g, [emptyState, s]);
    return [q, o];
  };
  /** The old step written out plainly: (clip,) (mask,) then adamwUpdate per tensor. */
  const plainStep = (name: string, scales: Map<string, Tensor>) => (p: T, g: T, s: AdamWState<T>, lr: number): [T, AdamWState<T>] => tidy(() => {
    const c = configs[name];
    let gl = treeLeavesWithPaths(g).map(([path, t]) => (name === 'das-gradient-hf' && scales.has(path) ? mul(t, scales.get(path)!) : t));
    if (c.clipNorm !== undefined) [gl] = clipTensors(gl, c.clipNorm);
    const step = s.step + 1, ms = treeLeaves(s.m), vs = treeLeaves(s.v);
    const outs = treeLeavesWithPaths(p).map(([path, t], i) => adamwUpdate(t, gl[i], ms[i], vs[i], {
      lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.noDecay?.(path) ? 0 : c.weightDecay, step, decay: c.decay, epsOn: c.epsOn,
    }));
    let i = 0, j = 0, k = 0;
    return [treeMap(p, () => outs[i++][0]), { step, m: treeMap(s.m, () => outs[j++][1]), v: treeMap(s.v, () => outs[k++][2]) }];
  });
  async function run(be: Backend, name: string, step: typeof newStep): Promise<{ hash: string; bits: string[] }> {
    const scales = seededScales(be);
    const f = step(name, scales);
    let p = seededTree(be, 1), s = adamwInit(p);
    for (let t = 0; t < 3; t++) {
      const g = seededTree(be, 100 * t + 7);
      const [p2, s2] = f(p, g, s, [1e-3, 3e-3, 1e-2][t]);
      release(p, s, g);
      [p, s] = [p2, s2];
    }
    const h = createHash('sha256'), all: string[] = [];
    for (const x of [...treeLeaves(p), ...treeLeaves(s.m), ...treeLeaves(s.v)]) {
      const b = Buffer.from(Float32Array.from(await read(x)).buffer);
      h.update(b);
      all.push(b.toString('hex'));
    }
    release(p, s, [...scales.values()]);
    return { hash: h.digest('hex'), bits: all };
  }

  for (const name of Object.keys(frozen)) {
    it(`${name}: frozen CPU bytes; the plain per-tensor reimplementation on every backend`, async () => {
      expect((await run(cpuBackend, name, newStep)).hash).toBe(frozen[name]);
      for (const be of backends) expect((await run(be, name, newStep)).bits).toEqual((await run(be, name, plainStep)).bits);
    });
  }
});

describe('memory', () => {
  it('a chain step leaks nothing: intermediate updates, masked gradients and clipped copies are released', () => {
    for (const be of backends) {
      const p = seededTree(be, 1), g = seededTree(be, 5), scales = seededScales(be);
      const txs: GradientTransformation<readonly unknown[], T>[] = [
        chain(softMask<T>(scales), adamw<T>({ ...adamwDefaults, lr: 1e-3 })),
        chain(adamw<T>({ ...adamwDefaults, lr: 1e-3 }), softMask<T>(scales)),
        chain(clipByGlobalNorm<T>(1), softMask<T>(scales), identity<T>(), adamw<T>({ ...adamwDefaults, lr: 1e-3 }), scale<T>(1)),
      ];
      for (const tx of txs) {
        const s0 = tx.init(p);
        const live = counters.liveTensors;
        const [p1, s1] = applyGradients(tx, p, g, s0);
        release(p1, s1);
        expect(counters.liveTensors).toBe(live);
        release(s0);
      }
      release(p, g, [...scales.values()]);
    }
  });
});
