// Offline checks of the parsers and the split logic behind build-corpora (no packages needed).
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { splitGroups } from '../../src/corpora/assemble.js';
import type { DomainSource } from '../../src/corpora/domain.js';
import { mulberry32, shuffled } from '../../src/corpora/random.js';
import { chaptersOf } from '../../src/corpora/sources/austen.js';
import { detokenize } from '../../src/corpora/sources/brown.js';
import { rstParagraphs } from '../../src/corpora/sources/kernel-docs.js';
import { readLazyLoadDb } from '../../src/corpora/sources/r-serialize.js';
import { cleanTranscript, eraOf } from '../../src/corpora/sources/sotu.js';
import { licenceFamily, licenceGroup } from '../../src/corpora/sources/spdx.js';
import { verseText } from '../../src/corpora/sources/sword.js';
import { passages, sentences } from '../../src/corpora/text.js';

describe('text helpers', () => {
  it('keeps titles and initials inside sentences', () => {
    expect(sentences('Mr. Darcy came. J. Smith left! Did he? Yes.')).toEqual(['Mr. Darcy came.', 'J. Smith left!', 'Did he?', 'Yes.']);
  });

  it('groups sentences into bounded passages', () => {
    const s = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} has six words.`);
    const out = passages(s, { minWords: 20, maxWords: 30, keepWords: 10 });
    for (const p of out) expect(p.split(' ').length).toBeGreaterThanOrEqual(10);
    for (const p of out) expect(p.split(' ').length).toBeLessThanOrEqual(30);
    expect(out.join(' ')).toBe(s.join(' '));
  });

  it('draws the same shuffle from the same seed', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    expect(shuffled(xs, mulberry32(7))).toEqual(shuffled(xs, mulberry32(7)));
    expect(shuffled(xs, mulberry32(7))).not.toEqual(shuffled(xs, mulberry32(8)));
  });
});

describe('sources', () => {
  it('detokenizes Brown word/TAG lines', () => {
    expect(detokenize("``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.")).toBe('"Only a handful", the jury said.');
    expect(detokenize('Mayor/nn-tl Ivan/np Allen/np Jr./np ./.')).toBe('Mayor Ivan Allen Jr.');
  });

  it('drops footnotes, titles and markup from OSIS verses', () => {
    const raw = '<title type="psalm">A Psalm.</title><w lemma="strong:H0430">God</w><note placement="foot">a note</note> <w>saw</w> it , <l level="1"/>good.';
    expect(verseText(raw)).toBe('God saw it, good.');
  });

  it('cuts novels into chapters without headings or back matter', () => {
    const lines = ['EMMA', '', 'VOLUME I', '', 'CHAPTER I', '', 'First line', 'goes on.', '', 'Second.', '', 'CHAPTER II', '', 'More.', '', 'FINIS', 'publisher'];
    expect(chaptersOf(lines)).toEqual([
      { index: 1, paragraphs: ['First line goes on.', 'Second.'] },
      { index: 2, paragraphs: ['More.'] },
    ]);
  });

  it('removes audience reactions from addresses and maps years to eras', () => {
    expect(cleanTranscript('Thank you. [Applause] We will (Laughter.) act [the States] now.').replace(/\s+/g, ' ')).toBe('Thank you. We will act the States now.');
    expect([1790, 1839, 1840, 1989, 1990, 2021].map(eraOf)).toEqual(['1790-1839', '1790-1839', '1840-1889', '1940-1989', '1990-2021', '1990-2021']);
  });

  it('groups licence near-copies together', () => {
    expect(licenceGroup('GPL-2.0-or-later')).toBe(licenceGroup('GPL-2.0-with-GCC-exception'));
    expect(licenceGroup('CC-BY-SA-3.0-DE')).toBe(licenceGroup('CC-BY-NC-3.0'));
    expect(licenceGroup('CPL-1.0')).toBe(licenceGroup('EPL-1.0'));
    expect(licenceGroup('GPL-2.0')).not.toBe(licenceGroup('GPL-3.0'));
    expect([licenceFamily('LGPL-2.1'), licenceFamily('MIT'), licenceFamily('EUPL-1.2'), licenceFamily('Beerware')]).toEqual(['gnu', 'permissive', 'european', null]);
  });

  it('keeps reST prose and drops titles, directives and literal blocks', () => {
    const rst = ['Title', '=====', '', 'Some ``code`` and :ref:`a link <x>` here::', '', '    literal', '', '.. note::', '', '   hidden', '', 'Last *para*.'].join('\n');
    expect(rstParagraphs(rst)).toEqual(['Some code and a link here:', 'Last para.']);
  });
});

/** An XDR (version 3) serialization of an R character vector. */
function xdrStrings(values: string[]): Buffer {
  const int = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const chars = (s: string) => Buffer.concat([int(0x00040009), int(Buffer.byteLength(s)), Buffer.from(s)]);
  return Buffer.concat([Buffer.from('X\n'), int(3), int(0x40201), int(0x30500), int(5), Buffer.from('UTF-8'), int(16), int(values.length), ...values.map(chars)]);
}

describe('R lazy-load database', () => {
  it('reads named character vectors through the .rdx index', () => {
    const payload = xdrStrings(['PERSUASION', '', 'Chapter 1']);
    const rec = Buffer.concat([Buffer.alloc(4), deflateSync(payload)]);
    rec.writeUInt32BE(payload.length, 0);
    const int = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
    const sym = (s: string) => Buffer.concat([int(1), int(0x00040009), int(s.length), Buffer.from(s)]);
    // list(variables = list(persuasion = c(0L, len)))  with names attributes
    const inner = Buffer.concat([int(0x213), int(1), int(13), int(2), int(0), int(rec.length), int(0x402), sym('names'), int(16), int(1), int(0x00040009), int(10), Buffer.from('persuasion'), int(254)]);
    const outer = Buffer.concat([int(0x213), int(1), inner, int(0x402), int(0x1ff), int(16), int(1), int(0x00040009), int(9), Buffer.from('variables'), int(254)]);
    const rdx = gzipSync(Buffer.concat([Buffer.from('X\n'), int(3), int(0x40201), int(0x30500), int(5), Buffer.from('UTF-8'), outer]));
    const db = readLazyLoadDb(rdx, rec, 'test');
    const v = db.get('persuasion');
    expect(v !== null && v !== undefined && v.type === 'character' ? v.values : null).toEqual(['PERSUASION', '', 'Chapter 1']);
  });
});

describe('splitGroups', () => {
  const src: DomainSource = {
    name: 'toy',
    labels: ['a', 'b'],
    packages: [],
    docs: Array.from({ length: 40 }, (_, i) => ({
      id: `d${i}`,
      group: `g${i % 20}`,
      units: [],
      passages: Array.from({ length: 5 }, (_, k) => ({ text: `t${i}-${k}`, label: i % 2 === 0 ? 'a' : 'b' })),
    })),
  };

  it('holds out about the requested share of each label and keeps a train group per label', () => {
    const test = splitGroups(src, 0.3, mulberry32(1));
    for (const label of src.labels) {
      const docs = src.docs.filter((d) => d.passages[0].label === label);
      const held = docs.filter((d) => test.has(d.group)).length / docs.length;
      expect(held).toBeGreaterThanOrEqual(0.3);
      expect(held).toBeLessThan(0.5);
    }
  });
});
