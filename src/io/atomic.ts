// Atomic file and directory writes: data goes to a temporary sibling, is fsynced, then renamed over
// the target, so a reader sees the old content or the new one and never a half-written file.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, mkdir, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

export type Chunks = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** A sibling path `<target>.<tag>-<pid>-<rand>`; same directory, so rename never crosses devices. */
export const siblingPath = (target: string, tag: string): string =>
  `${target}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await fh.write(bytes, at, bytes.length - at)).bytesWritten;
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories; the data files themselves are already synced.
    if (!(err instanceof Error && 'code' in err && (err.code === 'EINVAL' || err.code === 'EISDIR'))) throw err;
  } finally {
    await fh.close();
  }
}

/** Writes `data` (bytes, text or a stream of chunks) to `path` atomically. */
export async function writeFileAtomic(path: string, data: Chunks): Promise<void> {
  const tmp = siblingPath(path, 'tmp');
  const fh = await open(tmp, 'wx');
  try {
    if (typeof data === 'string') await writeAll(fh, new TextEncoder().encode(data));
    else if (data instanceof Uint8Array) await writeAll(fh, data);
    else for await (const chunk of data) await writeAll(fh, chunk);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(dirname(path));
}

/**
 * Builds a directory atomically: `fill` writes into a fresh temporary sibling directory, whose
 * files are fsynced and which then replaces `dir` (an existing `dir` is moved aside, then removed).
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = siblingPath(dir, 'tmp');
  await mkdir(tmp);
  try {
    await fill(tmp);
    for (const name of await readdir(tmp)) {
      if ((await stat(join(tmp, name))).isFile()) await fsyncPath(join(tmp, name));
    }
    await fsyncPath(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = (await exists(dir)) ? siblingPath(dir, 'old') : undefined;
  if (old !== undefined) await rename(dir, old);
  try {
    await rename(tmp, dir);
  } catch (err) {
    if (old !== undefined) await rename(old, dir);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await fsyncPath(dirname(dir));
  if (old !== undefined) await rm(old, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
  );
}

/** True for names that `writeFileAtomic` / `writeDirAtomic` leave behind only if the process dies. */
export const isAtomicLeftover = (name: string): boolean => /\.(tmp|old)-\d+-[0-9a-f]{8}$/.test(basename(name));
