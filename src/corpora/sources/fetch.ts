// Fetches pinned packages into a local cache (npm pack, apt-get download) and unpacks them in Node.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** What the manifest records about one downloaded package file. */
export interface PackageRecord {
  readonly manager: 'npm' | 'apt';
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

function record(manager: PackageRecord['manager'], name: string, version: string, path: string): PackageRecord {
  const data = readFileSync(path);
  return { manager, name, version, file: path.split('/').pop() ?? path, sha256: sha256(data), bytes: data.length };
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** `npm pack name@version` into the cache (skipped when the tarball is already there). */
export function npmPack(name: string, version: string, cache: string): PackageRecord {
  const cacheDir = resolve(cache);                                   // commands run with cwd = cacheDir
  mkdirSync(cacheDir, { recursive: true });
  const file = `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
  const path = join(cacheDir, file);
  if (!existsSync(path)) run('npm', ['pack', `${name}@${version}`, '--ignore-scripts', '--pack-destination', cacheDir, '--silent'], cacheDir);
  if (!existsSync(path)) throw new Error(`npm pack ${name}@${version} did not produce ${path}`);
  return record('npm', name, version, path);
}

/** Files of an npm tarball, keyed by path without the leading "package/". */
export function readTgz(path: string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(path));
  const files = new Map<string, Buffer>();
  let longName: string | null = null;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;                            // end-of-archive blocks
    const field = (start: number, len: number) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(off + 512, off + 512 + size);
    longName = null;
    if (type === 'x') longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1] ?? null;   // pax long name
    else if (type === '0' || type === '7') files.set(name.replace(/^[^/]+\//, ''), Buffer.from(body));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

let aptUpdated = false;

/**
 * `apt-get download pkg` (pinned to `version` when the archive still has it; Debian point releases
 * can replace versions, so we fall back to the current one and record what we got), then
 * `dpkg-deb -x` into `<cacheDir>/<pkg>_<version>/`.
 */
export function aptFetch(pkg: string, version: string, cache: string): { record: PackageRecord; root: string } {
  const cacheDir = resolve(cache);
  mkdirSync(cacheDir, { recursive: true });
  const pinned = readdirSync(cacheDir).find((f) => f.startsWith(`${pkg}_${version.replace(/^\d+:/, '')}_`) && f.endsWith('.deb'));
  let deb = pinned;
  if (deb === undefined) {
    deb = download(pkg, version, cacheDir) ?? download(pkg, null, cacheDir) ?? newestDeb(pkg, cacheDir);   // offline: reuse
    if (deb === undefined) throw new Error(`apt-get download ${pkg} failed: is the Debian bookworm "main" archive configured?`);
  }
  const path = join(cacheDir, deb);
  const found = run('dpkg-deb', ['-f', path, 'Version'], cacheDir).trim();
  if (found !== version) process.stderr.write(`[build-corpora] ${pkg}: wanted ${version}, using ${found}\n`);
  const root = join(cacheDir, `${pkg}_${found}`);
  if (!existsSync(root)) run('dpkg-deb', ['-x', path, root], cacheDir);
  return { record: record('apt', pkg, found, path), root };
}

function download(pkg: string, version: string | null, cacheDir: string): string | undefined {
  const spec = version === null ? pkg : `${pkg}=${version}`;
  const attempt = () => {
    try {
      run('apt-get', ['download', '-q', spec], cacheDir);
      return true;
    } catch {
      return false;
    }
  };
  if (!attempt()) {
    if (aptUpdated) return undefined;
    aptUpdated = true;
    try { run('apt-get', ['update', '-q'], cacheDir); } catch { return undefined; }   // needs root; harmless if it fails
    if (!attempt()) return undefined;
  }
  return newestDeb(pkg, cacheDir);                                   // the one just written
}

/** apt-get names files pkg_version_arch.deb; the most recently written one wins. */
function newestDeb(pkg: string, cacheDir: string): string | undefined {
  const debs = readdirSync(cacheDir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  return debs.sort((a, b) => statSync(join(cacheDir, b)).mtimeMs - statSync(join(cacheDir, a)).mtimeMs)[0];
}
