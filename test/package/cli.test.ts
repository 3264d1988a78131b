// The `das` command as installed (node bin/das.js on the built dist/): --version, `das help <command>`,
// --help that answers before anything is installed or loaded (tokenizer, bench), and repo-only
// defaults (data/, models/) that say what is missing instead of a bare ENOENT.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { repoDefault } from '../../src/cli/common.js';
import { buildDist, root } from './build.js';

const work = mkdtempSync(join(tmpdir(), 'das-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** A PATH that holds node and nothing else: an `npm install` attempted by the command would fail. */
const nodeOnly = join(work, 'node-only-bin');
mkdirSync(nodeOnly);
symlinkSync(process.execPath, join(nodeOnly, 'node'));

function das(args: string[], opts: { cwd?: string; path?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'das.js'), ...args], {
    cwd: opts.cwd ?? root, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...(opts.path === undefined ? {} : { PATH: opts.path }) },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => { buildDist(); }, 180_000);

describe('das (bin/das.js on dist/)', () => {
  it('--version and -v print the package version', () => {
    for (const flag of ['--version', '-v']) {
      const r = das([flag]);
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('das help <command> is das <command> --help, for every command', () => {
    const list = das(['help']);
    expect(list.code).toBe(0);
    const names = [...list.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['doctor', 'run', 'tokenizer', 'bench']));
    for (const name of names) {
      const a = das(['help', name]);
      const b = das([name, '--help']);
      expect({ name, ...a }).toEqual({ name, ...b });
    }
    expect(das(['help', 'no-such-command']).code).toBe(2);
  }, 120_000);

  it('das tokenizer --help prints the usage of tokenizer train', () => {
    for (const args of [['tokenizer', '--help'], ['tokenizer', '-h'], ['help', 'tokenizer'], ['tokenizer', 'train', '--help']]) {
      const r = das(args, { path: nodeOnly });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/das tokenizer train/);
      expect(r.stdout).toMatch(/--corpus/);
      expect(r.stdout).toMatch(/--vocab-size/);
      expect(r.stderr).toBe('');
    }
  });

  it('das bench --help prints its usage before installing anything (no npm on PATH)', () => {
    for (const args of [['bench', '--help'], ['help', 'bench'], ['bench', '-h']]) {
      const r = das(args, { path: nodeOnly });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: das bench /);
    }
  });

  it("bench's usage names every anchor of bench/bench.ts", async () => {
    const { usage } = (await import('../../bench/cli.mjs')) as { usage: string };
    const anchors = /export const ANCHORS = \[([^\]]*)\]/.exec(readFileSync(join(root, 'bench', 'bench.ts'), 'utf8'))![1].match(/'[^']+'/g)!.map((s) => s.slice(1, -1));
    expect(anchors.length).toBeGreaterThan(0);
    for (const a of anchors) expect(usage).toContain(a);
  });

  it('das run outside a checkout names the missing data/sequence.json and how to get it', () => {
    const empty = join(work, 'elsewhere');
    mkdirSync(empty);
    const r = das(['run', '--model', 'models/base'], { cwd: empty }); // the README's flags, from the npm package
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sequence data\/sequence\.json: not found/);
    expect(r.stderr).toMatch(/not with the npm package/);
    expect(r.stderr).toMatch(/pass --sequence PATH/);
    expect(r.stderr).not.toMatch(/ENOENT/);
    const m = das(['run', '--sequence', join(root, 'data', 'sequence.json'), '--model', 'models/base'], { cwd: empty });
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--model models\/base: not found/);
    expect(m.stderr).toMatch(/pass --model PATH/);
  });
});

describe('repoDefault', () => {
  it('passes existing, absolute and non-repo paths through; explains missing data/ and models/ paths', () => {
    const here = process.cwd();
    const empty = join(work, 'unit');
    mkdirSync(empty);
    try {
      process.chdir(empty);
      expect(repoDefault('/no/such/file.json', 'sequence', 'run')).toBe('/no/such/file.json');
      expect(repoDefault('mine/sequence.json', 'sequence', 'run')).toBe('mine/sequence.json');
      expect(() => repoDefault('data/sequence.json', 'sequence', 'run')).toThrow(UsageError);
      expect(() => repoDefault('./models/base', 'model', 'run')).toThrow(/--model \.\/models\/base: not found.*models\/ holds the committed base model.*run from .*\(it is there\)/);
    } finally {
      process.chdir(here);
    }
    expect(repoDefault('data/sequence.json', 'sequence', 'run')).toBe('data/sequence.json');
  });
});
