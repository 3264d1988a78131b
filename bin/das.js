#!/usr/bin/env node
// Entry point of the `das` command (built code in dist/).
import { main } from '../dist/cli/main.js';
import { closeWebgpu } from '../dist/index.js';

const code = await main(process.argv.slice(2));
closeWebgpu();
process.exit(code);
