// Linux kernel documentation (Debian linux-doc-6.1), large variant only: subsystem of a paragraph.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DomainSource, SourceDoc } from '../domain.js';
import { englishRatio, oneLine, passages, sentences, wordCount } from '../text.js';
import { aptFetch } from './fetch.js';

/** The version moves with Debian security updates; the one found is recorded in the manifest. */
export const kernelDocsPackage = { name: 'linux-doc-6.1', version: '6.1.192-2' } as const;
const docRoot = 'usr/share/doc/linux-doc-6.1/Documentation';

/** Top-level directories used as labels (data-sources.md D4); other directories give text only. */
export const subsystemLabels = ['networking', 'filesystems', 'virt', 'trace', 'hwmon', 'sound', 'scsi', 'power'] as const;

const adornment = /^([=\-~^"'`#*+_:.])\1{3,}\s*$/;

/**
 * Prose paragraphs of a reStructuredText file: section titles (they name the subsystem),
 * directives, comments, literal blocks after "::", and table lines are dropped.
 */
export function rstParagraphs(source: string): string[] {
  const lines = source.replace(/\t/g, '        ').split('\n');
  const out: string[] = [];
  let block: string[] = [];
  let skipDeeperThan: number | null = null;                          // inside a directive or literal block
  const flush = () => {
    if (block.length > 0) out.push(inline(oneLine(block.join(' '))));
    block = [];
  };
  lines.forEach((line, i) => {
    const indent = line.length - line.trimStart().length;
    const blank = line.trim() === '';
    if (skipDeeperThan !== null) {
      if (blank || indent > skipDeeperThan) return;
      skipDeeperThan = null;
    }
    if (blank) return flush();
    if (adornment.test(line)) return void (block = []);                 // drops an overlined/underlined title
    if (adornment.test(lines[i + 1] ?? '') && block.length === 0) return;  // title line above its underline
    if (/^\s*\.\.(\s|$)/.test(line)) { flush(); skipDeeperThan = indent; return; }
    if (/^\s*[+|]/.test(line)) return flush();                          // grid table or line block
    block.push(line.trim());
    if (/::\s*$/.test(line)) { block[block.length - 1] = line.trim().replace(/::\s*$/, ':'); flush(); skipDeeperThan = indent; }
  });
  flush();
  return out;
}

/** Inline markup: roles, literals, references, emphasis, substitutions. */
function inline(s: string): string {
  return s
    .replace(/:[\w:+-]+:`([^`<]*?)\s*(?:<[^>]*>)?`/g, '$1')
    .replace(/``([^`]*)``/g, '$1')
    .replace(/`([^`<]*?)\s*(?:<[^>]*>)?`_{1,2}/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/\*([^*\s][^*]*)\*/g, '$1')
    .replace(/\|([\w -]+)\|/g, '$1')
    .replace(/\b(\w+)_\b/g, '$1');
}

function rstFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.rst.gz'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith('translations/'))                     // not English
    .sort();
}

export function loadKernelDocs(cacheDir: string): DomainSource {
  const { record, root } = aptFetch(kernelDocsPackage.name, kernelDocsPackage.version, cacheDir);
  const dir = join(root, docRoot);
  const labels = new Set<string>(subsystemLabels);
  const docs: SourceDoc[] = [];
  for (const path of rstFiles(dir)) {
    const prose = rstParagraphs(gunzipSync(readFileSync(join(dir, path))).toString('utf8'))
      .filter((p) => wordCount(p) >= 25 && englishRatio(p) >= 0.2 && !/[{};]\s*$/.test(p));
    if (prose.length === 0) continue;
    const top = path.split('/')[0];
    const label = labels.has(top) ? top : null;
    const texts = label === null ? [] : prose.flatMap((p) => passages(sentences(p), { minWords: 40, maxWords: 120, keepWords: 25 }));
    docs.push({ id: path, group: path, units: prose, passages: texts.map((text) => ({ text, label: label ?? '' })) });
  }
  if (docs.length === 0) throw new Error(`${record.file}: no .rst.gz prose found under ${docRoot}`);
  return { name: 'kernel-docs', labels: subsystemLabels, docs, packages: [record] };
}
