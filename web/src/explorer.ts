// The DAS explorer: a RoBERTa (the committed base model, or a Hugging Face directory picked by the user),
// pasted domain text → KL-proxy and MLM unit importance (docs/method.md §4–5) as per-layer heatmaps → the
// soft mask's per-layer effect on a gradient (§6.5–6.6) → a classifier fine-tuned with and without it,
// with a live loss curve. Everything runs in the page on the library bundle.
import {
  type AdamWState, type Backend, type EmptyState, type GradientTransformation, type HostBatch, type HostImportance, type Importance, IoError, type Params, type RobertaConfig, type Tensor, type Tokenizer,
  UNIT_KINDS, accumulatedImportance, addBatch, adamw, adamwDefaults, alias, applyGradients, applySoftMask, chain, chunkCorpus, classifierLogits,
  concat, cpu, crossEntropy, emptySums, encode, foldIn, fromArray, identity, importanceBatches, importanceToHost, initClassifier, key,
  mlmLoss, mlmTargets, normalizeSet, parseCheckpoint, parseTokenizerJson, permutation, rawImportance, read, release,
  reshape, softMask, softMaskScales, square, sum, tidy, toDevice, treeLeavesWithPaths, treeMap, valueAndGrad,
} from 'das-webgpu';
import { $, NoAdapter, adapterLine, breathe, describe, heatmap, legend, lineChart, openGpu, showError } from './common.js';

interface Model { cfg: RobertaConfig; params: Params; tok: Tokenizer; source: string }
type Source = 'kl' | 'mlm' | 'emax';

let be: Backend | null = null;
let model: Model | null = null;
let importance: { kl: HostImportance; mlm: HostImportance; batches: HostBatch[] } | null = null;
let busy = false;

const num = (id: string): number => Number($<HTMLInputElement>(id).value);
const status = (id: string, text: string) => { $(id).textContent = text; };
const done = (what: string) => { document.body.dataset[what] = 'done'; };

/** Runs a page action: one at a time, buttons off meanwhile, failures shown next to it. */
async function action(errorBox: string, f: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  $(errorBox).replaceChildren();
  document.querySelectorAll('button').forEach((b) => { b.disabled = true; });
  try { await f(); } catch (e) { showError($(errorBox), e); document.body.dataset.failed = describe(e).title; } finally {
    busy = false;
    document.querySelectorAll('button').forEach((b) => { b.disabled = false; });
    $<HTMLButtonElement>('run-importance').disabled = model === null;
  }
}

// ---- 1. the model ------------------------------------------------------------------------------

async function useModel(files: { config: Uint8Array; model: Uint8Array; tokenizer: Uint8Array }, names: { config: string; model: string; tokenizer: string }, source: string): Promise<void> {
  if (be === null) throw new NoAdapter('no backend');
  const ck = parseCheckpoint(files.config, files.model, be, names);
  if (ck._tag === 'Left') throw ck.left;
  const tok = parseTokenizerJson(new TextDecoder().decode(files.tokenizer), names.tokenizer);
  if (tok._tag === 'Left') { release(ck.right.params); throw tok.left; }
  if (tok.right.vocabSize > ck.right.cfg.vocabSize) {
    release(ck.right.params);
    throw new IoError(`has ${tok.right.vocabSize} tokens, more than the model's vocabulary of ${ck.right.cfg.vocabSize} (${names.config}): a tokenizer of another model?`, { file: names.tokenizer });
  }
  if (model !== null) release(model.params);
  model = { cfg: ck.right.cfg, params: ck.right.params, tok: tok.right, source };
  importance = null;
  const c = model.cfg;
  const maxSeq = c.maxPositions - c.padId - 1;
  if (num('seq') > maxSeq) $<HTMLInputElement>('seq').value = String(maxSeq);
  status('model-status', `${source}: hidden ${c.width}, ${c.heads} heads, FFN ${c.intermediate}, ${c.layers} layers, vocabulary ${c.vocabSize}, dropout ${c.hiddenDropout}/${c.attentionDropout}; ${model.params.lmHead ? 'MLM head' : 'no MLM head (MLM importance needs one)'}.`);
  $<HTMLButtonElement>('run-importance').disabled = false;
  done('model');
}

async function loadBase(): Promise<void> {
  status('model-status', 'loading models/base …');
  const get = async (f: string) => {
    const r = await fetch(`models/base/${f}`);
    if (!r.ok) throw new IoError(`cannot fetch (HTTP ${r.status})`, { file: `models/base/${f}` });
    return new Uint8Array(await r.arrayBuffer());
  };
  const [config, weights, tokenizer] = await Promise.all([get('config.json'), get('model.safetensors'), get('tokenizer.json')]);
  await useModel({ config, model: weights, tokenizer }, { config: 'models/base/config.json', model: 'models/base/model.safetensors', tokenizer: 'models/base/tokenizer.json' }, 'models/base');
}

async function loadPicked(list: FileList | null): Promise<void> {
  const files = [...(list ?? [])];
  const pick = (name: string) => {
    const f = files.find((x) => x.name === name);
    if (f === undefined) throw new IoError(`missing: pick a Hugging Face directory (or its files) with config.json, model.safetensors and tokenizer.json; got ${files.map((x) => x.name).join(', ') || 'nothing'}`, { file: name });
    return f;
  };
  const [c, m, t] = [pick('config.json'), pick('model.safetensors'), pick('tokenizer.json')];
  const dir = (f: File) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
  status('model-status', `reading ${dir(m)} (${(m.size / 2 ** 20).toFixed(1)} MiB) …`);
  const bytes = async (f: File) => new Uint8Array(await f.arrayBuffer());
  await useModel({ config: await bytes(c), model: await bytes(m), tokenizer: await bytes(t) }, { config: dir(c), model: dir(m), tokenizer: dir(t) }, dir(m).replace(/\/?model\.safetensors$/, '') || 'picked files');
}

// ---- 2–3. importance ---------------------------------------------------------------------------

function domainBatches(m: Model): HostBatch[] {
  const lines = $<HTMLTextAreaElement>('domain').value.split('\n').filter((l) => l.trim() !== '');
  const seqLen = num('seq');
  const chunks = chunkCorpus(lines, m.tok, { seqLen });
  if (chunks.length === 0) throw new Error(`the text gives no chunk of ${seqLen} tokens: paste more text or lower the sequence length`);
  return importanceBatches(chunks, m.tok, m.cfg.vocabSize, { subset: num('subset'), batchSize: num('batch'), seed: 1 });
}

async function runImportance(): Promise<void> {
  const m = model, b = be;
  if (m === null || b === null) throw new Error('load a model first');
  const batches = domainBatches(m);
  const bar = $<HTMLProgressElement>('importance-progress');
  bar.hidden = false;
  bar.max = 2 * batches.length;
  bar.value = 0;
  const t0 = performance.now();
  const out: Partial<Record<'kl' | 'mlm', HostImportance>> = {};
  const dropoutKey = key(7);
  const withDropout = m.cfg.hiddenDropout > 0 || m.cfg.attentionDropout > 0;
  for (const loss of ['kl', 'mlm'] as const) {
    let s = emptySums(m.cfg, 'abs-per-example', b);
    for (const [k, hb] of batches.entries()) {
      status('importance-status', `${loss === 'kl' ? 'KL proxy' : 'MLM'}: batch ${k + 1} of ${batches.length} (${hb.B} × ${hb.T} tokens)`);
      // The KL proxy compares two dropout passes (§5.3): batch k, pass i uses foldIn(foldIn(key, k), i), as the CLI does.
      const dropout = loss === 'kl' && withDropout ? [{ key: foldIn(foldIn(dropoutKey, k), 0) }, { key: foldIn(foldIn(dropoutKey, k), 1) }] : undefined;
      s = addBatch(m.cfg, m.params, s, hb, { loss, dropout });
      await breathe(b);
      bar.value++;
    }
    const raw = rawImportance(s);
    release(s.total, s.running);
    const norm = normalizeSet(raw);
    out[loss] = await importanceToHost(norm);
    release(raw, norm);
  }
  importance = { kl: out.kl!, mlm: out.mlm!, batches };
  bar.hidden = true;
  const tokens = batches.reduce((n, hb) => n + hb.B * hb.T, 0);
  status('importance-status', `KL proxy and MLM importance of ${tokens} tokens (${batches.length} batches) in ${((performance.now() - t0) / 1000).toFixed(1)} s${withDropout ? '' : ' — this model has no dropout, so the KL proxy is zero (two identical passes)'}.`);
  drawHeatmaps(m.cfg);
  done('importance');
  $('mask-section').hidden = false;
  $('ft-section').hidden = false;
  await runMask();
}

function drawHeatmaps(cfg: RobertaConfig): void {
  const imp = importance!;
  $('heatmaps').hidden = false;
  legend($<HTMLCanvasElement>('legend'));
  for (const src of ['kl', 'mlm'] as const) {
    const box = $(`heat-${src}`);
    box.replaceChildren();
    const h = document.createElement('h3');
    h.textContent = src === 'kl' ? 'KL proxy (general knowledge)' : 'MLM (this domain)';
    h.style.fontSize = '15px';
    box.append(h);
    const set = imp[src];
    box.append(heatmap(`attention heads [${cfg.layers} × ${cfg.heads}]`, set.head.data, cfg.layers, cfg.heads, { width: 480, rowHeight: 26, annotate: cfg.heads <= 24 }));
    box.append(heatmap(`intermediate (FFN) neurons [${cfg.layers} × ${cfg.intermediate}]`, set.intermediate.data, cfg.layers, cfg.intermediate, { width: 480 }));
    box.append(heatmap(`output neurons [${cfg.layers} × ${cfg.width}]`, set.output.data, cfg.layers, cfg.width, { width: 480 }));
  }
}

// ---- 4. the soft mask ----------------------------------------------------------------------------

/** Ī of the chosen source on the host: KL, MLM, or their element-wise maximum (EMax, §4.6). */
function maskHost(src: Source): HostImportance {
  const imp = importance!;
  if (src !== 'emax') return imp[src];
  const out: Partial<HostImportance> = {};
  for (const k of UNIT_KINDS) out[k] = { shape: imp.kl[k].shape, data: imp.kl[k].data.map((v, i) => Math.max(v, imp.mlm[k].data[i])) };
  return out as HostImportance;
}

/** Ī as per-layer gates on the backend (the caller releases it). */
function maskImportance(b: Backend, src: Source): Importance {
  const g = accumulatedImportance(maskHost(src), b);
  if (g._tag === 'Left') throw g.left;
  return g.right;
}

const layerOf = (path: string): number => Number(/^layers\[(\d+)\]/.exec(path)?.[1] ?? -1);
const partOf = (path: string): 'attention' | 'ffn' | 'norm' => (/\.(query|key|value|attnOut)\./.test(path) ? 'attention' : /\.(ffnIn|ffnOut)\./.test(path) ? 'ffn' : 'norm');

async function runMask(): Promise<void> {
  const m = model!, b = be!;
  const src = $<HTMLSelectElement>('mask-source').value as Source;
  const impt = maskImportance(b, src);
  const scales = softMaskScales(impt, m.cfg);
  const hb = importance!.batches[0];
  const [norms, paths] = tidy(() => {
    const t = mlmTargets(hb, b);
    const batch = toDevice(m.cfg, hb, b);
    const [, g] = valueAndGrad((a: { params: Params }) => mlmLoss(m.cfg, a.params, batch, t), ['params'])({ params: m.params });
    const masked = applySoftMask(g.params, scales);
    const leaves = treeLeavesWithPaths(g.params), after = treeLeavesWithPaths(masked);
    const sq = (x: Tensor) => reshape(sum(square(x)), [1]);
    return [concat([...leaves.map(([, x]) => sq(x)), ...after.map(([, x]) => sq(x))], 0), leaves.map(([p]) => p)] as const;
  });
  const v = await read(norms);
  norms.dispose();
  const n = paths.length;
  const rows = Array.from({ length: m.cfg.layers }, () => ({ attention: [0, 0], ffn: [0, 0] }));
  paths.forEach((p, i) => {
    const l = layerOf(p), part = partOf(p);
    if (l < 0 || part === 'norm') return;
    rows[l][part][0] += v[i];
    rows[l][part][1] += v[n + i];
  });
  const host = maskHost(src);
  const meanKeep = (kind: 'head' | 'intermediate' | 'output', l: number): number => {
    const w = host[kind].shape[1];
    let s = 0;
    for (let j = 0; j < w; j++) s += 1 - host[kind].data[l * w + j];
    return s / w;
  };
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>layer</th><th>mean 1 − Ī heads</th><th>mean 1 − Ī FFN in</th><th>mean 1 − Ī FFN out</th><th>‖g‖ attention: before → after</th><th>kept</th><th>‖g‖ FFN: before → after</th><th>kept</th></tr></thead>';
  const body = document.createElement('tbody');
  rows.forEach((r, l) => {
    const [ab, aa] = r.attention.map(Math.sqrt), [fb, fa] = r.ffn.map(Math.sqrt);
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${l}</td><td>${meanKeep('head', l).toFixed(3)}</td><td>${meanKeep('intermediate', l).toFixed(3)}</td><td>${meanKeep('output', l).toFixed(3)}</td>` +
      `<td>${ab.toExponential(3)} → ${aa.toExponential(3)}</td><td>${((100 * aa) / ab).toFixed(1)} %</td><td>${fb.toExponential(3)} → ${fa.toExponential(3)}</td><td>${((100 * fa) / fb).toFixed(1)} %</td>`;
    body.append(tr);
  });
  table.append(body);
  const canvas = document.createElement('canvas');
  canvas.width = 560;
  canvas.height = 34 * m.cfg.layers + 30;
  const g = canvas.getContext('2d')!;
  g.font = '11px system-ui, sans-serif';
  rows.forEach((r, l) => {
    for (const [k, part] of (['attention', 'ffn'] as const).entries()) {
      const kept = Math.sqrt(r[part][1] / r[part][0]);
      const y = 8 + l * 34 + k * 14;
      g.fillStyle = '#e8ebef'; g.fillRect(150, y, 380, 11);
      g.fillStyle = part === 'attention' ? '#2e6bd6' : '#d97706'; g.fillRect(150, y, 380 * kept, 11);
      g.fillStyle = '#1d232b'; g.fillText(`layer ${l} ${part}: ${(100 * kept).toFixed(0)} %`, 4, y + 9);
    }
  });
  g.fillStyle = '#5c6773';
  g.fillText('share of the gradient norm the soft mask lets through', 150, canvas.height - 6);
  $('mask-out').replaceChildren(table, canvas);
  for (const s of scales.values()) s.dispose();
  release(impt);
  done('mask');
}

// ---- 5. fine-tuning --------------------------------------------------------------------------------

interface Example { label: string; text: string }

function parseTask(text: string): { train: Example[]; test: Example[]; labels: string[] } {
  const rows = text.split('\n').map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== '');
  const ex = rows.map(([l, n]) => {
    const m = /^([^\t|]+?)\s*(?:\t|\|)\s*(.+)$/.exec(l);
    if (m === null) throw new Error(`task line ${n}: expected "label<TAB>text" or "label | text", got ${JSON.stringify(l.slice(0, 60))}`);
    return { label: m[1].trim(), text: m[2] };
  });
  const labels = [...new Set(ex.map((e) => e.label))].sort();
  if (labels.length < 2) throw new Error(`the task needs at least two labels, got ${labels.length === 0 ? 'none' : labels[0]}`);
  const test = ex.filter((_, i) => i % 5 === 4), train = ex.filter((_, i) => i % 5 !== 4);
  if (train.length === 0 || test.length === 0) throw new Error('the task needs at least 5 examples (every fifth is held out)');
  return { train, test, labels };
}

/** `<s> … </s>` cut to seqLen keeping the final `</s>` (as src/eval/finetune.ts), right-padded per batch. */
function encodeBatch(m: Model, examples: readonly Example[], seqLen: number): HostBatch {
  const seqs = examples.map((e) => { const ids = m.tok.encode(e.text, { addSpecialTokens: true }); return ids.length <= seqLen ? ids : [...ids.slice(0, seqLen - 1), m.tok.specials.eos]; });
  const B = seqs.length, T = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(B * T).fill(m.cfg.padId), attention = new Int32Array(B * T);
  seqs.forEach((s, b) => s.forEach((id, t) => { ids[b * T + t] = id; attention[b * T + t] = 1; }));
  return { B, T, ids, attention };
}

type Trainable = Pick<Params, 'embeddings' | 'layers' | 'classifier'>;

async function runFinetune(): Promise<void> {
  const m = model!, b = be!;
  const task = parseTask($<HTMLTextAreaElement>('task').value);
  const steps = num('ft-steps'), batchSize = num('ft-batch'), lr = num('ft-lr'), seqLen = num('seq');
  const C = task.labels.length, labelOf = new Map(task.labels.map((l, i) => [l, i]));
  const src = $<HTMLSelectElement>('mask-source').value as Source;
  const impt = maskImportance(b, src);
  const scales = softMaskScales(impt, m.cfg);
  release(impt);
  const evalBatches = importance!.batches.slice(0, 2);
  const mlmOf = async (enc: Pick<Params, 'embeddings' | 'layers'>): Promise<number> => {
    let total = 0, count = 0;
    for (const hb of evalBatches) {
      const l = tidy(() => mlmLoss(m.cfg, { ...enc, lmHead: m.params.lmHead }, toDevice(m.cfg, hb, b), mlmTargets(hb, b)));
      const n = hb.labels!.filter((x) => x !== -100).length;
      total += (await read(l))[0] * n;
      count += n;
      l.dispose();
    }
    return total / count;
  };
  const baseMlm = m.params.lmHead ? await mlmOf(m.params) : NaN;
  const runs = [{ name: 'without soft mask', colour: '#d97706', mask: false }, { name: `with soft mask (Ī: ${src})`, colour: '#2e6bd6', mask: true }];
  const curves = runs.map((r) => ({ name: r.name, colour: r.colour, values: [] as number[] }));
  const results: { name: string; acc: number; mlm: number; seconds: number }[] = [];
  for (const [ri, run] of runs.entries()) {
    const t0 = performance.now();
    let params: Trainable = { embeddings: treeMap(m.params.embeddings, (t) => alias(t)), layers: treeMap(m.params.layers, (t) => alias(t)), classifier: initClassifier(m.cfg, C, key(3), b) };
    const mask: GradientTransformation<EmptyState, Trainable> = run.mask ? softMask<Trainable>(scales) : identity<Trainable>();
    const tx = chain<Trainable, [EmptyState, AdamWState<Trainable>]>(mask, adamw<Trainable>({ ...adamwDefaults, weightDecay: 0.01, lr }));
    let state = tx.init(params);
    let order = permutation(task.train.length, key(11));
    for (let step = 0; step < steps; step++) {
      const epochAt = (step * batchSize) % task.train.length;
      if (step > 0 && epochAt < batchSize) order = permutation(task.train.length, foldIn(key(11), step));
      const pick = Array.from({ length: Math.min(batchSize, task.train.length) }, (_, i) => task.train[order[(epochAt + i) % task.train.length]]);
      const hb = encodeBatch(m, pick, seqLen);
      const drop = { key: foldIn(key(5), step) };
      const [loss, next, nextState] = tidy((): [Tensor, Trainable, typeof state] => {
        const batch = toDevice(m.cfg, hb, b);
        const y = fromArray(pick.map((e) => labelOf.get(e.label)!), [pick.length], { dtype: 'i32', backend: b });
        const f = (a: { p: Trainable }) => crossEntropy(classifierLogits(m.cfg, a.p.classifier!, encode(m.cfg, a.p, batch, { dropout: drop }), drop, 0, { how: 'mean', mask: batch.mask }), y);
        const [l, g] = valueAndGrad(f, ['p'])({ p: params });
        const [p2, s2] = applyGradients(tx, params, g.p, state);
        return [l, p2, s2];
      });
      release(params, state);
      params = next;
      state = nextState;
      curves[ri].values.push((await read(loss))[0]);
      loss.dispose();
      status('ft-status', `${run.name}: step ${step + 1} of ${steps}, loss ${curves[ri].values[step].toFixed(4)}`);
      lineChart($<HTMLCanvasElement>('loss'), curves, { yLabel: 'training loss (cross-entropy)' });
      await breathe(b);
    }
    // held-out accuracy (dropout off) and the MLM loss of the fine-tuned encoder on the domain text
    let right = 0;
    for (let i = 0; i < task.test.length; i += batchSize) {
      const part = task.test.slice(i, i + batchSize);
      const hb = encodeBatch(m, part, seqLen);
      const logits = tidy(() => { const batch = toDevice(m.cfg, hb, b); return classifierLogits(m.cfg, params.classifier!, encode(m.cfg, params, batch), undefined, 0, { how: 'mean', mask: batch.mask }); });
      const v = await read(logits);
      logits.dispose();
      part.forEach((e, k) => { let best = 0; for (let c = 1; c < C; c++) if (v[k * C + c] > v[k * C + best]) best = c; if (best === labelOf.get(e.label)) right++; });
    }
    const mlm = m.params.lmHead ? await mlmOf(params) : NaN;
    results.push({ name: run.name, acc: right / task.test.length, mlm, seconds: (performance.now() - t0) / 1000 });
    release(params, state);
  }
  for (const s of scales.values()) s.dispose();
  const table = document.createElement('table');
  table.innerHTML = `<thead><tr><th>run</th><th>final training loss</th><th>held-out accuracy (${task.test.length} examples, ${C} classes)</th><th>MLM loss on the domain text (base ${baseMlm.toFixed(4)})</th><th>seconds</th></tr></thead>`;
  const body = document.createElement('tbody');
  results.forEach((r, i) => {
    const tr = document.createElement('tr');
    const last = curves[i].values[curves[i].values.length - 1];
    tr.innerHTML = `<td>${r.name}</td><td>${last.toFixed(4)}</td><td>${(100 * r.acc).toFixed(1)} %</td><td>${r.mlm.toFixed(4)} (${r.mlm >= baseMlm ? '+' : ''}${(r.mlm - baseMlm).toFixed(4)})</td><td>${r.seconds.toFixed(1)}</td>`;
    body.append(tr);
  });
  table.append(body);
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = 'The soft mask scales gradients before AdamW, which divides each element by its own running scale: a constant factor cancels, so only units with Ī near 1 are really held back (docs/method.md §6.7). The MLM loss shows how much each run moved the encoder away from the domain.';
  $('ft-out').replaceChildren(table, note);
  status('ft-status', `done: ${steps} steps per run, ${task.train.length} training examples.`);
  done('finetune');
}

// ---- start ------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  try {
    const samples = await (await fetch('samples.json')).json() as { domain: { text: string }; task: { lines: string } };
    $<HTMLTextAreaElement>('domain').value = samples.domain.text;
    $<HTMLTextAreaElement>('task').value = samples.task.lines;
  } catch { /* no samples: the user pastes text */ }
  // Settings from the address (e.g. ?auto=all&steps=3&seq=32): the inputs' ids, and `examples` to keep the first N task lines.
  for (const [q, id] of [['seq', 'seq'], ['batch', 'batch'], ['subset', 'subset'], ['steps', 'ft-steps'], ['ftbatch', 'ft-batch'], ['lr', 'ft-lr']] as const) {
    if (params.has(q)) $<HTMLInputElement>(id).value = params.get(q)!;
  }
  if (params.has('examples')) $<HTMLTextAreaElement>('task').value = $<HTMLTextAreaElement>('task').value.split('\n').slice(0, Number(params.get('examples'))).join('\n');
  if (params.has('mask')) $<HTMLSelectElement>('mask-source').value = params.get('mask')!;
  try {
    const g = await openGpu();
    be = g;
    $('adapter').textContent = `WebGPU: ${adapterLine(g)}`;
  } catch (e) {
    showError($('fatal'), e);
    document.body.dataset.failed = describe(e).title;
    const use = document.createElement('button');
    use.className = 'secondary';
    use.textContent = 'Use the CPU backend instead (slow)';
    use.onclick = () => { be = cpu(); $('fatal').replaceChildren(); $('adapter').textContent = 'CPU backend'; void action('model-error', loadBase); };
    $('fatal').append(use);
    return;
  }
  $('load-base').onclick = () => void action('model-error', loadBase);
  $<HTMLInputElement>('files').onchange = (e) => void action('model-error', () => loadPicked((e.target as HTMLInputElement).files));
  $<HTMLInputElement>('file-list').onchange = (e) => void action('model-error', () => loadPicked((e.target as HTMLInputElement).files));
  $('run-importance').onclick = () => void action('importance-error', runImportance);
  $('run-mask').onclick = () => void action('mask-error', runMask);
  $<HTMLSelectElement>('mask-source').onchange = () => void action('mask-error', runMask);
  $('run-ft').onclick = () => void action('ft-error', runFinetune);
  if (params.get('model') !== 'none') await action('model-error', loadBase);
  if (params.has('auto')) {
    await action('importance-error', runImportance);
    if (params.get('auto') === 'all' && importance !== null) await action('ft-error', runFinetune);
  }
}

void start();
