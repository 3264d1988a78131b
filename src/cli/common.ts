// Shared CLI pieces: backend choice and the flags every training command takes.
import type { Backend } from '../backend/backend.js';
import { cpu } from '../backend/cpu.js';
import { installHint } from '../backend/webgpu/device.js';
import { webgpu } from '../backend/webgpu/webgpu.js';
import { setDefaultBackend } from '../tensor/tensor.js';
import { type FlagSpecs, UsageError } from './args.js';

export const backendFlag: FlagSpecs = {
  backend: { kind: 'string', help: 'cpu, webgpu, or auto (webgpu when an adapter exists, else cpu)', default: 'auto' },
};

export async function chooseBackend(name: unknown, command: string): Promise<Backend> {
  let be: Backend;
  if (name === 'cpu') be = cpu();
  else if (name === 'webgpu' || name === 'auto') {
    const g = await webgpu();
    if (g === null && name === 'webgpu') throw new Error(`--backend webgpu: ${installHint}`);
    be = g ?? cpu();
  } else throw new UsageError(`das ${command}: --backend must be cpu, webgpu or auto, got '${String(name)}'`);
  setDefaultBackend(be);
  return be;
}
