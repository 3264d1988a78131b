// A small, strict flag parser: unknown flags, missing values and bad numbers are errors that name the
// flag — never silently ignored.

export type FlagKind = 'string' | 'number' | 'int' | 'boolean' | 'list';
export interface FlagSpec { kind: FlagKind; help: string; default?: string | number | boolean | string[] }
export type FlagSpecs = Record<string, FlagSpec>;
export type Parsed = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseFlags(argv: readonly string[], specs: FlagSpecs, command: string): Parsed {
  const out: Parsed = { _: [] };
  for (const [k, s] of Object.entries(specs)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { out._.push(a); continue; }
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
  return out;
}

export function usage(command: string, summary: string, specs: FlagSpecs): string {
  const lines = Object.entries(specs).map(([k, s]) => {
    const def = s.default === undefined ? '' : ` (default: ${Array.isArray(s.default) ? s.default.join(' ') : String(s.default)})`;
    return `  --${k}${s.kind === 'boolean' ? '' : ` <${s.kind}>`}\n      ${s.help}${def}`;
  });
  return `das ${command} — ${summary}\n\n${lines.join('\n')}\n`;
}

export function required<T>(p: Parsed, name: string, command: string): T {
  const v = p[name];
  if (v === undefined || v === '') throw new UsageError(`das ${command}: --${name} is required`);
  return v as T;
}
