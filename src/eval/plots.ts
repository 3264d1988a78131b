// Plots of a `das run` output directory as standalone SVG files in <out>/plots/: post-training loss
// curves, DAS unit importance heatmaps (first seed), each method's progressive matrices (one colour
// scale for all methods, with the forgetting view A[t][k] − A[k][k]) and, with --held-out, the
// held-out MLM loss per domain after each domain. Reads results.json and, for every method and seed
// it names, the post-training logs and importance sets; a missing log or set is left out of its
// plot, never an error. Titles name the experiment (results.json "experiment": the run directory's
// name), not a file.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { cpu, cpuRead } from '../backend/cpu.js';
import { E } from '../fp.js';
import { writeFileAtomic } from '../io/atomic.js';
import { IoError } from '../io/io-error.js';
import { readBytes } from '../io/files.js';
import { release } from '../tensor/scope.js';
import { fromArray } from '../tensor/tensor.js';
import { readImportance } from '../das-files/importance-dirs.js';
import type { NpyArray } from '../io/npy.js';
import { normalizeImportance } from '../das/importance.js';
import { type ImportancePlotInput, importanceSvg } from './plots/importance-plot.js';
import { heldOutSvg } from './plots/heldout-plot.js';
import { type LossPoint, lossSvg } from './plots/loss-plot.js';
import { changeLimit, forgettingMatrix, matrixSvg, sharedRange } from './plots/matrix-plot.js';
import { GENERAL } from './mlm-eval.js';
import { type RunResults, seedDir } from './report.js';

export { heldOutSvg, importanceSvg, lossSvg, matrixSvg };

const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The records of a post-training log.jsonl; null when the file is missing. Unparsable lines are skipped. */
export async function readLossLog(path: string): Promise<LossPoint[] | null> {
  const textOrNull = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
  if (textOrNull === null) return null;
  return textOrNull.split('\n').flatMap((line, i) => {
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      return typeof r === 'object' && r !== null ? [{ step: finiteOrNull(r.step) ?? i + 1, loss: finiteOrNull(r.loss), mlm: finiteOrNull(r.mlm) }] : [];
    } catch {
      return [];
    }
  });
}

async function readResults(out: string): Promise<RunResults> {
  const file = join(out, 'results.json');
  const bytes = await readBytes(file);
  if (E.isLeft(bytes)) throw bytes.left;
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes.right)) as RunResults;
    if (!Array.isArray(r.domains) || !Array.isArray(r.methods)) throw new Error('expected "domains" and "methods" arrays');
    return r;
  } catch (e) {
    throw new IoError(`malformed results (${(e as Error).message})`, { file });
  }
}

const seedsOf = (r: RunResults, m: RunResults['methods'][number]): number[] => m.seeds ?? r.seeds;
const domainDir = (out: string, method: string, seed: number, r: RunResults, t: number) => join(seedDir(out, method, seed), `${t}-${r.domains[t]}`);

/** Per-layer normalisation (docs/method.md §4.5), computed by the DAS code itself on the CPU backend. */
function normalised(a: NpyArray): Float32Array {
  const x = fromArray(a.data, a.shape, { backend: cpu() }), y = normalizeImportance(x);
  const values = Float32Array.from(cpuRead(y));
  release(x, y);
  return values;
}

/** DAS importance sets of its first seed, normalised per layer; null without any. */
async function importanceInput(out: string, r: RunResults, name: string): Promise<ImportancePlotInput | null> {
  const das = r.methods.find((m) => m.method === 'das');
  const seed = das && seedsOf(r, das)[0];
  if (das === undefined || seed === undefined) return null;
  const sources = [{ label: 'KL proxy: base model, before the first domain', dir: join(seedDir(out, 'das', seed), 'kl-importance') },
    ...r.domains.map((d, t) => ({ label: `MLM of ${d}: model after post-training ${d}`, dir: join(domainDir(out, 'das', seed, r, t), 'importance') }))];
  const panels = [];
  for (const s of sources) {
    const set = await readImportance(s.dir);
    if (E.isLeft(set)) continue;
    const block = (name: string, a: NpyArray) => ({ name, rows: a.shape[0], cols: a.shape[1], data: set.right.meta.normalized ? a.data : normalised(a) });
    const { head, intermediate, output } = set.right.set;
    panels.push({ label: s.label, blocks: [block('heads', head), block('FFN intermediate', intermediate), block('output', output)] });
  }
  if (panels.length === 0) return null;
  return {
    title: `DAS unit importance — ${name}, seed ${seed}`,
    subtitle: 'normalised per layer: |tanh((I − mean) / std)| of each set (docs/method.md §4.5); the soft mask of domain t is the element-wise max of the sets before it',
    panels, range: [0, 1],
  };
}

/** The experiment a plot title names: results.json's "experiment", else the run directory's name. */
export const experimentName = (out: string, r: RunResults): string => (typeof r.experiment === 'string' && r.experiment !== '' ? r.experiment : basename(resolve(out)));

const seedList = (seeds: readonly number[]) => `mean over seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}`;
const fileName = (method: string) => method.replace(/[^\w.-]/g, '_');

/** Writes loss.svg, importance.svg (DAS only), matrix-<method>.svg and heldout.svg (--held-out) under <out>/plots/; returns their paths. */
export async function writePlots(out: string): Promise<string[]> {
  const r = await readResults(out);
  const name = experimentName(out, r), sequence = r.domains.join(' → ');
  const dir = join(out, 'plots');
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const put = async (file: string, svg: string | null) => {
    if (svg === null) return;
    await writeFileAtomic(join(dir, file), svg);
    written.push(join(dir, file));
  };
  const methods = [];
  for (const m of r.methods) {
    const runs = [];
    for (const seed of seedsOf(r, m)) runs.push({ seed, domains: await Promise.all(r.domains.map(async (_, t) => (await readLossLog(join(domainDir(out, m.method, seed, r, t), 'log.jsonl'))) ?? [])) });
    methods.push({ method: m.method, runs });
  }
  await put('loss.svg', lossSvg({ title: `Post-training loss — ${name} (${sequence})`, domains: r.domains, methods }));
  const imp = await importanceInput(out, r, name);
  await put('importance.svg', imp && importanceSvg(imp));
  // one colour scale for every method's scores, one for every method's forgetting view
  const scores = r.methods.flatMap((m) => [m.acc, m.mf1]).filter(Array.isArray);
  const range = sharedRange(scores) ?? [0, 1], limit = changeLimit(scores.map(forgettingMatrix));
  for (const m of r.methods) {
    const panels = [{ label: 'Accuracy (%)', values: m.acc }, { label: 'Macro-F1 (%)', values: m.mf1 }].filter((p) => Array.isArray(p.values));
    const change = { limit, panels: panels.map((p) => ({ label: `${p.label.replace(' (%)', '')}: A[t][k] − A[k][k] (pp)`, values: forgettingMatrix(p.values) })) };
    const hasChange = sharedRange(change.panels.map((p) => p.values)) !== null;
    const subtitle = [`${sequence}; ${seedList(seedsOf(r, m))}; rows: model after post-training domain t, columns: end task k`,
      `colours: one scale for all methods of the run${hasChange ? '; lower row: change since the task\'s own domain (red: forgotten, blue: improved)' : ''}`];
    if (panels.length > 0) await put(`matrix-${fileName(m.method)}.svg`, matrixSvg({ title: `${m.method.toUpperCase()}: progressive matrix A[t][k] — ${name}`, subtitle, domains: r.domains, panels, range, change }));
  }
  const held = r.methods.flatMap((m, i) => (m.heldOut ? [{ method: m.method, loss: m.heldOut.loss, general: m.heldOut.general, colour: i }] : []));
  if (held.length > 0) {
    await put('heldout.svg', heldOutSvg({
      title: `Held-out MLM loss per domain — ${name}`,
      subtitle: `${seedList(r.seeds)}; lower is better; x: model after post-training each domain (shaded: before the domain is learned); the rise after it is MLM forgetting`,
      domains: r.domains, general: GENERAL, methods: held, base: r.baseHeldOut ?? null,
    }));
  }
  return written;
}
