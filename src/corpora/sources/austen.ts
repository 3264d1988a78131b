// Jane Austen's six novels (Debian r-cran-janeaustenr), read from the R lazy-load data without R.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainSource, SourceDoc } from '../domain.js';
import { oneLine, passages, sentences, type PassageSize } from '../text.js';
import { aptFetch } from './fetch.js';
import { readLazyLoadDb } from './r-serialize.js';

export const austenPackage = { name: 'r-cran-janeaustenr', version: '1.0.0-1' } as const;
const dataDir = 'usr/lib/R/site-library/janeaustenr/data';

/** R object name -> label; the label order is the order of labels.json. */
const novels = [
  ['emma', 'emma'],
  ['mansfieldpark', 'mansfield-park'],
  ['northangerabbey', 'northanger-abbey'],
  ['persuasion', 'persuasion'],
  ['prideprejudice', 'pride-and-prejudice'],
  ['sensesensibility', 'sense-and-sensibility'],
] as const;
export const novelLabels = novels.map(([, label]) => label);

export const austenPassage: PassageSize = { minWords: 50, maxWords: 90, keepWords: 25 };

const chapterHeading = /^\s*chapter\s+([ivxlc]+|\d+)\.?\s*$/i;
const skippedHeading = /^\s*volume\s+([ivxlc]+|\d+)\.?\s*$/i;
/** Back matter after the last chapter (publisher's notes name the novel). */
const endOfNovel = /^\s*(the end|finis|a note on the text)\s*$/i;

export interface Chapter {
  readonly index: number;                       // 1-based, running over volumes
  readonly paragraphs: readonly string[];
}

/** Chapters of one novel from its lines; title pages, headings and back matter are dropped. */
export function chaptersOf(lines: readonly (string | null)[]): Chapter[] {
  const chapters: Chapter[] = [];
  let paragraphs: string[] | null = null;       // null until the first chapter heading
  let para: string[] = [];
  const endParagraph = () => {
    if (paragraphs !== null && para.length > 0) paragraphs.push(oneLine(para.join(' ')));
    para = [];
  };
  for (const line of lines.map((l) => l ?? '')) {
    if (endOfNovel.test(line)) break;
    if (chapterHeading.test(line)) {
      endParagraph();
      paragraphs = [];
      chapters.push({ index: chapters.length + 1, paragraphs });
    } else if (skippedHeading.test(line) || line.trim() === '') {
      endParagraph();
    } else {
      para.push(line.trim());
    }
  }
  endParagraph();
  return chapters.filter((c) => c.paragraphs.length > 0);
}

export function loadAusten(cacheDir: string): DomainSource {
  const { record, root } = aptFetch(austenPackage.name, austenPackage.version, cacheDir);
  const dir = join(root, dataDir);
  const db = readLazyLoadDb(readFileSync(join(dir, 'Rdata.rdx')), readFileSync(join(dir, 'Rdata.rdb')), `${record.file}:Rdata`);
  const docs: SourceDoc[] = [];
  for (const [object, label] of novels) {
    const vec = db.get(object);
    if (vec === undefined || vec === null || vec.type !== 'character') throw new Error(`${record.file}: ${object} is not a character vector`);
    const chapters = chaptersOf(vec.values);
    if (chapters.length < 10) throw new Error(`${record.file}: ${object} has only ${chapters.length} chapters`);
    for (const c of chapters) {
      const id = `${label}:${String(c.index).padStart(2, '0')}`;
      // Underscores mark italics in the Gutenberg transcription; they are not text.
      const paragraphs = c.paragraphs.map((p) => p.replace(/_/g, ''));
      const texts = passages(paragraphs.flatMap(sentences), austenPassage);
      docs.push({ id, group: id, units: paragraphs, passages: texts.map((text) => ({ text, label })) });
    }
  }
  return { name: 'austen', labels: novelLabels, docs, packages: [record] };
}
