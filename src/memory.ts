// Counters for live tensors and bytes (all backends) and the WebGPU pool, for leak tests and logs.
import { counters } from './tensor/tensor.js';
import type { Backend } from './backend/backend.js';
import type { PoolStats } from './backend/webgpu/pool.js';

export interface MemoryStats {
  liveTensors: number;
  liveStorages: number;
  liveBytes: number;
  peakBytes: number;
  pool?: PoolStats;
}

export function memoryStats(backend?: Backend): MemoryStats {
  const pool = backend && 'pool' in backend ? (backend as unknown as { pool: { stats(): PoolStats } }).pool.stats() : undefined;
  return { ...counters, ...(pool ? { pool } : {}) };
}
