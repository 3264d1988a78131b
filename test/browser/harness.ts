// The Node side of the browser tests: builds the library bundle (the same build as `npm run build`, into a
// temporary directory), serves it and the pages with a tiny node:http static server, and drives Debian's
// Chromium headless (playwright-core with executablePath: no browser download) with WebGPU on:
//   chromium --headless=new --no-sandbox --enable-unsafe-webgpu --enable-features=Vulkan
// Console errors and uncaught page errors are collected for the tests to assert on.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
// @ts-expect-error -- a plain .mjs build script without declarations
import { buildBrowser } from '../../scripts/build-browser.mjs';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const chromiumPath = process.env.DAS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan'];

/** Whether the suite must run (DAS_REQUIRE_WEBGPU=1, as `npm test` sets it) or may skip without Chromium. */
export const browserRequired = process.env.DAS_REQUIRE_WEBGPU !== '0';
export const haveChromium = existsSync(chromiumPath);
export const missingChromium = `no Chromium at ${chromiumPath}: run scripts/setup.sh (apt-get install chromium) or set DAS_CHROMIUM`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8',
};

/** URL path → file, or a folder prefix ('/x/' → a directory); in-memory bodies for generated pages. */
export type Routes = Record<string, string | { body: string | Uint8Array; type?: string }>;

/** A static server on 127.0.0.1 (a secure context, so navigator.gpu exists); answers GET only. */
export async function serve(routes: Routes): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const send = (status: number, body: string | Uint8Array, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const hit = routes[path];
    if (typeof hit === 'object') return send(200, hit.body, hit.type ?? TYPES[path.endsWith('/') ? '.html' : extname(path)] ?? 'application/octet-stream');
    let file = typeof hit === 'string' ? hit : undefined;
    if (file === undefined) {
      const prefix = Object.keys(routes).filter((k) => k.endsWith('/') && path.startsWith(k) && typeof routes[k] === 'string').sort((a, b) => b.length - a.length)[0];
      if (prefix !== undefined) {
        const rest = normalize(path.slice(prefix.length));
        if (!rest.startsWith('..')) file = join(routes[prefix] as string, rest);
      }
    }
    if (file !== undefined && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (file === undefined || !existsSync(file)) return send(404, `not found: ${path}`);
    send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('serve: no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** Builds dist/browser/das-webgpu.js's twin into a temporary directory; returns its path and size. */
export async function buildBundle(): Promise<{ dir: string; file: string; bytes: number; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'das-browser-'));
  const file = join(dir, 'das-webgpu.js');
  const bytes = await buildBrowser({ outfile: file });
  return { dir, file, bytes, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Session {
  browser: Browser;
  page: Page;
  /** Chromium's version, e.g. "156.0.8078.114". */
  version: string;
  /** Console errors and uncaught exceptions of the page, in order. */
  errors: string[];
  /** Every console line of the page. */
  console: string[];
  close(): Promise<void>;
}

/** Starts headless Chromium with WebGPU and opens one page. */
export async function launch(o: { width?: number; height?: number } = {}): Promise<Session> {
  const browser = await chromium.launch({
    executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const page = await browser.newPage({ viewport: { width: o.width ?? 1280, height: o.height ?? 900 } });
  const errors: string[] = [], lines: string[] = [];
  page.on('console', (m) => { lines.push(`${m.type()}: ${m.text()}`); if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.stack ?? e.message}`));
  return { browser, page, version: browser.version(), errors, console: lines, close: () => browser.close() };
}
