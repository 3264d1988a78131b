// Output directories that know their settings. Every command that writes an output directory records
// the settings that produced it in `settings.json` (atomically, just before the first write); running
// the command again on that directory with other settings is refused, naming each setting that
// differs, and with the same settings it continues or returns the finished result. Nothing is created
// until the inputs have been validated, so a refused or invalid command leaves no empty folder behind.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';

export const SETTINGS_FILE = 'settings.json';

/** A directory that holds output of other settings; `differences` are readable lines. */
export class SettingsMismatch extends Error {
  override name = 'SettingsMismatch';
  constructor(readonly dir: string, readonly differences: readonly string[], what: string) {
    super(`${dir} holds ${what} with other settings:\n${differences.map((d) => `  ${d}`).join('\n')}\nuse another --out, or the same settings to continue it (nothing was changed)`);
  }
}

const show = (v: unknown): string => (v === undefined ? '(not set)' : JSON.stringify(v));

/** The differences between two JSON-like values, as `path: recorded X, now Y` lines (sorted by path). */
export function settingsDiff(recorded: unknown, wanted: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(recorded) && isObj(wanted)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(wanted)])].sort();
    return keys.flatMap((k) => settingsDiff(recorded[k], wanted[k], path === '' ? k : `${path}.${k}`));
  }
  if (JSON.stringify(recorded) === JSON.stringify(wanted)) return [];
  return [`${path || '(settings)'}: ${show(recorded)} in the directory, ${show(wanted)} now`];
}

export interface OutDirCheck {
  /** The directory exists and holds something. */
  exists: boolean;
  /** Its settings.json equals the wanted settings. */
  same: boolean;
}

/**
 * Read-only check of an output directory against the settings about to produce it (call it before
 * any work). A path that is a file, or a directory whose settings.json differs, is refused. A
 * non-empty directory without settings.json (from an older version, or another tool) is refused
 * unless `adopt` says its content is known to match (a run directory already checked as a whole).
 */
export function checkOutDir(dir: string, settings: object, what: string, o: { adopt?: boolean } = {}): OutDirCheck {
  if (!existsSync(dir)) return { exists: false, same: false };
  if (!statSync(dir).isDirectory()) throw new Error(`--out ${dir} is a file, not a directory`);
  const file = join(dir, SETTINGS_FILE);
  if (existsSync(file)) {
    let recorded: unknown;
    try { recorded = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message}); the directory's settings cannot be checked: use another --out`);
    }
    const diff = settingsDiff(recorded, JSON.parse(JSON.stringify(settings)));
    if (diff.length > 0) throw new SettingsMismatch(dir, diff, what);
    return { exists: true, same: true };
  }
  const content = readdirSync(dir);
  if (content.length === 0 || o.adopt) return { exists: content.length > 0, same: false };
  throw new Error(`${dir} already holds files (${content.slice(0, 3).join(', ')}${content.length > 3 ? ', …' : ''}) but no ${SETTINGS_FILE}, so its settings cannot be checked; use another --out`);
}

/** Creates the directory (if needed) and records the settings, atomically; idempotent. */
export async function claimOutDir(dir: string, settings: object): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, SETTINGS_FILE);
  const text = `${JSON.stringify(settings, null, 2)}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  await writeFileAtomic(file, text);
}

/**
 * Makes a step log (JSON lines with a `step` field) agree with a checkpoint at `step`: records of
 * later steps (written after that checkpoint, before a crash) are dropped, atomically, so a resumed
 * run appends each step exactly once. Lines without a step are kept. No file: nothing to do.
 */
export async function truncateStepLog(file: string, step: number): Promise<number> {
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const keep = lines.filter((l) => {
    try {
      const r = JSON.parse(l) as { step?: unknown };
      return typeof r.step !== 'number' || r.step <= step;
    } catch { return false; }   // a torn last line from a crash mid-append
  });
  if (keep.length === lines.length) return 0;
  await writeFileAtomic(file, keep.map((l) => `${l}\n`).join(''));
  return lines.length - keep.length;
}
