// Lock files for work shared by several processes on one directory (e.g. `das run --shard` on a
// shared file system): a lock is a file created with O_EXCL (`open(…, 'wx')`, atomic on local file
// systems and on NFSv3+), holding its holder's pid, host name and start time. A lock whose holder is a
// dead process on this host is stale and taken over (under a short take-over lock, so two processes
// never both take it); one held on another host cannot be checked from here and counts as live (its
// holder is named, so that a person can remove the file once that process is known to be gone).
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { siblingPath } from './atomic.js';

export interface LockHolder { pid: number; host: string; started: string; what?: string }
export type Claim = { held: true; release: () => void } | { held: false; holder: LockHolder | null; file: string };

/** Locks this process holds (a lock naming this pid and host but not listed here is a leftover of an earlier process). */
const mine = new Set<string>();

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function readHolder(file: string): LockHolder | null {
  try { return JSON.parse(readFileSync(file, 'utf8')) as LockHolder; } catch { return null; }   // gone, or being written
}

/** Whether `h` is certainly gone: a dead process on this host, or this very process id without the lock in `mine`. */
function stale(file: string, h: LockHolder | null): boolean {
  if (h === null) {
    // created but never filled (its creator died between open and write): stale after a minute
    try { return Date.now() - statSync(file).mtimeMs > 60_000; } catch { return false; }
  }
  if (h.host !== hostname()) return false;
  if (h.pid === process.pid) return !mine.has(file);
  return !alive(h.pid);
}

function create(file: string, what: string | undefined): boolean {
  let fd: number;
  try { fd = openSync(file, 'wx'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try { writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(what ? { what } : {}) })}\n`); } finally { closeSync(fd); }
  mine.add(file);
  return true;
}

/** Tries to take the lock `file` at once (taking a stale one over); says who holds it otherwise. */
export function tryLock(file: string, what?: string): Claim {
  mkdirSync(dirname(file), { recursive: true });
  const release = () => { if (mine.delete(file)) rmSync(file, { force: true }); };
  if (create(file, what)) return { held: true, release };
  const holder = readHolder(file);
  if (!stale(file, holder)) return { held: false, holder, file };
  // take over: only one process at a time may move a stale lock aside (it checks again under the take-over lock)
  const takeover = `${file}.takeover`;
  if (!create(takeover, what)) {
    if (stale(takeover, readHolder(takeover))) rmSync(takeover, { force: true });
    return { held: false, holder, file };
  }
  try {
    if (existsSync(file) && stale(file, readHolder(file))) renameSync(file, siblingPath(file, 'stale'));
    if (create(file, what)) return { held: true, release };
  } finally {
    mine.delete(takeover);
    rmSync(takeover, { force: true });
  }
  return { held: false, holder: readHolder(file), file };
}

/** The holder of a lock in words. */
export const describeHolder = (h: LockHolder | null): string =>
  h === null ? 'a process that is just starting' : `pid ${h.pid} on ${h.host} (since ${h.started}${h.what ? `, ${h.what}` : ''})`;

/**
 * Creates `file` with `text` unless it exists (atomically: the content is complete when the name
 * appears); returns whether this call created it.
 */
export function createExclusive(file: string, text: string): boolean {
  const tmp = siblingPath(file, 'tmp');
  const fd = openSync(tmp, 'wx');
  try { writeSync(fd, text); } finally { closeSync(fd); }
  try { linkSync(tmp, file); return true; } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
  } finally {
    unlinkSync(tmp);
  }
  // a file system without hard links: exclusive creation, then the content
  let direct: number;
  try { direct = openSync(file, 'wx'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try { writeSync(direct, text); } finally { closeSync(direct); }
  return true;
}

/** Removes every lock this process holds (e.g. on SIGTERM, before exiting). */
export function releaseAllLocks(): void {
  for (const file of mine) rmSync(file, { force: true });
  mine.clear();
}
