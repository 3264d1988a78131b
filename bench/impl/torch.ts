// PyTorch anchors (CPU with 2 threads; CUDA when the lent machine has it) through torch_worker.py, a JSON-lines
// child process, so its runs interleave with ours. Debian's python3-torch uses the system BLAS: without
// libopenblas0-pthread that is the reference BLAS (~3 GFLOP/s), so the anchor is recorded as not installed.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Case } from '../cases.js';
import type { Impl, Runner } from './types.js';

const WORKER = fileURLToPath(new URL('./torch_worker.py', import.meta.url));
type Reply = Record<string, unknown> & { error?: string };

/** Why PyTorch cannot be an anchor here, or null when it can. */
export function torchMissing(python: string, device: 'cpu' | 'cuda'): string | null {
  if (!existsSync(python)) return `not installed (${python} missing)`;
  try { execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }); } catch { return `not installed (no torch for ${python}; Debian: python3-torch)`; }
  if (device === 'cuda') {
    try { execFileSync(python, ['-c', 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'], { stdio: 'ignore', timeout: 60_000 }); } catch { return 'no CUDA device for PyTorch'; }
  } else if (python === '/usr/bin/python3') {
    const openblas = ['/usr/lib/x86_64-linux-gnu/openblas-pthread', '/usr/lib/aarch64-linux-gnu/openblas-pthread'].some((d) => existsSync(d));
    if (!openblas) return 'not installed (libopenblas0-pthread missing: Debian torch would run on the reference BLAS, ~3 GFLOP/s)';
  }
  return null;
}

export class Torch implements Impl {
  readonly id: string;
  readonly label: string;
  private proc?: ChildProcessWithoutNullStreams;
  private replies: ((r: Reply) => void)[] = [];
  private next = 0;

  constructor(readonly device: 'cpu' | 'cuda', readonly python: string, readonly threads = 2) {
    this.id = `torch-${device}`;
    this.label = device === 'cpu' ? `PyTorch CPU (${threads} threads)` : 'PyTorch CUDA';
  }

  private call(msg: Record<string, unknown>): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (!this.proc || this.proc.exitCode !== null) { reject(new Error('torch worker exited')); return; }
      this.replies.push(resolve);
      this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  async init(): Promise<string> {
    const missing = torchMissing(this.python, this.device);
    if (missing) throw new Error(missing);
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(this.threads), MKL_NUM_THREADS: String(this.threads), OMP_WAIT_POLICY: 'PASSIVE', BENCH_TORCH_THREADS: String(this.threads) };
    if (this.device === 'cpu') env.CUDA_VISIBLE_DEVICES = '';
    const proc = (this.proc = spawn(this.python, [WORKER], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    let err = '';
    proc.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    proc.on('exit', (code) => { for (const r of this.replies.splice(0)) r({ error: `torch worker exited (${code}): ${err.trim().split('\n').pop() ?? ''}` }); });
    createInterface({ input: proc.stdout }).on('line', (l) => { this.replies.shift()?.(JSON.parse(l) as Reply); });
    const h = await this.call({ op: 'hello' });
    if (h.error) throw new Error(h.error);
    if (this.device === 'cuda' && !h.cuda) throw new Error('no CUDA device for PyTorch');
    return `PyTorch ${h.version} ${this.device === 'cuda' ? `CUDA (${h.cudaName})` : `CPU, ${h.threads} threads, ${h.blas}`}`;
  }

  async prepare(c: Case): Promise<Runner | string> {
    const id = this.next++;
    const r = await this.call({ op: 'prepare', id, case: c, device: this.device });
    if (r.error) throw new Error(r.error);
    if (r.skip) return String(r.skip);
    let mem: Record<string, number> = {};
    return {
      run: async (inner) => {
        const x = await this.call({ op: 'run', id, inner });
        if (x.error) throw new Error(x.error);
        return x.ms as number;
      },
      memory: async () => {
        const m = await this.call({ op: 'memory', id });
        mem = (m.memory as Record<string, number>) ?? {};
        return mem;
      },
      dispose: async () => { await this.call({ op: 'dispose', id }); },
      ...(r.note ? { note: String(r.note) } : {}),
    } as Runner;
  }

  async close(): Promise<void> {
    if (!this.proc) return;
    this.proc.stdin.end();
    await new Promise((res) => { if (this.proc!.exitCode !== null) res(null); else this.proc!.on('exit', res); });
  }
}
