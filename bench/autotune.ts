// Matmul tile autotune on the default WebGPU adapter: times every candidate tile configuration of the
// kernel family this adapter runs (all bit-identical to the default tiles) on the transformer shapes, prints
// the table and the choice, and caches the choice for this adapter (webgpu() applies it from then on,
// unless DAS_AUTOTUNE=off).
// Run: XDG_RUNTIME_DIR=/tmp npx vite-node bench/autotune.ts [--reps=N] [--dry-run]
//   --reps=N    timed repeats per candidate and shape after one warm-up (default 5); the median counts
//   --dry-run   measure and print, write nothing
import { matmulCachePath, saveMatmulTiles } from '../src/backend/webgpu/autotune.js';
import type { MatmulTiles } from '../src/backend/kernel-options.js';
import { tuneMatmul } from '../src/ops/autotune.js';
import { closeWebgpu, webgpu } from '../src/index.js';

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
const dryRun = process.argv.includes('--dry-run');
const reps = arg('reps') === undefined ? 5 : Number(arg('reps'));
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${arg('reps')}`);

const gpu = await webgpu();
if (gpu === null) throw new Error('no WebGPU adapter');
const info = gpu.opened.info;
console.log(`adapter: ${[info.vendor, info.architecture, info.description].filter((s) => s).join(' / ')} (${info.backend})`);

const r = await tuneMatmul(gpu, { reps, log: (l) => console.log(`  ${l}`) });
// wgx×wgy threads : tm4×tn4 vec4s per thread [: bk], as bench/matmul.ts writes configs
const label = (t: MatmulTiles) => `${t.wgx}x${t.wgy}:${t.tm4}x${t.tn4}${r.kernel === 'shared' ? `:${t.bk}` : ''}`;
const shape = ([M, K, N]: readonly number[]) => `${M}×${K}·${K}×${N}`;
const w = Math.max(...r.table.map((x) => label(x.tiles).length)) + 4, cols = r.shapes.map((s) => shape(s).length + 2);
console.log(`\n${r.kernel} kernel, median ms of ${reps} (after a warm-up)`);
console.log('tiles'.padEnd(w) + r.shapes.map((s, i) => shape(s).padStart(cols[i])).join('') + 'sum'.padStart(10));
for (const [i, row] of r.table.entries()) {
  const mark = (i === 0 ? ' d' : '') + (row.tiles === r.chosen ? ' *' : '');
  console.log((label(row.tiles) + mark).padEnd(w) + row.ms.map((ms, j) => ms.toFixed(1).padStart(cols[j])).join('') + row.score.toFixed(1).padStart(10));
}
const gain = ((r.defaultMs / r.chosenMs - 1) * 100).toFixed(1);
console.log(`\nd = default, * = chosen (the default unless another is > 2% faster): ${r.kernel} ${label(r.chosen)} ${JSON.stringify(r.chosen)} (${r.chosenMs.toFixed(1)} ms against ${r.defaultMs.toFixed(1)}, ${gain}% faster)`);
if (dryRun) console.log(`dry run: nothing written (the cache is ${matmulCachePath() ?? 'unavailable'})`);
else console.log(`cached for this adapter in ${saveMatmulTiles(gpu, r)}`);
closeWebgpu();
