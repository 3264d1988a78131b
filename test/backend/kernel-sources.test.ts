// src/backend/webgpu/kernel-sources.ts is kernels/*.wgsl inlined (scripts/kernels.mjs): the committed module
// must match kernels/, so that dist/ and the browser bundle run the kernels in the tree. (The tests
// themselves load the module generated afresh: vitest.config.ts.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without declarations
import { kernelModule, modulePath } from '../../scripts/kernels.mjs';
import { kernelSources } from '../../src/backend/webgpu/kernel-sources.js';
import { kernelSource, kernelStems } from '../../src/backend/webgpu/pipelines.js';

describe('inlined kernel sources', () => {
  it('the committed module matches kernels/*.wgsl (npm run kernels regenerates it)', () => {
    const fresh = (readFileSync(modulePath, 'utf8') as string) === (kernelModule() as string);
    expect(fresh, 'src/backend/webgpu/kernel-sources.ts is out of date with kernels/: run `npm run kernels`').toBe(true);
  });

  it('every kernel is there by its stem, and an unknown stem is an error naming the known ones', () => {
    const onDisk = readFileSync(new URL('../../kernels/matmul.wgsl', import.meta.url), 'utf8');
    expect(kernelSources.matmul).toBe(onDisk);
    expect(kernelStems).toContain('unary');
    expect(() => kernelSource('nope')).toThrow(/kernel 'nope' not found .*known: .*matmul/);
    expect(() => kernelSource('constructor')).toThrow(/not found/);
  });
});
