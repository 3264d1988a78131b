// Kernel variants are options of a backend instance: defaults, patches, validation, restore.
import { describe, expect, it } from 'vitest';
import { defaultKernelOptions, withKernelOptions } from '../../src/backend/kernel-options.js';
import { gpu } from '../support/devices.js';

describe('kernel options', () => {
  it('patches merge into the defaults and are checked', () => {
    const o = withKernelOptions(defaultKernelOptions, { matmul: { variant: 'registers', tiles: { registers: { tm4: 1 } } }, rows: { geometry: 'workgroup' } });
    expect(o.matmul.variant).toBe('registers');
    expect(o.matmul.tiles.registers).toEqual({ ...defaultKernelOptions.matmul.tiles.registers, tm4: 1 });
    expect(o.matmul.tiles.shared).toBe(defaultKernelOptions.matmul.tiles.shared);
    expect(o.rows).toEqual({ geometry: 'workgroup', threadWg: 64, rowWg: 128 });
    expect(defaultKernelOptions.matmul.variant).toBe('auto');   // the defaults are never mutated
    expect(() => withKernelOptions(defaultKernelOptions, { matmul: { tiles: { subgroups: { tm4: 1 } } } })).toThrow(/unsupported subgroups matmul tiles/);
    expect(() => withKernelOptions(defaultKernelOptions, { matmul: { variant: 'fast' as never } })).toThrow(/variant must be/);
    expect(() => withKernelOptions(defaultKernelOptions, { rows: { rowWg: 96 } })).toThrow(/power of two/);
  });

  it.skipIf(!gpu)('a WebGPU backend holds its own options; setKernelOptions returns the previous ones to restore', () => {
    const before = gpu!.kernels;
    const prev = gpu!.setKernelOptions({ rows: { geometry: 'thread' } });
    expect(prev).toBe(before);
    expect(gpu!.kernels.rows.geometry).toBe('thread');
    gpu!.setKernelOptions(prev);
    expect(gpu!.kernels).toEqual(before);
  });
});
