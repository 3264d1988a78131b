// The import rules of ARCHITECTURE.md, checked on every file under src/: each folder (floor) imports
// only from its own floor and the floors below it, nothing outside src/cli imports src/cli, and no
// module imports itself back through a chain of runtime imports (a type-only reference inside one
// floor is allowed: it is erased before anything runs). A forbidden import fails this test, naming
// the file, the line and the rule. The core (CORE below) runs in a browser: it imports no Node built-in,
// directly or through any chain of runtime imports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));

/** The floors, lowest first. A floor may import from the floors listed before it, and from itself. */
export const FLOORS: readonly (readonly string[])[] = [
  ['fp.ts'],
  ['tensor'],
  ['backend', 'memory.ts'],
  ['ops'],
  ['autodiff'],
  ['nn', 'optim'],
  ['io'],
  ['data'],
  ['corpora'],
  ['train'],
  ['das'],
  ['das-files'],
  ['eval'],
  ['continual'],
  ['index.ts', 'browser.ts'],
  ['cli'],
];
/** The core: what the browser bundle is made of, with no Node built-in anywhere below it (ARCHITECTURE.md). */
export const CORE = ['fp.ts', 'tensor', 'backend', 'memory.ts', 'ops', 'autodiff', 'nn', 'optim', 'das'];
/** Entries that must run in a browser like the core (the browser bundle's entry). */
const BROWSER_ENTRIES = ['browser.ts'];
/** Same-floor folders that must not import each other. */
const SIBLINGS_APART = [['nn', 'optim']];

const unitOf = (file: string): string => file.split('/')[0];
const floorOf = (unit: string): number => FLOORS.findIndex((f) => f.includes(unit));

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(relative(src, p));
  }
  return out;
}

export interface Import { from: string; to: string; line: number; typeOnly: boolean; text: string }

/** Relative imports of a source file: static, re-exports and dynamic import('…'); typeOnly when erased. */
export function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const re = /(^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(^|\n)\s*import\s+['"](\.[^'"]+)['"]/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const spec = m[5] ?? m[6] ?? m[8];
    const clause = m[4] ?? '';
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    const allTypes = braces !== null && braces[1].split(',').map((s) => s.trim()).filter((s) => s !== '').every((s) => s.startsWith('type '));
    const typeOnly = m[3] !== undefined || allTypes;
    const to = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    const line = text.slice(0, m.index + (m[1]?.length ?? 0)).split('\n').length;
    out.push({ from: file, to, line, typeOnly, text: m[0].trim() });
  }
  return out;
}

export interface BareImport { from: string; spec: string; line: number; dynamic: boolean }

/** Package and built-in imports of a source file (static, re-exports, dynamic import('…'), require('…')). */
export function bareImportsOf(file: string, text: string): BareImport[] {
  const out: BareImport[] = [];
  const re = /(^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s*from\s*)?['"]([^.'"][^'"]*)['"]|(import|require)\(\s*['"]([^.'"][^'"]*)['"]\s*\)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const spec = m[2] ?? m[4];
    const line = text.slice(0, m.index + (m[1]?.length ?? 0)).split('\n').length;
    out.push({ from: file, spec, line, dynamic: m[3] !== undefined });
  }
  return out;
}

const NODE_BUILTINS = new Set(builtinModules);
export const isNodeBuiltin = (spec: string): boolean => spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0]);

const files = walk(src);
const texts = new Map(files.map((f) => [f, readFileSync(join(src, f), 'utf8')]));
const imports = files.flatMap((f) => importsOf(f, texts.get(f)!));
const bare = files.flatMap((f) => bareImportsOf(f, texts.get(f)!));
const inCore = (f: string): boolean => CORE.includes(unitOf(f));

describe('architecture (ARCHITECTURE.md)', () => {
  it('every file under src/ belongs to a floor', () => {
    const unplaced = [...new Set(files.map(unitOf))].filter((u) => floorOf(u) < 0);
    expect(unplaced, 'add the folder to FLOORS here and to ARCHITECTURE.md').toEqual([]);
  });

  it('no floor imports a floor above it, and nothing outside src/cli imports src/cli', () => {
    const bad = imports.flatMap((i) => {
      const a = unitOf(i.from), b = unitOf(i.to);
      if (a === b) return [];
      if (b === 'cli') return [`${i.from}:${i.line} imports src/cli (${i.to}): the library never depends on the command line; take a callback instead`];
      if (floorOf(b) > floorOf(a)) return [`${i.from}:${i.line} (${a}) imports ${i.to} (${b}), a higher floor`];
      if (SIBLINGS_APART.some((s) => s.includes(a) && s.includes(b))) return [`${i.from}:${i.line}: ${a} and ${b} are kept apart`];
      return [];
    });
    expect(bad).toEqual([]);
  });

  it('no cycle of runtime imports', () => {
    const graph = new Map<string, string[]>();
    for (const i of imports) if (!i.typeOnly) graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 'open') cycles.push([...path.slice(path.indexOf(g)), g].join(' → '));
        else if (!state.has(g)) visit(g, [...path, g]);
      }
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f, [f]);
    expect(cycles).toEqual([]);
  });

  it('no module exports a mutable binding (settings live in options, not module globals)', () => {
    const bad = files.flatMap((f) => readFileSync(join(src, f), 'utf8').split('\n').flatMap((l, i) => (/^export (let|var) /.test(l) ? [`${f}:${i + 1}: ${l.trim()}`] : [])));
    expect(bad).toEqual([]);
  });

  it('type-only references that cross floors point downwards too, and no cycle crosses floors', () => {
    // (covered by the floor rule, which counts type-only imports as well) — and the rule itself works:
    const probe = importsOf('tensor/x.ts', "import type { A } from '../ops/a.js';\nimport { b, type C } from './b.js';\nexport { d } from '../cli/d.js';\nconst m = await import('../eval/m.js');");
    expect(probe.map((i) => [i.to, i.line, i.typeOnly])).toEqual([['ops/a.ts', 1, true], ['tensor/b.ts', 2, false], ['cli/d.ts', 3, false], ['eval/m.ts', 4, false]]);
  });

  it('the core imports no Node built-in (node:*), directly or through a chain of runtime imports', () => {
    const direct = new Map<string, BareImport>();
    for (const b of bare) if (isNodeBuiltin(b.spec) && !direct.has(b.from)) direct.set(b.from, b);
    const graph = new Map<string, string[]>();
    for (const i of imports) if (!i.typeOnly) graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
    /** The first chain of runtime imports from `f` to a file that imports a Node built-in, if any. */
    const chainFrom = (f: string): string[] | null => {
      const seen = new Set<string>([f]);
      const queue: string[][] = [[f]];
      while (queue.length > 0) {
        const path = queue.shift()!;
        const at = path[path.length - 1];
        if (direct.has(at)) return path;
        for (const g of graph.get(at) ?? []) if (!seen.has(g)) { seen.add(g); queue.push([...path, g]); }
      }
      return null;
    };
    const bad = files.filter((f) => inCore(f) || BROWSER_ENTRIES.includes(f)).flatMap((f) => {
      const chain = chainFrom(f);
      if (chain === null) return [];
      const end = direct.get(chain[chain.length - 1])!;
      return [`${chain.join(' → ')}:${end.line} imports '${end.spec}': the core runs in a browser; take bytes, and put the path-taking wrapper in a Node-only module (io/files.ts, das-files/)`];
    });
    expect(bad).toEqual([]);
  });

  it('the core uses no Node global (process, Buffer, __dirname, require) except through a guarded globalThis', () => {
    const strip = (t: string) => t.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
    const bad = files.filter(inCore).flatMap((f) => strip(texts.get(f)!).split('\n').flatMap((l, i) =>
      (/(?<![.\w$])(?:process|Buffer)\s*[.(]|(?<![.\w$])(?:__dirname|__filename)\b|(?<![.\w$])require\s*\(/.test(l) ? [`${f}:${i + 1}: ${l.trim()}`] : [])));
    expect(bad).toEqual([]);
  });

  it("the webgpu package (Dawn) is loaded on demand by backend/webgpu/device.ts alone (the browser bundle leaves it out)", () => {
    const bad = bare.filter((b) => b.spec === 'webgpu' && (b.from !== 'backend/webgpu/device.ts' || !b.dynamic)).map((b) => `${b.from}:${b.line}: ${b.dynamic ? 'import' : 'static import of'} 'webgpu'`);
    expect(bad).toEqual([]);
  });

  it('the Node-built-in scanner sees every form', () => {
    const probe = bareImportsOf('x.ts', "import { a } from 'node:fs';\nimport type { B } from 'fp-ts';\nexport * from 'path';\nconst w = await import('webgpu');\nimport 'node:os';");
    expect(probe.map((b) => [b.spec, b.line, b.dynamic])).toEqual([['node:fs', 1, false], ['fp-ts', 2, false], ['path', 3, false], ['webgpu', 4, true], ['node:os', 5, false]]);
    expect(['node:fs', 'path', 'fs/promises', 'fp-ts', 'webgpu'].map(isNodeBuiltin)).toEqual([true, true, true, false, false]);
  });
});
