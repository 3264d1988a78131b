// Hugging Face RoBERTa checkpoints: config.json + model.safetensors under Hugging Face parameter names.
// The only module that knows those names. Loading validates every tensor (missing, extra, shape). Over
// bytes (runs in a browser too); hf-roberta.ts reads and writes checkpoint directories for paths.
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import { type RobertaConfig, configToJson, parseConfig } from '../nn/config.js';
import { type Params, adaptersOf } from '../nn/params.js';
import { fromArray, read, type Tensor } from '../tensor/tensor.js';
import { treeLeavesWithPaths } from '../tensor/tree.js';
import { IoError } from './io-error.js';
import { type HostArray as StArray, parseSafetensors } from './safetensors-codec.js';

type Spec = [hf: string, shape: number[]];

/**
 * Optional parts of a checkpoint beyond Hugging Face's RoBERTa (docs/adapters.md): Houlsby adapters with
 * `adapterUnits` bottleneck units on every layer, and a soft prompt of `promptLength` rows.
 */
export interface HfExtras {
  adapterUnits?: number; promptLength?: number;
  /** Params.extra's tensors by name, with their shapes (saved as `das.extra.<name>`). */
  extra?: Readonly<Record<string, readonly number[]>>;
}

/** Hugging Face-style names of the adapters of layer l: `attention` after the attention sub-layer, `output` after the FFN. */
const adapterPrefix = (l: number, k: 'attn' | 'ffn') => `roberta.encoder.layer.${l}.adapter.${k === 'attn' ? 'attention' : 'output'}`;
export const PROMPT_NAME = 'roberta.prompt.embeddings';
const ADAPTER_NAME = /^roberta\.encoder\.layer\.\d+\.adapter\.(attention|output)\.(down|up)\.(weight|bias)$/;
/** A method's own tensors (Params.extra): `das.extra.<name>`, the name of letters, digits, _ and -. */
const EXTRA_PREFIX = 'das.extra.';
const EXTRA_KEY = /^[A-Za-z0-9_-]+$/;

/** Every (our path, Hugging Face name, shape) of a parameter tree with the given heads (and extras). */
export function hfNames(cfg: RobertaConfig, heads: { mlm: boolean; classes?: number }, extras: HfExtras = {}): Map<string, Spec> {
  const D = cfg.width, F = cfg.intermediate;
  const m = new Map<string, Spec>();
  const lin = (path: string, hf: string, out: number, inp: number) => {
    m.set(`${path}.weight`, [`${hf}.weight`, [out, inp]]);
    m.set(`${path}.bias`, [`${hf}.bias`, [out]]);
  };
  const ln = (path: string, hf: string) => { m.set(`${path}.weight`, [`${hf}.weight`, [D]]); m.set(`${path}.bias`, [`${hf}.bias`, [D]]); };
  m.set('embeddings.word', ['roberta.embeddings.word_embeddings.weight', [cfg.vocabSize, D]]);
  m.set('embeddings.position', ['roberta.embeddings.position_embeddings.weight', [cfg.maxPositions, D]]);
  m.set('embeddings.tokenType', ['roberta.embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, D]]);
  ln('embeddings.norm', 'roberta.embeddings.LayerNorm');
  for (let l = 0; l < cfg.layers; l++) {
    const p = `layers[${l}]`, h = `roberta.encoder.layer.${l}`;
    lin(`${p}.query`, `${h}.attention.self.query`, D, D);
    lin(`${p}.key`, `${h}.attention.self.key`, D, D);
    lin(`${p}.value`, `${h}.attention.self.value`, D, D);
    lin(`${p}.attnOut`, `${h}.attention.output.dense`, D, D);
    ln(`${p}.attnNorm`, `${h}.attention.output.LayerNorm`);
    lin(`${p}.ffnIn`, `${h}.intermediate.dense`, F, D);
    lin(`${p}.ffnOut`, `${h}.output.dense`, D, F);
    ln(`${p}.ffnNorm`, `${h}.output.LayerNorm`);
    if (extras.adapterUnits !== undefined) {
      const r = extras.adapterUnits;
      for (const k of ['attn', 'ffn'] as const) {
        lin(`${p}.adapter.${k}.down`, `${adapterPrefix(l, k)}.down`, r, D);
        lin(`${p}.adapter.${k}.up`, `${adapterPrefix(l, k)}.up`, D, r);
      }
    }
  }
  if (heads.mlm) {
    lin('lmHead.dense', 'lm_head.dense', D, D);
    ln('lmHead.norm', 'lm_head.layer_norm');
    m.set('lmHead.bias', ['lm_head.bias', [cfg.vocabSize]]);
  }
  if (heads.classes !== undefined) {
    lin('classifier.dense', 'classifier.dense', D, D);
    lin('classifier.out', 'classifier.out_proj', heads.classes, D);
  }
  if (extras.promptLength !== undefined) m.set('prompt', [PROMPT_NAME, [extras.promptLength, D]]);
  for (const [name, shape] of Object.entries(extras.extra ?? {})) {
    if (!EXTRA_KEY.test(name)) throw new Error(`extra parameter '${name}': names are letters, digits, _ and -`);
    m.set(`extra.${name}`, [`${EXTRA_PREFIX}${name}`, [...shape]]);
  }
  return m;
}

/** Names a checkpoint may carry that we do not use (tied copies, buffers, the unused pooler). */
const IGNORED = /^(lm_head\.decoder\.(weight|bias)|roberta\.embeddings\.position_ids|roberta\.pooler\.dense\.(weight|bias))$/;

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Host tensors under Hugging Face names → a parameter tree on `backend`. */
export function paramsFromHf(cfg: RobertaConfig, tensors: ReadonlyMap<string, StArray>, backend: Backend, file = 'model.safetensors'): E.Either<IoError, Params> {
  const mlm = tensors.has('lm_head.bias') || tensors.has('lm_head.dense.weight');
  const cls = tensors.get('classifier.out_proj.weight');
  // The extras' sizes come from their tensors (r from an adapter's down.weight [r, D] or up.weight [D, r],
  // n from the prompt [n, D]); every other dimension, and every layer's presence, is checked below.
  const adapterTensors = [...tensors].filter(([name]) => ADAPTER_NAME.test(name));
  const sized = adapterTensors.find(([name, t]) => /\.down\.weight$/.test(name) && t.shape.length === 2) ?? adapterTensors.find(([name, t]) => /\.up\.weight$/.test(name) && t.shape.length === 2);
  const adapterUnits = adapterTensors.length === 0 ? undefined : sized === undefined ? 0 : /\.down\./.test(sized[0]) ? sized[1].shape[0] : sized[1].shape[1];
  const prompt = tensors.get(PROMPT_NAME);
  const extraTensors = [...tensors].filter(([name]) => name.startsWith(EXTRA_PREFIX));
  const badExtra = extraTensors.find(([name]) => !EXTRA_KEY.test(name.slice(EXTRA_PREFIX.length)));
  if (badExtra !== undefined) return E.left(new IoError('unexpected tensor (an extra parameter is named das.extra.<letters, digits, _ and ->)', { file, tensor: badExtra[0] }));
  const extra = extraTensors.length === 0 ? undefined : Object.fromEntries(extraTensors.map(([name, t]) => [name.slice(EXTRA_PREFIX.length), t.shape]));
  const names = hfNames(cfg, { mlm, classes: cls?.shape[0] }, { adapterUnits, promptLength: prompt?.shape[0], extra });
  const known = new Set([...names.values()].map(([hf]) => hf));
  for (const name of tensors.keys()) {
    if (!known.has(name) && !IGNORED.test(name)) return E.left(new IoError(`unexpected tensor (not part of a RoBERTa with this config)`, { file, tensor: name }));
  }
  const tree: Record<string, unknown> = {};
  const made: Tensor[] = [];
  for (const [path, [hf, shape]] of names) {
    const t = tensors.get(hf);
    if (t === undefined) {
      made.forEach((x) => x.dispose());
      const why = ADAPTER_NAME.test(hf) ? '; the checkpoint has adapters, which every layer needs in full' : '';
      return E.left(new IoError(`missing tensor (expected shape [${shape.join(', ')}]${why})`, { file, tensor: hf }));
    }
    if (!sameShape(t.shape, shape)) { made.forEach((x) => x.dispose()); return E.left(new IoError(`shape [${t.shape.join(', ')}] does not match the config's [${shape.join(', ')}]`, { file, tensor: hf })); }
    if (t.dtype === 'i32' || t.dtype === 'i64') { made.forEach((x) => x.dispose()); return E.left(new IoError(`integer dtype ${t.dtype} for a float parameter`, { file, tensor: hf })); }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) { made.forEach((x) => x.dispose()); return E.left(new IoError(`non-finite value ${t.data[i]} at element ${i}`, { file, tensor: hf })); }
    }
    const x = fromArray(t.data, shape, { backend });
    made.push(x);
    setPath(tree, path, x);
  }
  const params = tree as unknown as Params;
  params.layers = Array.from({ length: cfg.layers }, (_, l) => (tree as { layers: Record<number, Params['layers'][number]> }).layers[l]);
  return E.right(params);
}

function setPath(tree: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node = tree;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts[parts.length - 1]] = value;
}

/** A parameter tree → host tensors under Hugging Face names (f32). */
export async function paramsToHf(cfg: RobertaConfig, params: Params): Promise<Map<string, StArray>> {
  const names = hfNames(cfg, { mlm: params.lmHead !== undefined, classes: params.classifier?.out.weight.shape[0] }, extrasOf(params));
  const out = new Map<string, StArray>();
  for (const [path, t] of treeLeavesWithPaths(params)) {
    if (path === 'prompt' && t.size === 0) continue; // an empty prompt is no prompt
    const spec = names.get(path);
    if (spec === undefined) throw new Error(`paramsToHf: parameter ${path} has no Hugging Face name`);
    if ((path === 'prompt' || path.includes('.adapter.')) && !sameShape(t.shape, spec[1])) {
      throw new Error(`paramsToHf: ${path} is [${t.shape.join(', ')}], expected [${spec[1].join(', ')}] (all adapters share one width)`);
    }
    const data = await read(t);
    out.set(spec[0], { dtype: 'f32', shape: [...t.shape], data: Float32Array.from(data) });
  }
  return out;
}

/** The adapter units and prompt length of a parameter tree (each absent when the part is). */
export function extrasOf(params: Params): HfExtras {
  const a = adaptersOf(params);
  const n = params.prompt?.shape[0];
  const extra = params.extra !== undefined && Object.keys(params.extra).length > 0 ? { extra: Object.fromEntries(Object.entries(params.extra).map(([k, t]) => [k, t.shape])) } : {};
  return { ...(a !== undefined ? { adapterUnits: a[0].attn.down.weight.shape[0] } : {}), ...(n !== undefined && n > 0 ? { promptLength: n } : {}), ...extra };
}

/**
 * config.json of a checkpoint: the config, and the head Hugging Face builds from `architectures` and
 * `num_labels`. With adapters or a soft prompt, two informative keys (`das_adapter_units`,
 * `das_prompt_length`): we read the sizes from the tensors themselves. A plain reader ignores them:
 * transformers keeps unknown config keys as unused attributes, and reports the adapter and prompt
 * tensors as unused weights when it loads the checkpoint as a plain RoBERTa.
 */
export function checkpointConfigJson(cfg: RobertaConfig, params: Params): string {
  const classes = params.classifier?.out.weight.shape[0];
  // Hugging Face picks the head class from `architectures` and sizes the classifier from num_labels.
  const head = classes !== undefined && params.lmHead === undefined
    ? { architectures: ['RobertaForSequenceClassification'], num_labels: classes }
    : { architectures: ['RobertaForMaskedLM'], ...(classes !== undefined ? { num_labels: classes } : {}) };
  const x = extrasOf(params);
  const extras = { ...(x.adapterUnits !== undefined ? { das_adapter_units: x.adapterUnits } : {}), ...(x.promptLength !== undefined ? { das_prompt_length: x.promptLength } : {}) };
  return `${JSON.stringify({ ...configToJson(cfg), ...head, ...extras }, null, 2)}\n`;
}

export interface Checkpoint { cfg: RobertaConfig; params: Params; metadata: Record<string, string> }

/** Where the two files of a checkpoint came from, for error messages. */
export interface CheckpointFiles { config: string; model: string }

/** config.json's bytes → the config; a problem is a Left naming `file` and the field. */
export function parseCheckpointConfig(configBytes: Uint8Array | string, file = 'config.json'): E.Either<IoError, RobertaConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof configBytes === 'string' ? configBytes : new TextDecoder().decode(configBytes));
  } catch (e) {
    return E.left(new IoError(`cannot read config: ${(e as Error).message}`, { file }));
  }
  const cfg = parseConfig(raw);
  return E.isLeft(cfg) ? E.left(new IoError(cfg.left.problem, { file, field: cfg.left.field })) : cfg;
}

/** model.safetensors' bytes → the checkpoint of `cfg` on `backend`; a problem is a Left naming `file` and the tensor. */
export function checkpointFromModel(cfg: RobertaConfig, modelBytes: Uint8Array, backend: Backend, file = 'model.safetensors'): E.Either<IoError, Checkpoint> {
  const st = parseSafetensors(modelBytes, file);
  if (E.isLeft(st)) return st;
  const params = paramsFromHf(cfg, st.right.tensors, backend, file);
  if (E.isLeft(params)) return params;
  return E.right({ cfg, params: params.right, metadata: st.right.metadata });
}

/**
 * A checkpoint from the bytes of its config.json and model.safetensors (e.g. files a page was given);
 * every problem is a Left naming the file and tensor or field, as for a directory.
 */
export function parseCheckpoint(configBytes: Uint8Array | string, modelBytes: Uint8Array, backend: Backend, files: CheckpointFiles = { config: 'config.json', model: 'model.safetensors' }): E.Either<IoError, Checkpoint> {
  const cfg = parseCheckpointConfig(configBytes, files.config);
  return E.isLeft(cfg) ? cfg : checkpointFromModel(cfg.right, modelBytes, backend, files.model);
}
