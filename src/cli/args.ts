// A small, strict flag parser: unknown flags, stray arguments, missing values, bad numbers, values out
// of range and missing required flags are errors that name the flag — before any work is done, never
// silently ignored.

export type FlagKind = 'string' | 'number' | 'int' | 'boolean' | 'list';
export interface FlagSpec {
  kind: FlagKind;
  help: string;
  default?: string | number | boolean | string[];
  /** Must be given (marked "required" in --help). */
  required?: boolean;
  /** Numbers: inclusive bounds, and `gt` an exclusive lower bound (gt: 0 = positive). */
  min?: number;
  max?: number;
  gt?: number;
  /** Strings: the accepted values. */
  choices?: readonly string[];
}
export type FlagSpecs = Record<string, FlagSpec>;
export type Parsed = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

export class UsageError extends Error {
  override name = 'UsageError';
}

const isNumberLike = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

/** The range a number flag accepts, in words ('' when unbounded). */
function rangeText(s: FlagSpec): string {
  const parts: string[] = [];
  if (s.gt !== undefined) parts.push(s.gt === 0 ? 'positive' : `> ${s.gt}`);
  if (s.min !== undefined) parts.push(s.min === 0 ? '≥ 0' : `≥ ${s.min}`);
  if (s.max !== undefined) parts.push(`≤ ${s.max}`);
  return parts.join(' and ');
}

function checkValue(name: string, s: FlagSpec, v: unknown, command: string): void {
  if (v === undefined) return;
  if ((s.kind === 'number' || s.kind === 'int') && typeof v === 'number') {
    const bad = (s.gt !== undefined && !(v > s.gt)) || (s.min !== undefined && !(v >= s.min)) || (s.max !== undefined && !(v <= s.max));
    if (bad) throw new UsageError(`das ${command}: --${name} must be ${rangeText(s)}, got ${v}`);
  }
  if (s.kind === 'string' && s.choices !== undefined && !s.choices.includes(v as string)) {
    throw new UsageError(`das ${command}: --${name} must be ${s.choices.join(', ')}; got '${String(v)}'`);
  }
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name`. Positional arguments and single-dash
 * flags are refused (a command with subcommands strips its subcommand first). With `--help` present,
 * required flags are not demanded.
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs, command: string): Parsed {
  const out: Parsed = { _: [] };
  for (const [k, s] of Object.entries(specs)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      if (a.startsWith('-') && a.length > 1 && !isNumberLike(a)) {
        const guess = a.replace(/^-+/, '').split('=')[0];
        const hint = specs[guess] !== undefined ? ` (did you mean --${guess}?)` : a === '-h' ? ' (did you mean --help?)' : '';
        throw new UsageError(`das ${command}: '${a}' is not a flag: flags start with two dashes${hint}`);
      }
      throw new UsageError(`das ${command}: unexpected argument '${a}' (every value belongs to a --flag; see das ${command} --help)`);
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq >= 0 ? eq : undefined);
    const spec = specs[name];
    if (spec === undefined) throw new UsageError(`das ${command}: unknown flag --${name} (see das ${command} --help)`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) {
        const v = a.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`das ${command}: --${name} takes no value or true/false, got '${v}'`);
        out[name] = v === 'true';
      } else out[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`das ${command}: --${name} needs a value`);
      value = argv[++i];
    }
    if (spec.kind === 'list') {
      const prev = out[name];
      const list = Array.isArray(prev) && prev !== spec.default ? prev : [];
      const items = [...list, value];
      // a list flag may be followed by more plain values: --in a b c
      while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) items.push(argv[++i]);
      out[name] = items;
    } else if (spec.kind === 'number' || spec.kind === 'int') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
        throw new UsageError(`das ${command}: --${name} expects ${spec.kind === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
      }
      out[name] = n;
    } else out[name] = value;
  }
  for (const [k, s] of Object.entries(specs)) checkValue(k, s, out[k], command);
  if (out.help !== true) {
    for (const [k, s] of Object.entries(specs)) if (s.required && (out[k] === undefined || out[k] === '')) throw new UsageError(`das ${command}: --${k} is required (see das ${command} --help)`);
  }
  return out;
}

export function usage(command: string, summary: string, specs: FlagSpecs): string {
  const lines = Object.entries(specs).map(([k, s]) => {
    const def = s.default === undefined ? '' : ` (default: ${Array.isArray(s.default) ? s.default.join(' ') : String(s.default)})`;
    const range = rangeText(s), choices = s.choices ? ` (${s.choices.join(' | ')})` : '';
    return `  --${k}${s.kind === 'boolean' ? '' : ` <${s.kind}>`}${s.required ? '   (required)' : ''}\n      ${s.help}${choices}${range ? ` (${range})` : ''}${def}`;
  });
  return `das ${command} — ${summary}\n\n${lines.join('\n')}\n`;
}

export function required<T>(p: Parsed, name: string, command: string): T {
  const v = p[name];
  if (v === undefined || v === '') throw new UsageError(`das ${command}: --${name} is required`);
  return v as T;
}

/** The flags written on the command line (by name, without dashes): what was given, as opposed to defaults. */
export const givenFlags = (argv: readonly string[]): Set<string> =>
  new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
