// The library bundle in a real browser: headless Chromium (Debian's), its WebGPU adapter (SwiftShader
// here), the bundle built exactly as `npm run build` builds it. In the page (test/browser/page/suite.ts):
// every op against the CPU reference on random shapes, a tiny RoBERTa against the CPU, a gradient check
// against central differences, and RoBERTa's forward and backward against the committed PyTorch fixture.
// Also the README's browser example, as written, against the bundle. Its first output line names the
// browser and the adapter.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script without declarations
import { buildPage } from '../../scripts/build-browser.mjs';
import { type Session, browserRequired, buildBundle, haveChromium, launch, missingChromium, root, serve } from './harness.js';

const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = Number(process.env.FC_BROWSER_RUNS ?? 12);

interface Suite {
  info(): Promise<{ adapter: string | null; userAgent: string; software: boolean; bundleHasNoNode: boolean }>;
  opsAgree(o: { runs: number; seed: number }): Promise<{ failures: string[]; ms: Record<string, number> }>;
  modelAgrees(o: { seed: number }): Promise<string[]>;
  uncovered(): string[];
  gradCheck(o: { seed: number }): Promise<string[]>;
  parity(o: { url: string }): Promise<{ failures: string[]; loss: number; tensors: number }>;
}
type Call = { [K in keyof Suite]: Suite[K] extends (...a: infer A) => unknown ? A : never };

let s: Session;
let bundle: Awaited<ReturnType<typeof buildBundle>>;
let stop: () => void = () => {};
let info: Awaited<ReturnType<Suite['info']>>;

/** Calls dasSuite[name](...args) in the page. */
const call = <K extends keyof Suite>(name: K, ...args: Call[K]): Promise<Awaited<ReturnType<Suite[K]>>> =>
  s.page.evaluate(([n, a]) => (globalThis as unknown as { dasSuite: Record<string, (...x: unknown[]) => unknown> }).dasSuite[n as string](...(a as unknown[])), [name, args] as const) as Promise<Awaited<ReturnType<Suite[K]>>>;

describe.skipIf(!haveChromium && !browserRequired)('the library bundle in headless Chromium (WebGPU)', () => {
  beforeAll(async () => {
    if (!haveChromium) throw new Error(missingChromium);
    bundle = await buildBundle();
    const suite = await buildPage(join(root, 'test/browser/page/suite.ts'), { libraryUrl: './das-webgpu.js' });
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('### In the browser')))?.[1] ?? 'throw new Error("README.md: no ts block under ### In the browser")';
    const exampleJs = (await transform(example.replace(/from 'das-webgpu'/g, "from './das-webgpu.js'"), { loader: 'ts', format: 'esm' })).code;
    const { server, url } = await serve({
      '/': { body: '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>das-webgpu browser suite</title><script type="module" src="./suite.js"></script>' },
      '/suite.js': { body: suite },
      '/das-webgpu.js': bundle.file,
      '/fixtures/': join(root, 'test/fixtures'),
      '/models/': join(root, 'models'),
      '/readme-example.js': { body: exampleJs },
    });
    stop = () => server.close();
    s = await launch();
    await s.page.goto(`${url}/`);
    await s.page.waitForFunction(() => 'dasSuite' in globalThis, undefined, { timeout: 30_000 });
    info = await call('info');
    console.log(`[das-webgpu browser tests] Chromium ${s.version} (headless) + webgpu (${info.adapter ?? 'NO ADAPTER'}); bundle ${(bundle.bytes / 1024).toFixed(0)} KiB; fast-check seed ${seed}`);
  });

  afterAll(async () => {
    await s?.close();
    stop();
    bundle?.cleanup();
  });

  it('the bundle loads in a page as one ES module, with no Node built-in and no webgpu package, and finds the adapter', () => {
    const code = readFileSync(bundle.file, 'utf8');
    expect(code).not.toMatch(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']node:[a-z_/]+["']/);
    expect(code).not.toMatch(/from\s*["']webgpu["']|import\(\s*["']webgpu["']\)/);
    expect(info.bundleHasNoNode).toBe(true);
    expect(info.adapter, 'the browser gives no WebGPU adapter').not.toBeNull();
    expect(s.errors).toEqual([]);
  });

  it('every op: WebGPU equals the CPU reference on random shapes, values and VJPs', async () => {
    const r = await call('opsAgree', { runs, seed });
    expect(r.failures).toEqual([]);
  });

  it("a tiny RoBERTa's MLM loss and every parameter gradient: WebGPU equals the CPU reference", async () => {
    expect(await call('modelAgrees', { seed: seed % 1000 })).toEqual([]);
  });

  it('every op with a WebGPU rule ran on the browser adapter (add a case to test/support/op-cases.ts for a new op)', async () => {
    expect(await call('uncovered')).toEqual([]);
  });

  it('gradient check: WebGPU backward pass against central differences in f64', async () => {
    expect(await call('gradCheck', { seed: seed % 1000 })).toEqual([]);
  });

  it('RoBERTa forward and backward on the browser GPU match the PyTorch fixture (logits, loss, every gradient)', async () => {
    const r = await call('parity', { url: '/fixtures/roberta-A.safetensors' });
    expect(r.failures).toEqual([]);
    expect(r.tensors).toBeGreaterThan(30);
  });

  it("the README's browser example runs as written against the bundle", async () => {
    const before = s.console.length;
    await s.page.evaluate('import("./readme-example.js")'); // a string: vitest would rewrite a function's import()
    const logged = s.console.slice(before).join('\n');
    expect(logged).toMatch(/^log: \[ *1, *\d+, *128 *\]/m);
  });

  it('the page logged no error', () => {
    expect(s.errors).toEqual([]);
  });
});
