#!/usr/bin/env node
// `npm run web`: the static site into web/dist/ (or --out DIR), self-contained (no network at run time):
//   index.html, explorer.html, bench.html, style.css — from web/
//   das-webgpu.js                    — the library bundle (scripts/build-browser.mjs)
//   explorer.js, bench.js            — the pages' code; every library import resolves to ./das-webgpu.js
//   models/base/                     — the committed base RoBERTa (config.json, model.safetensors, tokenizer.json)
//   samples.json                     — default domain text and a labelled task, from the embedded data (data/NOTICE.md)
// Serve it with `das serve` or any static server (WebGPU needs a secure context: localhost or https).
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowser, buildPage, root } from './build-browser.mjs';

export const defaultOut = join(root, 'web', 'dist');

/** A few hundred lines of domain text and a three-class labelled task (Austen's novels), from data/. */
export function samples() {
  const text = readFileSync(join(root, 'data/domains/austen/train.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(0, 48);
  const classes = ['emma', 'persuasion', 'pride-and-prejudice'];
  const rows = readFileSync(join(root, 'data/domains/austen/task-train.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const byClass = classes.map((c) => rows.filter((r) => r.label === c).slice(0, 32));
  const task = []; // the classes interleaved, so that any prefix is balanced
  for (let i = 0; i < 32; i++) for (const g of byClass) if (g[i]) task.push({ label: g[i].label, text: g[i].text.slice(0, 240) });
  return { domain: { name: 'Jane Austen (data/domains/austen/train.txt)', text: text.join('\n') }, task: { name: 'which novel? (data/domains/austen/task-train.jsonl)', lines: task.map((t) => `${t.label}\t${t.text}`).join('\n') } };
}

/** Builds the site into `out`; returns the bundle's size in bytes. */
export async function buildWeb({ out = defaultOut } = {}) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'models', 'base'), { recursive: true });
  for (const f of ['index.html', 'explorer.html', 'bench.html', 'style.css']) copyFileSync(join(root, 'web', f), join(out, f));
  const bytes = await buildBrowser({ outfile: join(out, 'das-webgpu.js') });
  for (const page of ['explorer', 'bench']) await buildPage(join(root, 'web', 'src', `${page}.ts`), { outfile: join(out, `${page}.js`), libraryUrl: './das-webgpu.js', minify: true });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) copyFileSync(join(root, 'models', 'base', f), join(out, 'models', 'base', f));
  writeFileSync(join(out, 'samples.json'), JSON.stringify(samples()));
  return bytes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? resolve(process.argv[i + 1]) : defaultOut;
  const bytes = await buildWeb({ out });
  process.stderr.write(`[web] ${out}: the site (library bundle ${(bytes / 1024).toFixed(0)} KiB). Open it with \`das serve\` (or any static server) → http://127.0.0.1:8080/\n`);
}
