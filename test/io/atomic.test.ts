import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAtomicLeftover, writeDirAtomic, writeFileAtomic } from '../../src/io/atomic.js';

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'atomic-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes bytes, text and chunk streams', async () => {
    const path = join(root, 'f');
    await writeFileAtomic(path, 'héllo');
    expect(await readFile(path, 'utf8')).toBe('héllo');
    await writeFileAtomic(path, [Uint8Array.of(1, 2), Uint8Array.of(3)]);
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect(await readdir(root)).toEqual(['f']);
  });

  it('keeps the old file and removes the temporary one when the data stream throws mid-way', async () => {
    const path = join(root, 'f');
    await writeFile(path, 'old');
    async function* failing() {
      yield new Uint8Array(1 << 16);
      throw new Error('disk on fire');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow('disk on fire');
    expect(await readFile(path, 'utf8')).toBe('old');
    expect(await readdir(root)).toEqual(['f']);
  });

  it('fails without side effects when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(root, 'missing', 'f'), 'x')).rejects.toThrow(/ENOENT/);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('writeDirAtomic', () => {
  it('creates a directory from its fill function', async () => {
    const dir = join(root, 'ckpt');
    await writeDirAtomic(dir, (tmp) => writeFile(join(tmp, 'a.txt'), 'a'));
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('a');
    expect(await readdir(root)).toEqual(['ckpt']);
  });

  it('replaces an existing directory completely', async () => {
    const dir = join(root, 'ckpt');
    await mkdir(dir);
    await writeFile(join(dir, 'stale.txt'), 'stale');
    await writeDirAtomic(dir, async (tmp) => {
      await writeFile(join(tmp, 'new.txt'), 'new');
      await mkdir(join(tmp, 'sub'));
    });
    expect((await readdir(dir)).sort()).toEqual(['new.txt', 'sub']);
    expect(await readdir(root)).toEqual(['ckpt']);
  });

  it('keeps the old directory and cleans up when the fill function throws', async () => {
    const dir = join(root, 'ckpt');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'keep');
    const fill = async (tmp: string) => {
      await writeFile(join(tmp, 'half.txt'), 'half');
      throw new Error('out of memory');
    };
    await expect(writeDirAtomic(dir, fill)).rejects.toThrow('out of memory');
    expect(await readdir(dir)).toEqual(['keep.txt']);
    expect(await readdir(root)).toEqual(['ckpt']);
  });
});

describe('isAtomicLeftover', () => {
  it('recognises the temporary names and nothing else', () => {
    expect(isAtomicLeftover('/x/model.safetensors.tmp-123-0a1b2c3d')).toBe(true);
    expect(isAtomicLeftover('ckpt.old-9-ffffffff')).toBe(true);
    expect(isAtomicLeftover('model.safetensors')).toBe(false);
  });
});
