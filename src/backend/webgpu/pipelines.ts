// Reads kernels/*.wgsl once and compiles one pipeline per (file, override constants).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** kernels/ sits at the package root, three levels above this file in both src/ and dist/. */
export const kernelsDir = fileURLToPath(new URL('../../../kernels/', import.meta.url));

const sources = new Map<string, string>();

export function kernelSource(stem: string): string {
  let s = sources.get(stem);
  if (s === undefined) {
    try {
      s = readFileSync(`${kernelsDir}${stem}.wgsl`, 'utf8');
    } catch (e) {
      throw new Error(`kernel '${stem}' not found in ${kernelsDir}: ${(e as Error).message}`);
    }
    sources.set(stem, s);
  }
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
