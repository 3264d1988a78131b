// The shape every domain source hands to the assembler, and the labelled example format.
import type { PackageRecord } from './sources/fetch.js';

/** One document of a domain: the unit that train/test splits never cut. */
export interface SourceDoc {
  /** Stable id, e.g. "Gen.1", "1790_george_washington_n", "MIT". */
  readonly id: string;
  /** Split unit: all documents of a group land on the same side (chapter, president, licence version). */
  readonly group: string;
  /** Unlabelled post-training lines (paragraphs), in reading order. */
  readonly units: readonly string[];
  /** Candidate end-task passages with their labels, already free of label-revealing headings. */
  readonly passages: readonly Example[];
}

export interface DomainSource {
  readonly name: string;
  /** Ordered label list (written to labels.json). */
  readonly labels: readonly string[];
  readonly docs: readonly SourceDoc[];
  readonly packages: readonly PackageRecord[];
  /** Post-training text keeps whole documents (licence texts must not be cut or altered). */
  readonly wholeDocs?: boolean;
}

export type { Example } from '../data/validate.js';
import type { Example } from '../data/validate.js';

/** Per-domain sizes for one variant. */
export interface DomainBudget {
  /** Bytes of unlabelled post-training text. */
  readonly trainBytes: number;
  /** Task examples per label (upper bounds: small classes give fewer). */
  readonly trainPerLabel: number;
  readonly testPerLabel: number;
  /** Share of each label's passages whose groups go to the test side. */
  readonly testFraction: number;
}
