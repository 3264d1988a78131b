// CLI: npx vite-node src/data/build-corpora-main.ts --out data [--variant default|large] [--seed N]
import { parseArgs } from 'node:util';
import { buildCorpora, defaultSeed, type Variant } from './build-corpora.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'data' },
    variant: { type: 'string', default: 'default' },
    seed: { type: 'string', default: String(defaultSeed) },
    cache: { type: 'string', default: '.cache/packages' },
  },
});
const variant = values.variant;
if (variant !== 'default' && variant !== 'large') throw new Error(`--variant must be default or large, got "${variant}"`);
const seed = Number(values.seed);

const manifest = await buildCorpora({ outDir: values.out, variant: variant as Variant, seed, cacheDir: values.cache });
for (const [path, f] of Object.entries(manifest.files)) process.stdout.write(`${path}\t${f.lines} lines\t${f.bytes} bytes\n`);
