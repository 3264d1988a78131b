// matmul GFLOP/s on the default WebGPU adapter, per kernel family and tile shape.
// Run: npx vite-node bench/matmul.ts [--quick] [--configs=registers,shared:16x16:1x1:16,...] [--flags]
// A config is kernel[:WGXxWGY:TM4xTN4[:BK]] (threads per workgroup, per-thread block in vec4s, k-slice);
// kernel is registers, subgroups or shared. The 'scalar' row is the any-layout fallback (1023³).
// Each case: one warm-up per config, then `reps` rounds timing every config once (interleaved), each run
// forced to completion with backend.sync(). Reports the median and best wall-clock rate, and the rate per
// CPU-second ×2 ("cpu"), which on a CPU adapter such as lavapipe stays steady when the machine is shared.
import {
  type MatmulTiles, type Tensor, closeWebgpu, fromArray, matmul, matmulVariantFor, webgpu,
} from '../src/index.js';

const gpu = await webgpu();
if (gpu === null) throw new Error('no WebGPU adapter');
const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}`))?.split('=')[1] ?? (process.argv.includes(`--${k}`) ? '' : undefined);
const quick = arg('quick') !== undefined;
const reps = quick ? 5 : 7;

type Family = 'registers' | 'subgroups' | 'shared';
interface Config { label: string; kernel: Family; tiles: Partial<MatmulTiles> }
function parse(s: string): Config {
  const [kernel, wg, blk, bk] = s.split(':');
  if (kernel !== 'registers' && kernel !== 'subgroups' && kernel !== 'shared') throw new Error(`bad config ${s}`);
  const tiles: Partial<MatmulTiles> = {};
  if (wg) [tiles.wgx, tiles.wgy] = wg.split('x').map(Number);
  if (blk) [tiles.tm4, tiles.tn4] = blk.split('x').map(Number);
  if (bk) tiles.bk = Number(bk);
  return { label: s, kernel, tiles };
}
const defaults = 'subgroups,subgroups:8x8:2x1,registers,registers:8x8:1x1,registers:8x8:1x2,registers:8x8:2x2,shared,shared:8x8:2x2:16,shared:16x16:2x2:8';
const configs = (arg('configs') || defaults).split(',').map(parse).filter((c) => {
  gpu.setKernelOptions({ matmul: { variant: c.kernel } });
  const ok = matmulVariantFor(gpu) === c.kernel;
  if (!ok) console.log(`skipping ${c.label}: this device runs ${matmulVariantFor(gpu)} instead`);
  return ok;
});

// [M, K, N, transA, transB]; the transformer rows are x·W for x [1024, d] (1024 tokens).
type Case = [number, number, number, boolean, boolean];
const cases: Case[] = quick
  ? [[512, 512, 512, false, false], [1024, 1024, 1024, false, false]]
  : [[128, 128, 128, false, false], [256, 256, 256, false, false], [512, 512, 512, false, false], [1024, 1024, 1024, false, false],
     [1024, 128, 512, false, false], [1024, 512, 128, false, false], [1024, 128, 2000, false, false]];
if (arg('flags') !== undefined) for (const [ta, tb] of [[false, true], [true, false], [true, true]]) cases.push([512, 512, 512, ta, tb], [1024, 128, 512, ta, tb]);

const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const caseName = ([M, K, N, ta, tb]: Case) => `[${M}×${K}]${ta ? 'ᵀ' : ''}·[${K}×${N}]${tb ? 'ᵀ' : ''}`;

interface Row { config: string; shape: string; medianGflops: number; bestGflops: number; cpuGflops: number; medianMs: number }
const rows: Row[] = [];
/** Runs c on the case once (forced to completion); returns [wall ms, process CPU ms]. */
async function once(c: Config, a: Tensor, b: Tensor, transA: boolean, transB: boolean): Promise<[number, number]> {
  const prev = gpu!.setKernelOptions({ matmul: { variant: c.kernel, tiles: { [c.kernel]: c.tiles } } });
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const y = matmul(a, b, { transA, transB });
  await gpu!.sync();
  const ms = performance.now() - t0;
  const u = process.cpuUsage(u0);
  y.dispose();
  gpu!.setKernelOptions(prev);
  return [ms, (u.user + u.system) / 1000];
}
for (const cs of cases) {
  const [M, K, N, ta, tb] = cs;
  const a = fromArray(rand(M * K), ta ? [K, M] : [M, K], { backend: gpu });
  const b = fromArray(rand(K * N), tb ? [N, K] : [K, N], { backend: gpu });
  const wall = configs.map(() => [] as number[]), cpuMs = configs.map(() => [] as number[]);
  for (const c of configs) await once(c, a, b, ta, tb);
  // Configs interleaved within each repeat, so load from other processes hits them alike.
  for (let r = 0; r < reps; r++) {
    for (const [i, c] of configs.entries()) { const [w, u] = await once(c, a, b, ta, tb); wall[i].push(w); cpuMs[i].push(u); }
  }
  const gf = (ms: number) => Math.round((2 * M * N * K) / ms / 1e4) / 100;
  configs.forEach((c, i) => {
    wall[i].sort((x, y) => x - y);
    cpuMs[i].sort((x, y) => x - y);
    const med = wall[i][reps >> 1];
    rows.push({ config: c.label, shape: caseName(cs), medianGflops: gf(med), bestGflops: gf(wall[i][0]), cpuGflops: gf(cpuMs[i][reps >> 1] / 2), medianMs: Math.round(med * 100) / 100 });
  });
  a.dispose();
  b.dispose();
}
if (!quick) {
  // Unaligned shapes take matmul-scalar.wgsl whatever the family.
  const n = 1023;
  const a = fromArray(rand(n * n), [n, n], { backend: gpu }), b = fromArray(rand(n * n), [n, n], { backend: gpu });
  const ms: number[] = [];
  for (let r = 0; r <= reps; r++) { const t0 = performance.now(); matmul(a, b).dispose(); await gpu.sync(); ms.push(performance.now() - t0); }
  const med = ms.slice(1).sort((x, y) => x - y)[reps >> 1];
  rows.push({ config: 'scalar', shape: `[${n}×${n}]·[${n}×${n}]`, medianGflops: Math.round((2 * n ** 3) / med / 1e4) / 100, bestGflops: NaN, cpuGflops: NaN, medianMs: Math.round(med * 100) / 100 });
  configs.push({ label: 'scalar', kernel: 'registers', tiles: {} });
}

const info = gpu.opened.info;
console.log(JSON.stringify({ adapter: `${info.vendor} / ${info.architecture} / ${info.description}`, reps, rows }));
console.log(`\nGFLOP/s median (best, cpu) on ${info.description || info.vendor}`);
const shapes = [...new Set(rows.map((r) => r.shape))];
const w = Math.max(...configs.map((c) => c.label.length)) + 2;
console.log(''.padEnd(w) + shapes.map((s) => s.padStart(26)).join(''));
for (const c of configs) {
  const cells = shapes.map((s) => {
    const r = rows.find((x) => x.config === c.label && x.shape === s);
    return (r ? `${r.medianGflops.toFixed(2)} (${r.bestGflops.toFixed(1)}, ${r.cpuGflops.toFixed(1)})` : '–').padStart(26);
  });
  console.log(c.label.padEnd(w) + cells.join(''));
}
closeWebgpu();
