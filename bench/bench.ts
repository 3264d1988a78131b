// runBench: ours and the anchors over the cases of one size, the cold first steps in fresh processes, the DAS
// figures; writes <out>/<machine>-<date>.json and .md. Used by run.ts (npm run bench, das bench) and the smoke test.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeWebgpu } from '../src/index.js';
import { FULL_MODEL, type Size, TINY_MODEL, cases } from './cases.js';
import { type CaseResult, TIMINGS, measureCase } from './harness.js';
import { dasFigures } from './impl/das.js';
import { Ours } from './impl/ours.js';
import { machinePeak } from './peak.js';
import { type Impl, why } from './impl/types.js';
import { type ColdResult, type ImplInfo, type Report, markdown } from './report.js';

export const ANCHORS = ['tfjs-webgpu', 'jaxjs-webgpu', 'tfjs-wasm', 'jaxjs-wasm', 'torch-cpu', 'torch-cuda'] as const;
export type AnchorId = (typeof ANCHORS)[number];

export interface BenchOptions {
  size: Size;
  anchors: AnchorId[];
  /** Case ids to run (all when absent). */
  only?: RegExp;
  cold: boolean;
  das: boolean;
  out: string;
  machine?: string;
  python: string;
  torchThreads: number;
  log: (s: string) => void;
}

async function makeAnchor(id: AnchorId, o: BenchOptions): Promise<Impl> {
  switch (id) {
    case 'tfjs-webgpu': case 'tfjs-wasm': return new (await import('./impl/tfjs.js')).Tfjs(id === 'tfjs-webgpu' ? 'webgpu' : 'wasm');
    case 'jaxjs-webgpu': case 'jaxjs-wasm': return new (await import('./impl/jax.js')).JaxJs(id === 'jaxjs-webgpu' ? 'webgpu' : 'wasm');
    case 'torch-cpu': case 'torch-cuda': return new (await import('./impl/torch.js')).Torch(id === 'torch-cpu' ? 'cpu' : 'cuda', o.python, o.torchThreads);
  }
}

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** The first training step of `impl` in a fresh process with the driver's shader caches off. */
export function coldStep(impl: string, size: Size, timeoutMs: number): Promise<ColdResult> {
  const require = createRequire(import.meta.url);
  const viteNode = join(require.resolve('vite-node/package.json'), '..', 'vite-node.mjs');
  const cacheDir = mkdtempSync(join(os.tmpdir(), 'das-bench-cold-'));
  const env = { ...process.env, MESA_SHADER_CACHE_DISABLE: 'true', MESA_SHADER_CACHE_DIR: cacheDir, __GL_SHADER_DISK_CACHE: '0', __GL_SHADER_DISK_CACHE_PATH: cacheDir };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [viteNode, join(HERE, 'cold.ts'), `--impl=${impl}`, `--size=${size}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, sig) => {
      clearTimeout(timer);
      rmSync(cacheDir, { recursive: true, force: true });
      const line = out.split('\n').find((l) => l.startsWith('COLD '));
      if (line) resolve(JSON.parse(line.slice(5)) as ColdResult);
      else resolve({ error: sig === 'SIGKILL' ? `no first step within ${timeoutMs / 1000} s` : `exit ${code}: ${err.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` });
    });
  });
}

function machine(): Record<string, unknown> {
  const c = os.cpus();
  return {
    hostname: os.hostname(), cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version, loadavg: os.loadavg(),
  };
}

function machineSlug(adapter: { description?: string; vendor?: string }): string {
  const d = `${adapter.description ?? ''} ${adapter.vendor ?? ''}`;
  if (/llvmpipe|lavapipe/i.test(d)) return `lavapipe-${os.cpus().length}cpu`;
  const gpu = /\b([HABLV]\d{2,3}[a-z]?|RTX ?\d{4}|MI\d{3})\b/i.exec(d);
  return (gpu ? gpu[1] : d.trim() || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export async function runBench(o: BenchOptions): Promise<{ report: Report; json: string; md: string }> {
  const t0 = performance.now();
  const ours = new Ours();
  const impls: Impl[] = [], info: ImplInfo[] = [];
  const ourDesc = await ours.init(); // throws without an adapter: nothing to compare
  impls.push(ours);
  info.push({ id: ours.id, label: ours.label, status: 'ok', description: ourDesc });
  for (const id of o.anchors) {
    let impl: Impl | undefined;
    try {
      impl = await makeAnchor(id, o);
      const d = await impl.init();
      impls.push(impl);
      info.push({ id, label: impl.label, status: 'ok', description: d });
      o.log(`anchor ${id}: ${d}`);
    } catch (e) {
      info.push({ id, label: impl?.label ?? id, status: 'unavailable', description: why(e) });
      o.log(`anchor ${id}: unavailable — ${why(e)}`);
      try { await impl?.close(); } catch { /* never opened */ }
    }
  }
  const a = ours.gpu.opened.info;
  const report: Report = {
    schema: 'das-webgpu-bench/1', date: new Date().toISOString(), size: o.size, machine: machine(),
    adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, backend: a.backend },
    impls: info, cases: [], cold: {}, das: { status: 'skipped', note: 'not run (--no-das)' }, notes: [], wallSeconds: 0,
  };
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `${o.machine ?? machineSlug(a)}-${report.date.slice(0, 10)}${o.size === 'full' ? '' : `-${o.size}`}`);
  // Written after every case as well, so a run cut short still leaves its figures.
  const save = () => { report.wallSeconds = (performance.now() - t0) / 1000; writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 1)}\n`); };
  // The machine's limits first, on a quiet machine (a few seconds): FMA peak and copy bandwidth.
  report.peak = await machinePeak({ threads: os.cpus().length, seconds: o.size === 'tiny' ? 0.05 : 0.5, log: o.log });
  o.log(`machine limits: ${JSON.stringify(report.peak)}`);
  const timing = TIMINGS[o.size];
  for (const spec of cases(o.size)) {
    if (o.only && !o.only.test(spec.id)) continue;
    const res: CaseResult = await measureCase(spec, impls, timing, o.log);
    report.cases.push(res);
    save();
  }
  if (o.das) {
    try { report.das = await dasFigures(ours.gpu, o.size === 'tiny' ? TINY_MODEL : FULL_MODEL, timing.maxReps, impls.filter((i) => i.id.startsWith('torch-'))); } catch (e) { report.das = { status: 'error', note: why(e) }; }
    o.log(`DAS: ${report.das.status} — ${report.das.note}${report.das.ratio ? ` (ratio ${report.das.ratio.toFixed(2)})` : ''}`);
  }
  for (const i of impls) { try { await i.close(); } catch { /* best effort */ } }
  if (o.cold) {
    // Fresh processes, after the main run so they do not share the machine with it.
    const webgpuImpls = ['ours', ...impls.map((i) => i.id).filter((id) => id.endsWith('-webgpu'))];
    for (const id of webgpuImpls) {
      report.cold[id] = await coldStep(id, o.size, o.size === 'tiny' ? 60_000 : 240_000);
      o.log(`cold first step ${id}: ${JSON.stringify(report.cold[id])}`);
      save();
    }
  }
  report.notes.push(
    'Step: dropout off in every implementation (ours: mlmTrainStep with no dropout key); Adam(W) without weight decay, ε 1e-6, lr 1e-4; the MLM head runs on the labelled positions only (gather), as in ours.',
    'Layer norm fwd+bwd counts 5 passes over [R×C] (x, y; x, dy, dx); AdamW counts 7 (p, g, m, v read; p, m, v written); softmax and GELU 2; cross-entropy 1.',
    'jax-js: every composite under jit (fusion); the chain of small ops eagerly; in the step the three gathers and the label pick are one-hot matmuls/products, as in tfjs-wasm (jax-js 0.1.25 cannot jit the scatter in the gradient of take(); tfjs-wasm has no UnsortedSegmentSum kernel; about +1 GFLOP per step at full size). tfjs: composites as tfjs ops (no fused layer norm, GELU or AdamW there).',
  );
  (report.machine as Record<string, unknown>).loadavgEnd = os.loadavg();
  save();
  const json = `${JSON.stringify(report, null, 1)}\n`, md = markdown(report);
  writeFileSync(`${base}.md`, md);
  o.log(`wrote ${base}.json and ${base}.md`);
  closeWebgpu();
  return { report, json, md };
}
