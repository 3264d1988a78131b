// Compiles one pipeline per (kernel, override constants). The WGSL comes from kernel-sources.ts, the
// kernels/*.wgsl files inlined at build time: no file is read, in Node or in a browser.
import { kernelSources } from './kernel-sources.js';

/** The stems of every kernel in kernels/ (e.g. 'unary' for kernels/unary.wgsl). */
export const kernelStems: readonly string[] = Object.keys(kernelSources);

export function kernelSource(stem: string): string {
  const s = Object.hasOwn(kernelSources, stem) ? kernelSources[stem] : undefined;
  if (s === undefined) throw new Error(`kernel '${stem}' not found (kernels/${stem}.wgsl; known: ${kernelStems.join(', ')})`);
  return s;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  created = 0;

  constructor(private readonly device: GPUDevice) {}

  get(stem: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${stem}|${Object.entries(constants).map(([k, v]) => `${k}=${v}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (p !== undefined) return p;
    let module = this.modules.get(stem);
    if (module === undefined) {
      module = this.device.createShaderModule({ label: stem, code: kernelSource(stem) });
      this.modules.set(stem, module);
    }
    p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main', constants } });
    this.pipelines.set(key, p);
    this.created++;
    return p;
  }
}
