// `das init` flags → src/train/init.ts.
import { type FlagSpecs, parseFlags, required, usage } from './args.js';
import { repoDefault } from './common.js';
import { initCheckpoint, initDefaults } from '../train/init.js';

const flags: FlagSpecs = {
  config: { kind: 'string', help: 'a Hugging Face RoBERTa config.json of any size (hidden_size divisible by num_attention_heads; vocab_size ≥ the tokenizer\'s)', required: true },
  out: { kind: 'string', help: 'output Hugging Face directory: config.json, model.safetensors (with the MLM head), tokenizer files, settings.json; one holding other settings is refused', required: true },
  tokenizer: { kind: 'string', help: 'tokenizer directory (tokenizer.json, or vocab.json + merges.txt)', default: 'models/tokenizer' },
  seed: { kind: 'int', help: 'seed of the initialisation (normal(0, initializer_range) weights, zero biases, unit LayerNorm gains)', default: initDefaults.seed },
  help: { kind: 'boolean', help: 'show this help' },
};

export async function initCommand(argv: string[]): Promise<number> {
  const cmd = 'init';
  const p = parseFlags(argv, flags, cmd);
  if (p.help) { process.stdout.write(usage(cmd, 'a randomly initialised RoBERTa checkpoint of any size, as transformers initialises one (no download)', flags)); return 0; }
  const t0 = Date.now();
  const r = await initCheckpoint({ config: required(p, 'config', cmd), out: required(p, 'out', cmd), tokenizer: repoDefault(p.tokenizer as string, 'tokenizer', cmd), seed: p.seed as number });
  process.stdout.write(`${JSON.stringify({ ...r, seconds: (Date.now() - t0) / 1000 })}\n`);
  return 0;
}
