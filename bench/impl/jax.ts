// jax-js 0.1.25 anchors: WebGPU (Dawn through a navigator.gpu shim) and wasm, every composite under jit (its
// fusing compiler is the library's point); the chain of small ops runs eagerly, since jit would fuse it away.
// jax-js moves arrays into the functions they are passed to: `.ref` keeps one for later use.
import type * as JAX from '@jax-js/jax';
import { ADAMW, type Case, type ModelDims, STEP_ADAM, values, xentLabels } from '../cases.js';
import { dawnGpu } from './dawn.js';
import { type Lin, type RobertaParams, robertaParams } from './tfjs.js';
import type { Impl, Runner } from './types.js';

type Arr = JAX.Array;
let jaxMod: typeof JAX | undefined;

export class JaxJs implements Impl {
  readonly id: string;
  readonly label: string;
  private jax!: typeof JAX;

  constructor(readonly kind: 'webgpu' | 'wasm') {
    this.id = `jaxjs-${kind}`;
    this.label = `jax-js ${kind}`;
  }

  async init(): Promise<string> {
    if (this.kind === 'webgpu') dawnGpu();
    const jax = (this.jax = jaxMod ??= await import('@jax-js/jax'));
    const got = await jax.init(this.kind);
    if (!got.includes(this.kind)) throw new Error(`jax-js could not start its ${this.kind} backend`);
    let desc = '';
    if (this.kind === 'webgpu') {
      const d = jax.getWebGPUDevice() as GPUDevice & { adapterInfo?: GPUAdapterInfo };
      desc = ` on Dawn (${d.adapterInfo?.description || d.adapterInfo?.vendor || 'device'})`;
    } else desc = ` (SharedArrayBuffer ${typeof SharedArrayBuffer !== 'undefined'}, no Worker global in Node: ${typeof (globalThis as { Worker?: unknown }).Worker === 'undefined'})`;
    return `@jax-js/jax 0.1.25 ${this.kind}${desc}`;
  }

  enter(): void { this.jax.defaultDevice(this.kind); }

  private arr(v: Float32Array | Int32Array, shape: number[]): Arr {
    return this.jax.numpy.array(v, { shape, dtype: v instanceof Int32Array ? this.jax.numpy.int32 : this.jax.numpy.float32, device: this.kind });
  }

  /** Calls f (consuming fresh references to the inputs) `inner` times, waits for every result, frees them. */
  private loop(f: (...xs: Arr[]) => Arr | Arr[], inputs: Arr[]): Runner {
    const jax = this.jax;
    return {
      run: async (inner) => {
        const outs: Arr[] = [];
        for (let i = 0; i < inner; i++) outs.push(...[f(...inputs.map((x) => x.ref))].flat());
        await jax.blockUntilReady(outs);
        for (const o of outs) o.dispose();
      },
      dispose: () => { for (const x of inputs) x.dispose(); if ('dispose' in f) (f as unknown as { dispose(): void }).dispose(); },
    };
  }

  async prepare(c: Case): Promise<Runner | string> {
    const { numpy: np, nn, jit } = this.jax;
    this.enter();
    const t = (v: Float32Array | Int32Array, shape: number[]) => this.arr(v, shape);
    switch (c.kind) {
      case 'matmul':
        return this.loop(jit((a: Arr, b: Arr) => np.matmul(a, b)), [t(values(c.M * c.K, 1), [c.M, c.K]), t(values(c.K * c.N, 2), [c.K, c.N])]);
      case 'softmax':
        return this.loop(jit((x: Arr) => nn.softmax(x, -1)), [t(values(c.R * c.C, 3, -4, 4), [c.R, c.C])]);
      case 'layernorm': {
        const ins = [t(values(c.R * c.C, 4, -2, 2), [c.R, c.C]), t(values(c.C, 5, 0.5, 1.5), [c.C]), t(values(c.C, 6), [c.C])];
        const ln = (x: Arr, w: Arr, b: Arr) => layerNorm(this.jax, x, w, b, 1e-5);
        if (!c.backward) return this.loop(jit(ln), ins);
        const f = jit((x: Arr, w: Arr, b: Arr, dy: Arr) => {
          const [y, back] = this.jax.vjp(ln, [x, w, b]);
          const g = back(dy) as Arr[];
          y.dispose();
          back.dispose();
          return g;
        });
        return this.loop(f, [...ins, t(values(c.R * c.C, 7), [c.R, c.C])]);
      }
      case 'gelu':
        return this.loop(jit((x: Arr) => nn.gelu(x, { approximate: false })), [t(values(c.R * c.C, 8, -3, 3), [c.R, c.C])]);
      case 'xent':
        return this.loop(jit((z: Arr, y: Arr) => xent(this.jax, z, y)), [t(values(c.R * c.C, 9, -4, 4), [c.R, c.C]), t(xentLabels(c.R, c.C), [c.R, 1])]);
      case 'adamw': {
        const f = jit((p: Arr, g: Arr, m: Arr, v: Arr) => adamw(this.jax, p, g, m, v));
        return this.loop(f, [t(values(c.n, 10), [c.n]), t(values(c.n, 11), [c.n]), t(values(c.n, 12), [c.n]), t(values(c.n, 13, 0, 1), [c.n])]);
      }
      case 'chain': {
        const x = t(values(c.n, 14), [c.n]), k = t(values(c.n, 15), [c.n]);
        return {
          run: async (inner) => {
            for (let i = 0; i < inner; i++) {
              let y = x.ref;
              for (let j = 0; j < c.ops; j++) y = np.add(y, k.ref);
              await y.data(); // data() consumes y
            }
          },
          dispose: () => { x.dispose(); k.dispose(); },
        };
      }
      case 'step': return this.step(c.model, c.batch);
      case 'das_step': return 'the DAS step is measured for ours and PyTorch only';
    }
  }

  /** The same RoBERTa MLM step as ours: valueAndGrad + Adam, the whole step under one jit (gathers as one-hot matmuls). */
  private step(m: ModelDims, b: { ids: number[]; positions: number[]; labelIndex: number[]; labels: number[] }): Runner {
    const jax = this.jax, { numpy: np, jit } = jax;
    // Parameter trees are plain objects of arrays; jax-js's JsTree typing wants type aliases, so the trees are `Tree` here.
    type Tree = JAX.JsTree<Arr>;
    const tree = jax.tree as unknown as { map(f: (x: Arr) => Arr, t: Tree): Tree; ref(t: Tree): Tree; leaves(t: Tree): Arr[]; structure(t: Tree): JAX.JsTreeDef; unflatten(d: JAX.JsTreeDef, l: Arr[]): Tree; dispose(t: Tree): void };
    let s = 1;
    const normal = (shape: number[]) => { const n = shape.reduce((a, x) => a * x, 1); return this.arr(values(n, 100 + s++, -0.035, 0.035), shape); };
    let p = robertaParams<Arr, Arr>(m, (shape, init) => init(shape), normal, (sh) => np.zeros(sh, { device: this.kind }), (sh) => np.ones(sh, { device: this.kind })) as unknown as Tree;
    let mo = tree.map((x) => np.zerosLike(x.ref), p), vo = tree.map((x) => np.zerosLike(x.ref), p);
    const oneHot = (idx: number[], n: number) => { const o = new Float32Array(idx.length * n); idx.forEach((j, r) => { o[r * n + j] = 1; }); return this.arr(o, [idx.length, n]); };
    const ids = oneHot(b.ids, m.vocab), pos = oneHot(b.positions, m.maxPositions);
    const maskBias = np.zeros([m.batch, 1, 1, m.seq], { device: this.kind });
    const li = oneHot(b.labelIndex, m.batch * m.seq), lab = oneHot(b.labels, m.vocab);
    const { beta1: b1, beta2: b2, eps, lr } = STEP_ADAM;
    const loss = (p: Tree, ids: Arr, pos: Arr, mb: Arr, li: Arr, lab: Arr) => mlmLoss(jax, m, p as unknown as RobertaParams<Arr>, ids, pos, mb, li, lab);
    const stepFn = jit((p: Tree, mo: Tree, vo: Tree, c1: Arr, c2: Arr, ids: Arr, pos: Arr, mb: Arr, li: Arr, lab: Arr) => {
      const [l, g] = jax.valueAndGrad(loss)(tree.ref(p), ids, pos, mb, li, lab) as [Arr, Tree];
      const gl = tree.leaves(g), pl = tree.leaves(p), ml = tree.leaves(mo), vl = tree.leaves(vo);
      const np1: Arr[] = [], nm: Arr[] = [], nv: Arr[] = [];
      gl.forEach((gi, i) => {
        const m1 = ml[i].mul(b1).add(gi.ref.mul(1 - b1));
        const v1 = vl[i].mul(b2).add(np.square(gi).mul(1 - b2));
        const upd = m1.ref.mul(c1.ref).div(np.sqrt(v1.ref.mul(c2.ref)).add(eps));
        np1.push(pl[i].sub(upd)); nm.push(m1); nv.push(v1);
      });
      c1.dispose(); c2.dispose();
      const def = tree.structure(p);
      return [tree.unflatten(def, np1), tree.unflatten(def, nm), tree.unflatten(def, nv), l] as Tree[];
    });
    let t = 0;
    return {
      run: async (inner) => {
        let l: Arr | undefined;
        for (let i = 0; i < inner; i++) {
          t++;
          const c1 = np.array(lr / (1 - b1 ** t), { device: this.kind }), c2 = np.array(1 / (1 - b2 ** t), { device: this.kind });
          l?.dispose();
          const out = stepFn(p, mo, vo, c1, c2, ids.ref, pos.ref, maskBias.ref, li.ref, lab.ref) as Tree[];
          [p, mo, vo] = out;
          l = out[3] as Arr;
        }
        await jax.blockUntilReady([p, mo, vo, l!]);
        l!.dispose();
      },
      dispose: () => { tree.dispose([p, mo, vo, ids, pos, maskBias, li, lab]); stepFn.dispose(); },
    };
  }

  close(): void { /* jax-js keeps its backends for the process */ }
}

// ---- the model in jax-js (post-LN RoBERTa, as src/nn/roberta.ts) -------------------------------------

type J = typeof JAX;
function layerNorm(jax: J, x: Arr, w: Arr, b: Arr, eps: number): Arr {
  return jax.nn.standardize(x, -1, { epsilon: eps }).mul(w).add(b);
}
/** Mean cross-entropy of logits z [R, C] and labels y [R, 1]. */
function xent(jax: J, z: Arr, y: Arr): Arr {
  return jax.numpy.takeAlongAxis(jax.nn.logSoftmax(z, -1), y, 1).mean().neg();
}
function adamw(jax: J, p: Arr, g: Arr, m: Arr, v: Arr): Arr[] {
  const np = jax.numpy;
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step } = ADAMW;
  const m1 = m.mul(b1).add(g.ref.mul(1 - b1));
  const v1 = v.mul(b2).add(np.square(g).mul(1 - b2));
  const upd = m1.ref.mul(lr / (1 - b1 ** step)).div(np.sqrt(v1.ref.div(1 - b2 ** step)).add(eps));
  return [p.mul(1 - lr * wd).sub(upd), m1, v1];
}

function mlmLoss(jax: J, m: ModelDims, p: RobertaParams<Arr>, ids: Arr, pos: Arr, maskBias: Arr, li: Arr, lab: Arr): Arr {
  const { numpy: np, nn } = jax;
  const { batch: B, seq: T, hidden: D, heads: H } = m, Dh = D / H;
  const lin = (x: Arr, l: Lin<Arr>) => np.matmul(x, l.w.transpose()).add(l.b);
  const ln = (x: Arr, n: Lin<Arr>) => layerNorm(jax, x, n.w, n.b, m.eps);
  const split = (x: Arr) => x.reshape([B, T, H, Dh]).transpose([0, 2, 1, 3]);
  const gelu = (x: Arr) => nn.gelu(x, { approximate: false });
  // Gathers as one-hot matmuls: jax-js 0.1.25 cannot jit the scatter that the gradient of take() needs.
  const rows = (table: Arr, oneHotIdx: Arr) => np.matmul(oneHotIdx, table);
  let x = ln(rows(p.word.ref, ids).add(rows(p.pos, pos)).add(p.type0), p.embNorm); // [B·T, D]
  p.layers.forEach((l, i) => {
    const q = split(lin(x.ref, l.q)), k = split(lin(x.ref, l.k)), v = split(lin(x.ref, l.v));
    const probs = nn.softmax(np.matmul(q, k.transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(Dh)).add(i + 1 < p.layers.length ? maskBias.ref : maskBias), -1);
    const ctx = np.matmul(probs, v).transpose([0, 2, 1, 3]).reshape([B * T, D]);
    const h = ln(lin(ctx, l.o).add(x), l.n1);
    x = ln(lin(gelu(lin(h.ref, l.f1)), l.f2).add(h), l.n2);
  });
  const hm = ln(gelu(lin(rows(x, li), p.head.dense)), p.head.norm);
  const logits = np.matmul(hm, p.word.transpose()).add(p.head.bias);
  return nn.logSoftmax(logits, -1).mul(lab).sum().mul(-1 / lab.shape[0]); // lab: one-hot labels (takeAlongAxis's gradient is a scatter too)
}
