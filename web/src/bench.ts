// The bench page: bench/'s own cases, measuring loop and report (npm run bench's code, bundled against the
// library bundle) on the visitor's WebGPU adapter, with the same markdown table. The anchors need network
// or Node (tfjs and jax-js are bench/'s npm dependencies, PyTorch a Python process): they are listed as
// not measured, with the reason, as npm run bench lists an unavailable anchor.
import { type Size, cases } from '../../bench/cases.js';
import { type CaseResult, TIMINGS, measureCase } from '../../bench/harness.js';
import { Ours } from '../../bench/impl/ours.js';
import { type ImplInfo, type Report, markdown } from '../../bench/report.js';
import { $, adapterLine, describe, openGpu, showError } from './common.js';

const browserName = (): string => {
  const ua = navigator.userAgent;
  const m = /(Edg|Chrome|Chromium|Firefox|Version)\/([\d.]+)/.exec(ua);
  const name = m?.[1] === 'Edg' ? 'Edge' : m?.[1] === 'Version' ? 'Safari' : m?.[1] ?? 'browser';
  return `${/Headless/.test(ua) ? 'Headless ' : ''}${name} ${m?.[2] ?? ''}`.trim();
};

/** The markdown report as HTML: headings, bullet lists, the table, paragraphs. */
function render(md: string): HTMLElement {
  const root = document.createElement('div');
  const lines = md.split('\n');
  const inline = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('## ')) { const h = document.createElement('h2'); h.innerHTML = inline(l.slice(3)); root.append(h); } else if (l.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].slice(1, -1).split('|').map((c) => c.trim()));
      i--;
      const t = document.createElement('table');
      t.id = 'bench-table';
      t.innerHTML = `<thead><tr>${rows[0].map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead><tbody>${rows.slice(2).map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody>`;
      root.append(t);
    } else if (l.startsWith('- ')) { const p = document.createElement('p'); p.className = 'note'; p.innerHTML = `• ${inline(l.slice(2))}`; root.append(p); } else if (l.trim() !== '') {
      const p = document.createElement('p'); p.className = 'note'; p.innerHTML = inline(l); root.append(p);
    }
  }
  return root;
}

/** The report's machine line, with what a page can know (npm run bench's names CPU, memory, OS and Node). */
const machineLine = (): string => {
  const mem = (navigator as { deviceMemory?: number }).deviceMemory;
  return `Machine: ${browserName()} on ${navigator.platform}, ${navigator.hardwareConcurrency} logical CPUs${mem ? `, ≥ ${mem} GiB` : ''} (what a page can see).`;
};

async function run(ours: Ours, description: string): Promise<void> {
  const size = $<HTMLSelectElement>('size').value as Size;
  const onlyText = $<HTMLInputElement>('only').value.trim();
  const only = onlyText === '' ? undefined : new RegExp(onlyText);
  const specs = cases(size).filter((c) => only === undefined || only.test(c.id));
  const started = performance.now();
  const info = ours.gpu.opened.info;
  const impls: ImplInfo[] = [
    { id: 'ours', label: 'das-webgpu', status: 'ok', description },
    { id: 'tfjs-webgpu', label: 'tfjs-webgpu', status: 'unavailable', description: 'not loaded: this page loads nothing from the network, and tfjs is bench/\'s own npm dependency (npm run bench measures it under Node)' },
  ];
  const results: CaseResult[] = [];
  const report = (): Report => ({
    schema: 'das-webgpu-bench/1', date: new Date().toISOString(), size,
    machine: { browser: browserName(), userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, memoryGiB: (navigator as { deviceMemory?: number }).deviceMemory, os: navigator.platform },
    adapter: { ...info }, impls, cases: results, cold: {},
    das: { status: 'skipped', note: 'the DAS step and importance figures are in npm run bench' },
    notes: [`In the browser (${browserName()}), WebGPU adapter ${adapterLine(ours.gpu)}. Figures are medians of interleaved samples, as npm run bench takes them.`],
    wallSeconds: (performance.now() - started) / 1000,
  });
  $('result').hidden = false;
  for (const [k, spec] of specs.entries()) {
    $('status').textContent = `case ${k + 1} of ${specs.length}: ${spec.label} …`;
    results.push(await measureCase(spec, [ours], TIMINGS[size], (s) => console.info(`[bench] ${s}`)));
    const md = markdown(report()).replace(/^Machine: .*$/m, machineLine());
    $('table').replaceChildren(render(md));
    $('markdown').textContent = md;
    await new Promise((r) => setTimeout(r, 0));
  }
  const step = results.find((r) => r.id === 'train_step')?.results.ours;
  $('status').textContent = `done: ${specs.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s${step?.medianMs !== undefined ? `; training step ${step.medianMs.toFixed(1)} ms` : ''}.`;
  document.body.dataset.bench = 'done';
  (globalThis as { benchReport?: Report }).benchReport = report();
}

async function start(): Promise<void> {
  const q = new URLSearchParams(location.search);
  if (q.has('size')) $<HTMLSelectElement>('size').value = q.get('size')!;
  if (q.has('only')) $<HTMLInputElement>('only').value = q.get('only')!;
  let ours: Ours, description: string;
  try {
    const g = await openGpu();
    ours = new Ours();
    await ours.init();
    description = `das-webgpu in ${browserName()} (${adapterLine(g)})`;
    $('adapter').textContent = `WebGPU: ${adapterLine(g)}`;
  } catch (e) {
    showError($('fatal'), e);
    document.body.dataset.failed = describe(e).title;
    return;
  }
  const go = async () => {
    $<HTMLButtonElement>('run').disabled = true;
    $('error').replaceChildren();
    try { await run(ours, description); } catch (e) { showError($('error'), e); document.body.dataset.failed = describe(e).title; } finally { $<HTMLButtonElement>('run').disabled = false; }
  };
  $('run').onclick = () => void go();
  $<HTMLButtonElement>('run').disabled = false;
  if (q.has('auto')) await go();
}

void start();
