// Runs a test body with the row kernels (softmax, layer norm, cross-entropy) forced to one geometry,
// through the WebGPU backend's kernel options (restored afterwards).
import type { RowGeometry } from '../../src/index.js';
import { gpu } from './devices.js';

export const geometries: RowGeometry[] = ['thread', 'workgroup'];
/** Tiny workgroups make 1-D grids fold past 65,535 workgroups at only 65,536 rows. */
export const tiny = { threadWg: 1, rowWg: 4 };

export async function withGeometry<T>(g: RowGeometry, f: () => Promise<T>, sizes = { threadWg: 64, rowWg: 128 }): Promise<T> {
  if (gpu === null) return f();
  const before = gpu.setKernelOptions({ rows: { geometry: g, ...sizes } });
  try { return await f(); } finally { gpu.setKernelOptions(before); }
}
