// GCIDE dictionary (Debian dict-gcide), large variant only: subject field of a definition.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DomainSource, Example, SourceDoc } from '../domain.js';
import { oneLine, passages, sentences, wordCount } from '../text.js';
import { aptFetch } from './fetch.js';

export const gcidePackage = { name: 'dict-gcide', version: '0.48.5+nmu2' } as const;
const dictDir = 'usr/share/dictd';

/** Field label in the text -> task label (the ten largest fields, data-sources.md D5). */
const fields: Readonly<Record<string, string>> = {
  Zool: 'zoology', Bot: 'botany', Chem: 'chemistry', Med: 'medicine', Anat: 'anatomy',
  Naut: 'nautical', Min: 'mineralogy', Biol: 'biology', Mus: 'music', Arch: 'architecture',
};
export const fieldLabels = Object.values(fields);
const fieldMark = /\((Zool|Zoöl|Bot|Chem|Med|Anat|Naut|Min|Biol|Mus|Arch)\.\)/;
const anyFieldMark = /\((?:[A-Z][a-zö]{1,12}\.)(?:\s*(?:&|and)\s*[A-Z][a-zö]{1,12}\.)?\)/g;

const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const dictNumber = (s: string) => [...s].reduce((n, c) => n * 64 + b64.indexOf(c), 0);

/** GCIDE's ASCII escapes for accented letters ("['e]" = é); pronunciation marks are dropped. */
const accents: Readonly<Record<string, string>> = { "'": '\u0301', '`': '\u0300', '"': '\u0308', '~': '\u0303' };
function decodeEscapes(s: string): string {
  return s
    .replace(/\[(ae|oe|AE|OE)\]/g, (_, l: string) => ({ ae: 'æ', oe: 'œ', AE: 'Æ', OE: 'Œ' })[l] ?? l)
    .replace(/\[(['`"~])([a-zA-Z])\]/g, (_, mark: string, l: string) => l + (accents[mark] ?? ''))
    .replace(/\[[=.^]?([a-zA-Z])[=.^]?\]/g, '$1')
    .normalize('NFC');
}

/** Source notes, cross-reference braces and leftover escapes removed; one line. */
function cleanDefinition(s: string): string {
  return oneLine(
    decodeEscapes(s)
      .replace(/\[[^\]]*(Webster|WordNet|PJC|Dict\.|Suppl\.|Source)[^\]]*\]/g, ' ')
      .replace(/[{}]/g, '')
      .replace(anyFieldMark, ' '),
  ).replace(/^[\s,;:.]+/, '');
}

export function loadGcide(cacheDir: string): DomainSource {
  const { record, root } = aptFetch(gcidePackage.name, gcidePackage.version, cacheDir);
  const dict = gunzipSync(readFileSync(join(root, dictDir, 'gcide.dict.dz')));     // dictzip is gzip
  const index = readFileSync(join(root, dictDir, 'gcide.index'), 'utf8');
  const seen = new Set<number>();
  const docs: SourceDoc[] = [];
  for (const line of index.split('\n')) {
    const [word, off, len] = line.split('\t');
    if (!word || !off || !len || word.startsWith('00-database')) continue;
    const offset = dictNumber(off);
    if (seen.has(offset)) continue;                                   // several headwords, one entry
    seen.add(offset);
    const entry = dict.subarray(offset, offset + dictNumber(len)).toString('utf8');
    const { units, passages: labelled } = senses(entry);
    if (units.length === 0) continue;
    // Entries of one headword share a group, so homographs never straddle the split. The index
    // also lists words found inside entries, so the headword is read from the entry itself.
    const headword = /^([^\\\n]+?)\s*\\/.exec(entry)?.[1] ?? word;
    const group = decodeEscapes(headword).toLowerCase().normalize('NFD').replace(/[^a-z0-9 -]/g, '');
    docs.push({ id: `${headword}@${offset}`, group, units, passages: labelled });
  }
  if (docs.length === 0) throw new Error(`${record.file}: no entries read from gcide.index`);
  return { name: 'dictionary', labels: fieldLabels, docs, packages: [record] };
}

/**
 * Blank-line blocks of an entry are senses. A sense is labelled when its field mark comes first
 * (after the sense number, a compound headword, or the headword line); the mark is removed.
 */
function senses(entry: string): { units: string[]; passages: Example[] } {
  const units: string[] = [];
  const labelled: Example[] = [];
  entry.split(/\n\s*\n/).forEach((block, i) => {
    let body = block.trim();
    if (/^(Syn|Note)\b/.test(body)) return;
    let head = '';
    if (i === 0) {                                                    // headword line (+ etymology)
      const first = /^[^\n]*/.exec(body)?.[0] ?? '';
      head = first;
      body = body.slice(first.length);
      if ((first.match(/\[/g) ?? []).length > (first.match(/\]/g) ?? []).length) {
        head += body.slice(0, body.indexOf(']') + 1);
        body = body.slice(body.indexOf(']') + 1);
      }
    }
    const mark = fieldMark.exec(body) ?? (i === 0 ? fieldMark.exec(head) : null);
    const text = cleanDefinition(mark !== null && mark.input === body ? body.slice(mark.index + mark[0].length) : body.replace(/^\s*\d+\.\s*/, ''));
    if (wordCount(text) < 6) return;
    units.push(text);
    if (mark === null) return;
    const before = mark.input === body ? body.slice(0, mark.index).trim() : '';
    if (before !== '' && !/^\d+\.(\s*\([a-z]\))?$/.test(before) && !/^\{[^}]*\}$/.test(before)) return;
    const label = fields[mark[1] === 'Zoöl' ? 'Zool' : mark[1]];
    if (label === undefined || wordCount(text) < 8 || /\[[a-z]{2,6}\]/.test(text)) return;
    for (const p of passages(sentences(text), { minWords: 40, maxWords: 120, keepWords: 8 })) labelled.push({ text: p, label });
  });
  return { units, passages: labelled };
}
