// `das doctor`: describes the adapter and runs every kernel against the CPU reference on random
// inputs. Exits 1 with an explanation when WebGPU is missing or a kernel disagrees.
import { type Backend, cpu, fromArray, read, release, tidy, webgpu } from '../index.js';
import { kernelStems } from '../backend/webgpu/pipelines.js';
import { installHint } from '../backend/webgpu/device.js';
import { type DoctorCheck, doctorChecks } from './doctor-checks.js';
import { parseFlags, usage } from './args.js';


function values(n: number, seed: number, lo: number, hi: number, int?: number): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return int !== undefined ? s % int : lo + (s / 4294967296) * (hi - lo);
  });
}

async function runCheck(c: DoctorCheck, be: Backend, seed: number): Promise<Float32Array> {
  const xs = c.inputs.map((i, k) => fromArray(values(i.shape.reduce((a, b) => a * b, 1), seed + k, i.lo ?? -2, i.hi ?? 2, i.int), i.shape, { backend: be, dtype: i.dtype ?? 'f32' }));
  const y = tidy(() => c.run(...xs));
  const out = Float32Array.from(await read(y));
  release(y, xs);
  return out;
}

const flags = { json: { kind: 'boolean' as const, help: 'print the report as JSON' }, help: { kind: 'boolean' as const, help: 'show this help' } };

export async function doctor(argv: string[]): Promise<number> {
  const p = parseFlags(argv, flags, 'doctor');
  if (p.help) { process.stdout.write(usage('doctor', 'check the WebGPU adapter and every kernel', flags)); return 0; }
  const gpu = await webgpu();
  if (gpu === null) {
    process.stderr.write(`das doctor: FAIL\n${installHint}\n`);
    return 1;
  }
  const { info } = gpu.opened;
  const L = gpu.device.limits;
  const log = (s: string) => { if (!p.json) process.stdout.write(`${s}\n`); };
  log(`adapter: ${info.vendor} / ${info.architecture} / ${info.device}`);
  log(`driver:  ${info.description}`);
  log(`limits:  maxStorageBufferBindingSize=${L.maxStorageBufferBindingSize} maxBufferSize=${L.maxBufferSize} maxComputeWorkgroupsPerDimension=${L.maxComputeWorkgroupsPerDimension} maxComputeInvocationsPerWorkgroup=${L.maxComputeInvocationsPerWorkgroup} maxComputeWorkgroupStorageSize=${L.maxComputeWorkgroupStorageSize}`);
  const results: { name: string; ok: boolean; maxErr: number; detail?: string }[] = [];
  for (const [k, c] of doctorChecks().entries()) {
    try {
      const want = await runCheck(c, cpu(), k + 1);
      const got = await runCheck(c, gpu, k + 1);
      let maxErr = 0, ok = got.length === want.length;
      for (let i = 0; ok && i < want.length; i++) {
        const err = Math.abs(got[i] - want[i]);
        maxErr = Math.max(maxErr, err);
        if (!(err <= (c.atol ?? 1e-5) + (c.rtol ?? 1e-4) * Math.abs(want[i]))) ok = false;
      }
      results.push({ name: c.name, ok, maxErr });
      log(`  ${ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(28)} max |gpu − cpu| = ${maxErr.toExponential(2)}`);
    } catch (e) {
      results.push({ name: c.name, ok: false, maxErr: NaN, detail: (e as Error).message });
      log(`  FAIL ${c.name.padEnd(28)} ${(e as Error).message}`);
    }
  }
  const covered = new Set(doctorChecks().flatMap((c) => c.kernels));
  const missing = kernelStems.filter((s) => !covered.has(s));
  for (const m of missing) log(`  FAIL kernel ${m}.wgsl has no doctor check`);
  const failed = results.filter((r) => !r.ok).length + missing.length;
  if (p.json) process.stdout.write(`${JSON.stringify({ adapter: info, results, uncoveredKernels: missing, ok: failed === 0 }, null, 2)}\n`);
  log(failed === 0 ? `das doctor: OK (${results.length} checks, ${covered.size} kernels)` :
    `das doctor: FAIL — ${failed} problem(s). A kernel that disagrees with the CPU reference points to a driver or kernel bug; run the tests (npm test) and report the adapter line above.`);
  return failed === 0 ? 0 : 1;
}
