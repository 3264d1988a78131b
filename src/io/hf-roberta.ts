// Hugging Face RoBERTa checkpoint directories (Node): config.json + model.safetensors read and written
// atomically, over the codec of hf-checkpoint.ts, which this module re-exports.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { E } from '../fp.js';
import type { RobertaConfig } from '../nn/config.js';
import type { Params } from '../nn/params.js';
import { writeDirAtomic, writeFileAtomic } from './atomic.js';
import { type Checkpoint, checkpointConfigJson, checkpointFromModel, paramsToHf, parseCheckpointConfig } from './hf-checkpoint.js';
import { IoError } from './io-error.js';
import { readBytes } from './files.js';
import { writeSafetensors } from './safetensors.js';

export * from './hf-checkpoint.js';

/** Writes config.json + model.safetensors (+ extra files) into `dir` atomically. */
export async function saveCheckpoint(dir: string, cfg: RobertaConfig, params: Params, extra: Record<string, string | Uint8Array> = {}, metadata: Record<string, string> = {}): Promise<void> {
  for (const name of Object.keys(extra)) {
    if (/[/\\]|^\.\.?$/.test(name) || name === 'config.json' || name === 'model.safetensors') {
      throw new Error(`saveCheckpoint: extra file name '${name}' is reserved or not a plain file name`);
    }
  }
  const tensors = await paramsToHf(cfg, params);
  await writeDirAtomic(dir, async (tmp) => {
    await writeFileAtomic(join(tmp, 'config.json'), checkpointConfigJson(cfg, params));
    await writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt', ...metadata });
    for (const [name, content] of Object.entries(extra)) await writeFileAtomic(join(tmp, name), content);
  });
}

/** Reads a Hugging Face directory; every problem is a Left naming the file and tensor or field. */
export async function loadCheckpoint(dir: string, backend: Backend): Promise<E.Either<IoError, Checkpoint>> {
  const cfgPath = join(dir, 'config.json');
  let configText: string;
  try {
    configText = await readFile(cfgPath, 'utf8');
  } catch (e) {
    return E.left(new IoError(`cannot read config: ${(e as Error).message}`, { file: cfgPath }));
  }
  const cfg = parseCheckpointConfig(configText, cfgPath);
  if (E.isLeft(cfg)) return cfg;
  const modelPath = join(dir, 'model.safetensors');
  const model = await readBytes(modelPath);
  return E.isLeft(model) ? model : checkpointFromModel(cfg.right, model.right, backend, modelPath);
}

export const ensureDir = (dir: string) => mkdir(dir, { recursive: true });
