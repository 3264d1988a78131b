// Reads the committed PyTorch fixtures (test/fixtures/*.safetensors).
import { fileURLToPath } from 'node:url';
import { E } from '../../src/fp.js';
import { type HostArray as StArray, readSafetensors } from '../../src/io/safetensors.js';

export interface Fixture { tensors: Map<string, StArray>; metadata: Record<string, string>; get(name: string): StArray }

export async function loadFixture(file: string): Promise<Fixture> {
  const path = fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url));
  const r = await readSafetensors(path);
  if (E.isLeft(r)) throw r.left;
  const { tensors, metadata } = r.right;
  return {
    tensors, metadata,
    get(name) {
      const t = tensors.get(name);
      if (t === undefined) throw new Error(`fixture ${file} has no tensor ${name}`);
      return t;
    },
  };
}
