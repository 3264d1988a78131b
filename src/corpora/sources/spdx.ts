// SPDX licence texts (npm spdx-license-list): licence family of a paragraph, split by version group.
import type { DomainSource, SourceDoc } from '../domain.js';
import { dedupKey, englishRatio, oneLine, passages, sentences, wordCount } from '../text.js';
import { npmPack, readTgz } from './fetch.js';

export const spdxPackage = { name: 'spdx-license-list', version: '6.12.0' } as const;

export const licenceLabels = ['gnu', 'creative-commons', 'permissive', 'weak-copyleft', 'european'] as const;

/** Family from the SPDX id (data-sources.md D6); ids outside the five families are not used. */
export function licenceFamily(id: string): string | null {
  if (/^(A|L)?GPL|^GFDL|^LGPLLR$/.test(id)) return 'gnu';
  if (/^CC-/.test(id)) return 'creative-commons';
  if (/^(CECILL|EUPL)/.test(id)) return 'european';
  if (/^(MPL|EPL|CPL|APSL|OSL|AFL|CDDL)-/.test(id)) return 'weak-copyleft';
  if (/^(0BSD|BSD|MIT|X11|HPND|Apache|ZPL|OLDAP|ISC)/.test(id)) return 'permissive';
  return null;
}

/**
 * Split group: texts that are near-copies of each other (-only/-or-later, exceptions, CC ports and
 * variants of one CC version, the BSD/MIT/HPND zoos, CPL = EPL-1.0, AFL ~ OSL) share a group.
 */
export function licenceGroup(id: string): string {
  const base = id.replace(/\+$/, '').replace(/-(only|or-later)$/, '').replace(/-with-.*$/, '').replace(/-(no-)?invariants.*$/, '');
  const major = /-(\d+)(?:\.\d+)*\b/.exec(base)?.[1] ?? '';
  const cc = /^CC-.*?(\d)\.\d/.exec(base);
  if (cc) return `CC-${cc[1]}`;
  if (/^CC-/.test(base)) return 'CC-public-domain';
  for (const zoo of ['BSD', '0BSD', 'MIT', 'X11', 'HPND', 'OLDAP', 'ZPL', 'ISC']) if (base.startsWith(zoo)) return zoo === '0BSD' ? 'ISC' : zoo === 'X11' ? 'MIT' : zoo;
  if (/^(CPL|EPL)-1/.test(base)) return 'EPL-1';
  if (/^(AFL|OSL)-/.test(base)) return `AFL-OSL-${major}`;
  if (/^GFDL/.test(base)) return 'GFDL';
  if (/^LGPL-2/.test(base)) return 'LGPL-2';
  if (/^CECILL-[BC]$/.test(base)) return base;
  const family = /^[A-Za-z]+/.exec(base)?.[0] ?? base;
  return major === '' ? base : `${family}-${major}`;
}

interface LicenceJson {
  name?: unknown;
  licenseText?: unknown;
}

export function loadLicences(cacheDir: string): DomainSource {
  const record = npmPack(spdxPackage.name, spdxPackage.version, cacheDir);
  const files = readTgz(`${cacheDir}/${record.file}`);
  const docs: SourceDoc[] = [];
  const ids = [...files.keys()].filter((p) => /^licenses\/[^/]+\.json$/.test(p)).sort();
  for (const path of ids) {
    const id = path.slice('licenses/'.length, -'.json'.length);
    const label = licenceFamily(id);
    if (label === null) continue;
    const json = JSON.parse((files.get(path) ?? Buffer.alloc(0)).toString('utf8')) as LicenceJson;
    if (typeof json.licenseText !== 'string' || typeof json.name !== 'string') throw new Error(`${record.file}: ${path} lacks name/licenseText`);
    const units = json.licenseText.split(/\n\s*\n/).map(oneLine).filter((p) => p !== '');
    if (englishRatio(units.join(' ')) < 0.2) continue;                   // French/German/Dutch texts and ports
    const passages = taskPassages(units, id, json.name).map((text) => ({ text, label }));
    docs.push({ id, group: licenceGroup(id), units, passages });
  }
  return { name: 'licences', labels: licenceLabels, docs, packages: [record], wholeDocs: true };
}

/** Paragraphs of ≥ 15 words, without the title/identifier lines that would name the licence. */
function taskPassages(units: readonly string[], id: string, name: string): string[] {
  const names = [id, name, id.replace(/-(only|or-later)$/, '')].map(dedupKey);
  const out: string[] = [];
  for (const unit of units) {
    const key = ` ${dedupKey(unit)} `;
    if (wordCount(unit) < 15 || englishRatio(unit) < 0.2) continue;
    if (names.some((n) => key.includes(` ${n} `))) continue;
    out.push(...passages(sentences(unit), { minWords: 40, maxWords: 120, keepWords: 15 }));
  }
  return out;
}
