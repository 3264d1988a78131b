// Kernel variants of a WebGPU backend instance: which matmul kernel family and tile shapes, and the
// geometry of the row kernels (softmax, layer norm, cross-entropy). They are options of a backend
// (`webgpu({ kernels })`, `backend.setKernelOptions(…)`), read by the ops' GPU rules through their
// context; there is no module-level setting. Changing them never changes results beyond f32
// rounding order (every variant is tested against the CPU reference).

/**
 * 'registers': no workgroup memory (CPU Vulkan); 'subgroups': registers plus subgroup broadcasts (needs the
 * device feature and 8-wide subgroups, else registers); 'shared': tiles staged in workgroup memory (GPUs).
 */
export type MatmulVariant = 'registers' | 'subgroups' | 'shared' | 'auto';
/** Per-thread block (4·tm4)×(4·tn4), workgroup wgx×wgy threads, k-slice bk (shared only). */
export interface MatmulTiles { tm4: number; tn4: number; wgx: number; wgy: number; bk: number }
/** A kernel family, plus the any-layout fallback. */
export type MatmulKernel = 'registers' | 'subgroups' | 'shared' | 'scalar';
/** Row kernels: one thread per row, or one workgroup per row. */
export type RowGeometry = 'thread' | 'workgroup';

export interface KernelOptions {
  readonly matmul: { readonly variant: MatmulVariant; readonly tiles: Readonly<Record<MatmulKernel, MatmulTiles>> };
  /**
   * 'auto' is thread per row on software adapters (on lavapipe it wins at every shape measured,
   * 1.3–20×, bench/rows.ts) and workgroup per row on hardware GPUs. `rowWg` is a power of two.
   */
  readonly rows: { readonly geometry: 'auto' | RowGeometry; readonly threadWg: number; readonly rowWg: number };
}

export interface KernelOptionsPatch {
  matmul?: { variant?: MatmulVariant; tiles?: Partial<Record<MatmulKernel, Partial<MatmulTiles>>> };
  rows?: Partial<KernelOptions['rows']>;
}

// registers, subgroups and scalar: measured with bench/matmul.ts on lavapipe. shared: a common GPU default
// (64×64 tiles, 4×4 per thread), not yet measured on a GPU.
export const defaultKernelOptions: KernelOptions = {
  matmul: {
    variant: 'auto',
    tiles: {
      registers: { tm4: 2, tn4: 1, wgx: 8, wgy: 8, bk: 0 },
      subgroups: { tm4: 2, tn4: 2, wgx: 8, wgy: 8, bk: 0 },
      shared: { tm4: 1, tn4: 1, wgx: 16, wgy: 16, bk: 16 },
      scalar: { tm4: 1, tn4: 1, wgx: 8, wgy: 8, bk: 0 },
    },
  },
  rows: { geometry: 'auto', threadWg: 64, rowWg: 128 },
};

const VARIANTS: readonly MatmulVariant[] = ['registers', 'subgroups', 'shared', 'auto'];

function checkTiles(kernel: MatmulKernel, t: MatmulTiles): void {
  const { tm4, tn4, wgx, wgy, bk } = t;
  const ok = [tm4, tn4, wgx, wgy].every((v) => Number.isInteger(v) && v >= 1) && tm4 <= 4 && tn4 <= 4 && tm4 * tn4 <= 8 &&
    wgx * wgy <= 256 && (kernel !== 'subgroups' || (tm4 === 2 && wgx === 8)) &&
    (kernel !== 'shared' || (bk >= 4 && bk % 4 === 0 && 16 * bk * (wgy * tm4 + wgx * tn4) <= 16384));
  if (!ok) throw new Error(`kernel options: unsupported ${kernel} matmul tiles ${JSON.stringify(t)}`);
}

/** `base` with `patch` applied, checked (tile limits, a power-of-two row workgroup). */
export function withKernelOptions(base: KernelOptions, patch: KernelOptionsPatch = {}): KernelOptions {
  const variant = patch.matmul?.variant ?? base.matmul.variant;
  if (!VARIANTS.includes(variant)) throw new Error(`kernel options: matmul variant must be ${VARIANTS.join(', ')}, got '${String(variant)}'`);
  const tiles = { ...base.matmul.tiles };
  for (const [k, t] of Object.entries(patch.matmul?.tiles ?? {}) as [MatmulKernel, Partial<MatmulTiles>][]) {
    if (!(k in tiles)) throw new Error(`kernel options: no matmul kernel '${k}'`);
    tiles[k] = { ...tiles[k], ...t };
    checkTiles(k, tiles[k]);
  }
  const rows = { ...base.rows, ...(patch.rows ?? {}) };
  if (!['auto', 'thread', 'workgroup'].includes(rows.geometry)) throw new Error(`kernel options: row geometry must be auto, thread or workgroup, got '${String(rows.geometry)}'`);
  const pow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
  if (!pow2(rows.rowWg) || rows.rowWg > 256 || !(Number.isInteger(rows.threadWg) && rows.threadWg >= 1 && rows.threadWg <= 256)) {
    throw new Error(`kernel options: rows.rowWg must be a power of two ≤ 256 and rows.threadWg in 1..256, got ${rows.rowWg} and ${rows.threadWg}`);
  }
  return { matmul: { variant, tiles }, rows };
}
