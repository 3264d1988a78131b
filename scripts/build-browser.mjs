#!/usr/bin/env node
// The browser build: one ESM bundle of src/browser.ts (dist/browser/das-webgpu.js, minified, with a source
// map) with the WGSL kernels inlined (generated from kernels/ at build time) and no Node built-in: the
// `webgpu` package (Dawn, Node only) is left out, the GPU is the page's navigator.gpu. `npm run build`
// runs this after tsc (which emits the bundle's types, dist/browser.d.ts). Also used by the browser tests
// and `npm run web`, which build into their own directories.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { kernelModule, modulePath } from './kernels.mjs';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const defaultOutfile = join(root, 'dist', 'browser', 'das-webgpu.js');

/** esbuild plugins of every browser build: kernels generated from kernels/, and no Dawn. */
export function browserPlugins() {
  return [{
    name: 'das-browser',
    setup(b) {
      // The Node-only GPU provider: device.ts imports it dynamically, and only where there is no navigator.gpu.
      b.onResolve({ filter: /^webgpu$/ }, () => ({ path: 'webgpu', namespace: 'das-node-only' }));
      b.onLoad({ filter: /.*/, namespace: 'das-node-only' }, () => ({ contents: 'export {};', loader: 'js' }));
      b.onLoad({ filter: /kernel-sources\.ts$/ }, (a) => (a.path === modulePath ? { contents: kernelModule(), loader: 'ts' } : undefined));
    },
  }];
}

/** Checks a built bundle: no Node built-in and no `webgpu` package import survive. Throws naming what it found. */
export function checkBundle(code) {
  const bad = [...code.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](node:[^"']+|webgpu|fs|path|url|os|crypto|child_process)["']/g)].map((m) => m[1]);
  if (bad.length > 0) throw new Error(`browser bundle imports ${[...new Set(bad)].join(', ')}`);
}

/** Builds the bundle into `outfile`; returns its size in bytes. */
export async function buildBrowser({ outfile = defaultOutfile, minify = true } = {}) {
  mkdirSync(dirname(outfile), { recursive: true });
  await esbuild.build({
    entryPoints: [join(root, 'src', 'browser.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'error',
    plugins: browserPlugins(),
  });
  checkBundle(readFileSync(outfile, 'utf8'));
  return statSync(outfile).size;
}

/**
 * Resolves the library to the bundle at `url` (kept external): the bare name `das-webgpu`, and every
 * import that lands in src/ (code shared with Node, e.g. bench/'s, imports the sources). A page thus
 * runs exactly the bundle, once; a name the bundle does not export fails when the page loads.
 */
export function libraryAt(url) {
  const srcDir = join(root, 'src') + sep;
  return {
    name: 'das-library-at',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => {
        if (a.path === 'das-webgpu' || a.path === 'das-webgpu/browser') return { path: url, external: true };
        if (!a.path.startsWith('.') || a.resolveDir === '') return undefined;
        return resolve(a.resolveDir, a.path).startsWith(srcDir) ? { path: url, external: true } : undefined;
      });
    },
  };
}

/** Bundles a page script (ESM) that uses the library from `libraryUrl`; returns the code (and writes `outfile` when given). */
export async function buildPage(entry, { outfile, libraryUrl = './das-webgpu.js', minify = false } = {}) {
  const r = await esbuild.build({
    entryPoints: [entry],
    ...(outfile ? { outfile } : {}),
    write: outfile !== undefined,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: outfile ? 'linked' : 'inline',
    logLevel: 'error',
    plugins: [libraryAt(libraryUrl)],
  });
  const code = outfile ? readFileSync(outfile, 'utf8') : r.outputFiles[0].text;
  checkBundle(code);
  return code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const size = await buildBrowser();
  process.stderr.write(`[build-browser] dist/browser/das-webgpu.js: ${(size / 1024).toFixed(1)} KiB\n`);
}
