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

/** A buffer binding a kernel declares in @group(0): its number and the layout type its declaration needs. */
export interface DeclaredBinding { binding: number; type: GPUBufferBindingType }

const bindingDecl = /@group\(0\)\s*@binding\((\d+)\)\s*var\s*<\s*(uniform|storage)\s*(?:,\s*(read_write|read)\s*)?>/g;

/** The @group(0) buffer bindings declared in a kernel's WGSL, by binding number. */
export function declaredBindings(source: string): DeclaredBinding[] {
  const out: DeclaredBinding[] = [];
  for (const m of source.matchAll(bindingDecl)) {
    const type: GPUBufferBindingType = m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'storage' : 'read-only-storage';
    out.push({ binding: Number(m[1]), type });
  }
  return out.sort((a, b) => a.binding - b.binding);
}

/** GPUShaderStage.COMPUTE, as the specification fixes it. */
const COMPUTE_STAGE = 0x4;

/**
 * Pipelines have an explicit layout made from the kernel's declarations, the same for every override
 * constant, in which the uniform (the kernel's `params`) has a dynamic offset: the backend binds its
 * uniform arena once and passes each dispatch's offset at setBindGroup, so a bind group depends only on
 * the storage buffers bound and can be reused from one step to the next ('auto' layouts allow no
 * dynamic offsets, which made the arena offset part of every bind group).
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  created = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The bind group layout of every pipeline of this kernel (the uniform binding has a dynamic offset). */
  bindGroupLayout(stem: string): GPUBindGroupLayout { return this.layout(stem).group; }

  private layout(stem: string): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(stem);
    if (l === undefined) {
      const entries: GPUBindGroupLayoutEntry[] = declaredBindings(kernelSource(stem)).map(({ binding, type }) => ({
        binding, visibility: COMPUTE_STAGE, buffer: { type, hasDynamicOffset: type === 'uniform' },
      }));
      const group = this.device.createBindGroupLayout({ label: stem, entries });
      l = { group, pipeline: this.device.createPipelineLayout({ label: stem, bindGroupLayouts: [group] }) };
      this.layouts.set(stem, l);
    }
    return l;
  }

  get(stem: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${stem}|${Object.entries(constants).map(([k, v]) => `${k}=${v}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (p !== undefined) return p;
    let module = this.modules.get(stem);
    if (module === undefined) {
      module = this.device.createShaderModule({ label: stem, code: kernelSource(stem) });
      this.modules.set(stem, module);
    }
    p = this.device.createComputePipeline({ label: key, layout: this.layout(stem).pipeline, compute: { module, entryPoint: 'main', constants } });
    this.pipelines.set(key, p);
    this.created++;
    return p;
  }
}
