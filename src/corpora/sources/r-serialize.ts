// Minimal reader for R's XDR serialization (saveRDS, lazy-load .rdb/.rdx), enough for data packages.
import { gunzipSync, inflateSync } from 'node:zlib';

/** The R values we decode; other SEXP types raise an error naming the type. */
export type RValue =
  | null
  | { readonly type: 'character'; readonly values: readonly (string | null)[]; readonly attributes: RAttributes }
  | { readonly type: 'integer' | 'logical' | 'double'; readonly values: readonly number[]; readonly attributes: RAttributes }
  | { readonly type: 'list'; readonly values: readonly RValue[]; readonly attributes: RAttributes }
  | { readonly type: 'symbol'; readonly name: string };

export type RAttributes = ReadonlyMap<string, RValue>;

const NILVALUE = 254, REFSXP = 255, SYMSXP = 1, LISTSXP = 2, CHARSXP = 9, LGLSXP = 10, INTSXP = 13;
const REALSXP = 14, STRSXP = 16, VECSXP = 19;
const NA_INTEGER = -2147483648;

class XdrReader {
  private pos = 0;
  private readonly refs: RValue[] = [];
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  private fail(msg: string): never {
    throw new Error(`${this.what}: ${msg} at byte ${this.pos}`);
  }
  private int(): number {
    if (this.pos + 4 > this.buf.length) this.fail('unexpected end of data');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** "X\n", format version, writer and minimum R versions; v3 adds the native encoding name. */
  header(): void {
    if (this.buf.toString('latin1', 0, 2) !== 'X\n') this.fail('not an XDR serialization (expected "X\\n")');
    this.pos = 2;
    const version = this.int();
    this.int();
    this.int();
    if (version === 3) {
      const encodingLength = this.int();                            // read before moving pos
      this.pos += encodingLength;
    }
    else if (version !== 2) this.fail(`unsupported serialization version ${version}`);
  }

  item(): RValue {
    const flags = this.int();
    const type = flags & 0xff;
    const hasAttr = (flags & 0x200) !== 0;
    const hasTag = (flags & 0x400) !== 0;
    switch (type) {
      case NILVALUE:
        return null;
      case REFSXP: {
        const index = (flags >> 8) === 0 ? this.int() : flags >> 8;
        return this.refs[index - 1] ?? this.fail(`dangling reference ${index}`);
      }
      case SYMSXP: {
        const sym: RValue = { type: 'symbol', name: this.charsxp() ?? '' };
        this.refs.push(sym);
        return sym;
      }
      case LISTSXP:
        return this.pairlist(hasAttr, hasTag);
      case STRSXP: {
        const values = Array.from({ length: this.int() }, () => this.charsxp());
        return { type: 'character', values, attributes: this.attributes(hasAttr) };
      }
      case LGLSXP:
      case INTSXP: {
        const values = Array.from({ length: this.int() }, () => { const v = this.int(); return v === NA_INTEGER ? NaN : v; });
        return { type: type === INTSXP ? 'integer' : 'logical', values, attributes: this.attributes(hasAttr) };
      }
      case REALSXP: {
        const n = this.int();
        const values = Array.from({ length: n }, (_, i) => this.buf.readDoubleBE(this.pos + 8 * i));
        this.pos += 8 * n;
        return { type: 'double', values, attributes: this.attributes(hasAttr) };
      }
      case VECSXP: {
        const values = Array.from({ length: this.int() }, () => this.item());
        return { type: 'list', values, attributes: this.attributes(hasAttr) };
      }
      default:
        return this.fail(`unsupported R type ${type}`);
    }
  }

  /** CHARSXP: flags (encoding bits in the levels), length (-1 = NA), bytes. */
  private charsxp(): string | null {
    const flags = this.int();
    if ((flags & 0xff) !== CHARSXP) this.fail(`expected CHARSXP, got type ${flags & 0xff}`);
    const len = this.int();
    if (len === -1) return null;
    const latin1 = ((flags >> 12) & 4) !== 0;
    const s = this.buf.toString(latin1 ? 'latin1' : 'utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A pairlist as a list with names; used for attributes and for pairlist values. */
  private pairlist(hasAttr: boolean, hasTag: boolean): RValue {
    const names: string[] = [];
    const values: RValue[] = [];
    let attr = hasAttr, tag = hasTag;
    for (;;) {
      if (attr) this.item();                                        // attributes of a cons cell: unused
      const t = tag ? this.item() : null;
      names.push(t !== null && t.type === 'symbol' ? t.name : '');
      values.push(this.item());
      const next = this.int();
      if ((next & 0xff) === NILVALUE) break;
      if ((next & 0xff) !== LISTSXP) this.fail(`malformed pairlist (type ${next & 0xff})`);
      attr = (next & 0x200) !== 0;
      tag = (next & 0x400) !== 0;
    }
    const nameVec: RValue = { type: 'character', values: names, attributes: new Map() };
    return { type: 'list', values, attributes: new Map([['names', nameVec]]) };
  }

  private attributes(has: boolean): RAttributes {
    if (!has) return new Map();
    const list = this.item();
    const out = new Map<string, RValue>();
    if (list !== null && list.type === 'list') {
      const names = list.attributes.get('names');
      list.values.forEach((v, i) => out.set(names?.type === 'character' ? (names.values[i] ?? '') : '', v));
    }
    return out;
  }
}

/** Deserialize one XDR stream (the bytes after decompression). */
export function unserialize(buf: Buffer, what: string): RValue {
  const r = new XdrReader(buf, what);
  r.header();
  return r.item();
}

/** Names of a list or vector (attribute "names"). */
export function namesOf(v: RValue): (string | null)[] {
  if (v === null || v.type === 'symbol') return [];
  const names = v.attributes.get('names');
  return names !== undefined && names !== null && names.type === 'character' ? [...names.values] : [];
}

/**
 * Lazy-load database: the .rdx is a gzip'd saveRDS of list(variables = list(name = c(offset, length)),
 * …); each .rdb record at `offset` is [4-byte big-endian uncompressed length][zlib stream].
 */
export function readLazyLoadDb(rdx: Buffer, rdb: Buffer, what: string): Map<string, RValue> {
  const index = unserialize(gunzipSync(rdx), `${what}.rdx`);
  if (index === null || index.type !== 'list') throw new Error(`${what}.rdx: expected a list`);
  const variables = index.values[namesOf(index).indexOf('variables')];
  if (variables === undefined || variables === null || variables.type !== 'list') throw new Error(`${what}.rdx: no "variables" entry`);
  const out = new Map<string, RValue>();
  namesOf(variables).forEach((name, i) => {
    const pos = variables.values[i];
    if (name === null || pos === null || pos.type !== 'integer' || pos.values.length !== 2) throw new Error(`${what}.rdx: bad entry for ${name}`);
    const [offset, length] = pos.values;
    const record = rdb.subarray(offset, offset + length);
    const data = inflateSync(record.subarray(4));
    if (data.length !== record.readUInt32BE(0)) throw new Error(`${what}.rdb: ${name} inflates to ${data.length} bytes, header says ${record.readUInt32BE(0)}`);
    out.set(name, unserialize(data, `${what}.rdb:${name}`));
  });
  return out;
}
