// Where the per-op cost goes: 100 chained small adds (256 elements, as the bench's per-op case) recorded
// and read back, n times; prints the whole cost per op and the part of it that is our JavaScript (the time
// to record the 100 ops, before the read). The rest is the driver's cost per dispatch and the wait.
// Usage: XDG_RUNTIME_DIR=/tmp npx vite-node bench/per-op.ts [-- --reps=N]
import { add, fromArray, read, release, setDefaultBackend, tidy, webgpu } from '../src/index.js';

const reps = Number(process.argv.find((a) => a.startsWith('--reps='))?.split('=')[1] ?? 100);
const g = await webgpu();
if (g === null) throw new Error('no WebGPU adapter');
setDefaultBackend(g);
const x = fromArray(new Float32Array(256).fill(1), [256]);
const k = fromArray(new Float32Array(256).fill(0.5), [256]);
const run = async (n: number) => {
  let jsMs = 0;
  const t0 = performance.now();
  for (let r = 0; r < n; r++) {
    const t1 = performance.now();
    const y = tidy(() => { let y = x; for (let i = 0; i < 100; i++) y = add(y, k); return y; });
    jsMs += performance.now() - t1;
    await read(y);
    release(y);
  }
  return { perOpUs: +(((performance.now() - t0) / n / 100) * 1000).toFixed(1), jsPerOpUs: +((jsMs / n / 100) * 1000).toFixed(1) };
};
await run(20); // warm-up: pipelines, bind groups
console.log(JSON.stringify({ reps, ...(await run(reps)) }));
process.exit(0);
