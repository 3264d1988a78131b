// World English Bible (Debian sword-text-web): SWORD zText decoder; genre of a 3-verse window.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { DomainSource, SourceDoc } from '../domain.js';
import { oneLine, wordCount } from '../text.js';
import { aptFetch } from './fetch.js';

export const swordPackage = { name: 'sword-text-web', version: '426.0-1' } as const;
const moduleDir = 'usr/share/sword/modules/texts/ztext/engWEB2015eb';

export const genreLabels = ['law', 'history', 'wisdom', 'prophets', 'gospels-acts', 'epistles-revelation'] as const;

/** OSIS book ids of the NRSVA versification (with deuterocanon) by genre (data-sources.md D1). */
const genreBooks: Record<(typeof genreLabels)[number], string> = {
  law: 'Gen Exod Lev Num Deut',
  history: 'Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth Tob Jdt EsthGr 1Macc 2Macc 1Esd 3Macc 4Macc',
  wisdom: 'Job Ps Prov Eccl Song Wis Sir PrMan AddPs',
  prophets: 'Isa Jer Lam Ezek Dan DanGr Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag Zech Mal Bar EpJer 2Esd',
  'gospels-acts': 'Matt Mark Luke John Acts',
  'epistles-revelation': 'Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas 1Pet 2Pet 1John 2John 3John Jude Rev',
};
const genreOf = new Map(Object.entries(genreBooks).flatMap(([g, books]) => books.split(' ').map((b) => [b, g] as const)));

export interface Verse {
  readonly book: string;
  readonly chapter: string;     // "Gen.1"
  readonly text: string;
  /** The verse opens a paragraph or a poetry stanza (used to cut post-training lines). */
  readonly opensParagraph: boolean;
}

/**
 * zText: `.bzs` = 12-byte block records (offset, compressed size, size; LE u32) into the zlib
 * `.bzz`; `.bzv` = 10-byte verse records (block u32, offset u32, size u16). Entries are in
 * versification order; book and chapter come from the OSIS start milestones inside the text,
 * and text before a book's first chapter (prefaces, introductions) is skipped.
 */
export function readZText(dir: string, testament: 'ot' | 'nt'): Verse[] {
  const bzs = readFileSync(join(dir, `${testament}.bzs`));
  const bzv = readFileSync(join(dir, `${testament}.bzv`));
  const bzz = readFileSync(join(dir, `${testament}.bzz`));
  const blocks: Buffer[] = [];
  for (let i = 0; i + 12 <= bzs.length; i += 12) {
    const offset = bzs.readUInt32LE(i);
    blocks.push(inflateSync(bzz.subarray(offset, offset + bzs.readUInt32LE(i + 4))));
  }
  const verses: Verse[] = [];
  let book: string | null = null;
  let chapter: string | null = null;
  for (let i = 0; i + 10 <= bzv.length; i += 10) {
    const size = bzv.readUInt16LE(i + 8);
    if (size === 0) continue;
    const block = blocks[bzv.readUInt32LE(i)];
    if (block === undefined) throw new Error(`${testament}.bzv entry ${i / 10}: block out of range`);
    const offset = bzv.readUInt32LE(i + 4);
    const raw = block.subarray(offset, offset + size).toString('utf8');
    let opensParagraph = false;
    for (const tag of startTags(raw)) {
      if (tag.name === 'div' && tag.attrs.type === 'book') { book = tag.attrs.osisID ?? null; chapter = null; }
      if (tag.name === 'chapter') chapter = tag.attrs.osisID ?? null;
      if ((tag.name === 'div' && tag.attrs.type === 'x-p') || tag.name === 'lg') opensParagraph = true;
    }
    const text = verseText(raw);
    if (book !== null && chapter !== null && text !== '') verses.push({ book, chapter, text, opensParagraph });
  }
  return verses;
}

/** Start (sID) milestones and plain start tags; end milestones (eID) repeat osisID and are ignored. */
function* startTags(raw: string): Generator<{ name: string; attrs: Record<string, string> }> {
  for (const m of raw.matchAll(/<(\w+)\b([^>]*)>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/(\w+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    if (attrs.eID === undefined) yield { name: m[1], attrs };
  }
}

/** Drops footnotes, headings and speaker labels (not verse text), then all remaining markup. */
export function verseText(raw: string): string {
  const text = raw
    .replace(/<note\b[^>]*>[\s\S]*?<\/note>/g, ' ')
    .replace(/<(title|speaker)\b[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]*>/g, (tag) => (/^<(l|lb|div|lg|item)\b/.test(tag) ? ' ' : ''))
    .replace(/&amp;/g, '&');
  return oneLine(text).replace(/\s+([,.;:!?”’])/g, '$1');
}

const maxUnitWords = 200;

export function loadBible(cacheDir: string): DomainSource {
  const { record, root } = aptFetch(swordPackage.name, swordPackage.version, cacheDir);
  const dir = join(root, moduleDir);
  const verses = [...readZText(dir, 'ot'), ...readZText(dir, 'nt')];
  if (verses.length === 0) throw new Error(`${record.file}: no verses decoded from ${moduleDir}`);
  const byChapter = new Map<string, Verse[]>();
  for (const v of verses) {
    const list = byChapter.get(v.chapter) ?? [];
    list.push(v);
    byChapter.set(v.chapter, list);
  }
  const docs: SourceDoc[] = [];
  for (const [chapter, list] of byChapter) {
    const label = genreOf.get(list[0].book);
    if (label === undefined) throw new Error(`${record.file}: book ${list[0].book} has no genre`);
    docs.push({ id: chapter, group: chapter, units: paragraphs(list), passages: windows(list, 3).map((text) => ({ text, label })) });
  }
  return { name: 'bible', labels: genreLabels, docs, packages: [record] };
}

/** Post-training lines: the module's own paragraphs, cut at ~200 words. */
function paragraphs(verses: readonly Verse[]): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  for (const v of verses) {
    if (cur.length > 0 && (v.opensParagraph || wordCount(cur.join(' ')) >= maxUnitWords)) { out.push(cur.join(' ')); cur = []; }
    cur.push(v.text);
  }
  if (cur.length > 0) out.push(cur.join(' '));
  return out;
}

/** Non-overlapping windows of `n` verses; short leftovers (< 15 words) are dropped. */
function windows(verses: readonly Verse[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < verses.length; i += n) {
    const text = verses.slice(i, i + n).map((v) => v.text).join(' ');
    if (wordCount(text) >= 15) out.push(text);
  }
  return out;
}
