import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E } from '../../src/fp.js';
import {
  parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, type HostArray, type Safetensors,
} from '../../src/io/safetensors.js';

/** A file from a header object and raw data bytes, bypassing the writer's checks. */
const rawFile = (header: unknown, data: Uint8Array | number[] = []): Uint8Array => {
  const head = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
};
const u16 = (...xs: number[]) => new Uint8Array(new Uint16Array(xs).buffer);

const problem = (r: E.Either<Error, unknown>): string => (E.isLeft(r) ? r.left.message : 'parsed fine');
const parsed = (r: E.Either<Error, Safetensors>): Safetensors => {
  if (E.isLeft(r)) throw r.left;
  return r.right;
};

const arbShape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
const arbHostArray: fc.Arbitrary<HostArray> = arbShape.chain((shape) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const f32 = fc.float({ noNaN: true }).map(Math.fround);
  return fc.oneof(
    fc.array(f32, { minLength: n, maxLength: n }).map((xs): HostArray => ({ dtype: 'f32', shape, data: Float32Array.from(xs) })),
    fc.array(fc.double({ noNaN: true }), { minLength: n, maxLength: n }).map((xs): HostArray => ({ dtype: 'f64', shape, data: Float64Array.from(xs) })),
    fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n }).chain((xs) =>
      fc.constantFrom<'i32' | 'i64'>('i32', 'i64').map((dtype): HostArray => ({ dtype, shape, data: Int32Array.from(xs) }))),
  );
});
const arbTensors = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), arbHostArray), {
  selector: ([name]) => name,
  maxLength: 5,
}).map((entries) => new Map(entries));
const arbMetadata = fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 });

/** A small valid file with every writable dtype. */
const sample = (): Uint8Array =>
  serializeSafetensors(
    new Map<string, HostArray>([
      ['embeddings.word', { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 7]) }],
      ['ids', { dtype: 'i64', shape: [3], data: Int32Array.from([0, -1, 5]) }],
      ['step', { dtype: 'i32', shape: [], data: Int32Array.from([42]) }],
      ['scale', { dtype: 'f64', shape: [1], data: Float64Array.from([Math.PI]) }],
    ]),
    { format: 'pt' },
  );

describe('safetensors round trip', () => {
  it('reads back what it writes, metadata included', () => {
    fc.assert(
      fc.property(arbTensors, arbMetadata, (tensors, metadata) => {
        const back = parsed(parseSafetensors(serializeSafetensors(tensors, metadata)));
        expect(back.metadata).toEqual(metadata);
        expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
        for (const [name, a] of tensors) expect(back.tensors.get(name)).toEqual(a);
      }),
    );
  });

  it('pads the header so the data starts on an 8-byte boundary', () => {
    const bytes = sample();
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8).toBe(0);
  });

  it('accepts a Record as well as a Map and a tensor named __proto__', () => {
    const tensors = JSON.parse('{"__proto__": 1}') as Record<string, unknown>;
    tensors['__proto__'] = { dtype: 'f32', shape: [1], data: Float32Array.from([2]) };
    const back = parsed(parseSafetensors(serializeSafetensors(tensors as Record<string, HostArray>)));
    expect(back.tensors.get('__proto__')?.data).toEqual(Float32Array.from([2]));
  });

  it('writes f16 and bf16 arrays losslessly as F32', () => {
    const back = parsed(parseSafetensors(serializeSafetensors({ h: { dtype: 'bf16', shape: [1], data: Float32Array.from([1.5]) } })));
    expect(back.tensors.get('h')).toEqual({ dtype: 'f32', shape: [1], data: Float32Array.from([1.5]) });
  });

  it('refuses to write an array whose shape does not match its data', () => {
    expect(() => serializeSafetensors({ x: { dtype: 'f32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/"x".*does not match 3 elements/);
    expect(() => serializeSafetensors({ x: { dtype: 'i32', shape: [1], data: new Float32Array(1) } as unknown as HostArray })).toThrow(/dtype i32/);
  });
});

describe('safetensors decoding', () => {
  it('decodes F16 against hand-computed values', () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00, 0x7e00];
    const want = [1, -2, 65504, 2 ** -24, 2 ** -14, 0.333251953125, -0, Infinity, -Infinity, NaN];
    const file = rawFile({ h: { dtype: 'F16', shape: [10], data_offsets: [0, 20] } }, u16(...bits));
    const h = parsed(parseSafetensors(file)).tensors.get('h');
    expect(h?.dtype).toBe('f16');
    expect(Array.from(h?.data ?? [])).toEqual(want);
  });

  it('decodes BF16 against hand-computed values', () => {
    const bits = [0x3f80, 0xc040, 0x4049, 0x0001, 0x7f80, 0xff80];
    const want = [1, -3, 3.140625, 2 ** -133, Infinity, -Infinity];
    const file = rawFile({ b: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 12] } }, u16(...bits));
    const b = parsed(parseSafetensors(file)).tensors.get('b');
    expect(b).toEqual({ dtype: 'bf16', shape: [2, 3], data: Float32Array.from(want) });
  });

  it('narrows I64 to int32 and names the tensor when a value does not fit', () => {
    const words = (...xs: bigint[]) => new Uint8Array(BigInt64Array.from(xs).buffer);
    const ok = rawFile({ pos: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, words(-(2n ** 31n), 2n ** 31n - 1n, 7n));
    expect(parsed(parseSafetensors(ok)).tensors.get('pos')?.data).toEqual(Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 7]));
    const big = rawFile({ pos: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, words(1n, 2n ** 31n));
    expect(problem(parseSafetensors(big, 'm.safetensors'))).toBe('m.safetensors: tensor "pos": I64 element 1 does not fit in int32');
  });
});

describe('safetensors errors', () => {
  const f32 = (offsets: unknown, shape: unknown = [1]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', new Uint8Array(5), /5 bytes, fewer than the 8-byte header length/],
    ['a header length past the end', rawFile({}).subarray(0, 9), /header length 2 runs past the end of the 9-byte file/],
    ['a header length over the limit', Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]), /exceeds the 100000000-byte limit/],
    ['bad JSON', rawFile('{"a": '), /header is not valid UTF-8 JSON/],
    ['invalid UTF-8', rawFile(Uint8Array.from([0x7b, 0xff, 0x7d])), /not valid UTF-8 JSON/],
    ['a header that is a list', rawFile([1, 2]), /header is not a JSON object/],
    ['an unknown dtype', rawFile({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, [0]), /tensor "w": unsupported dtype "Q4"/],
    ['a negative dimension', rawFile({ w: f32([0, 4], [-1]) }, [0, 0, 0, 0]), /tensor "w": shape \[-1\] is not a list/],
    ['reversed offsets', rawFile({ w: f32([4, 0]) }, [0, 0, 0, 0]), /tensor "w": data_offsets \[4,0\] is not a pair/],
    ['a shape and size mismatch', rawFile({ w: f32([0, 8], [3]) }, new Uint8Array(8)), /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/],
    ['offsets past the data', rawFile({ w: f32([4, 8]) }, new Uint8Array(6)), /tensor "w": data_offsets \[4, 8\] run past the 6-byte data buffer/],
    ['overlapping tensors', rawFile({ a: f32([0, 4]), b: f32([2, 6], [1]) }, new Uint8Array(6)), /overlap tensor "a"/],
    ['a gap between tensors', rawFile({ a: f32([0, 4]), b: f32([8, 12]) }, new Uint8Array(12)), /tensor "b": bytes \[4, 8\) before this tensor belong to no tensor/],
    ['trailing bytes', rawFile({ a: f32([0, 4]) }, new Uint8Array(7)), /3 trailing bytes that belong to no tensor/],
    ['non-string metadata', rawFile({ __metadata__: { epoch: 3 } }), /__metadata__ value of "epoch" is not a string/],
    ['a non-object entry', rawFile({ w: 5 }), /tensor "w": header entry is not an object/],
  ];
  it.each(cases)('rejects %s with a clear message', (_, bytes, message) => {
    expect(problem(parseSafetensors(bytes))).toMatch(message);
  });

  it('names the file in every error', () => {
    expect(problem(parseSafetensors(new Uint8Array(3), 'ckpt/model.safetensors'))).toMatch(/^ckpt\/model\.safetensors: /);
  });

  it('turns an unreadable file into a Left', async () => {
    expect(problem(await readSafetensors('/nonexistent/model.safetensors'))).toMatch(/cannot read file \(ENOENT\)/);
  });
});

describe('safetensors under corruption', () => {
  it('rejects every truncation of a valid file', () => {
    const bytes = sample();
    fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), (n) => E.isLeft(parseSafetensors(bytes.subarray(0, n)))));
  });

  it('never throws on corrupted bytes: a Left with a message, or a parse that round-trips', () => {
    const bytes = sample();
    const arbEdit = fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(arbEdit, { minLength: 1, maxLength: 4 }), (edits) => {
        const copy = bytes.slice();
        for (const [at, v] of edits) copy[at] = v;
        const r = parseSafetensors(copy);
        if (E.isLeft(r)) return r.left.problem.length > 0;
        const again = parsed(parseSafetensors(serializeSafetensors(r.right.tensors, r.right.metadata)));
        expect(again.tensors).toEqual(r.right.tensors);
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('keeps names and shapes when only data bytes are corrupted', () => {
    const bytes = sample();
    const dataStart = 8 + new DataView(bytes.buffer).getUint32(0, true);
    fc.assert(
      fc.property(fc.integer({ min: dataStart, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
        const copy = bytes.slice();
        copy[at] = v;
        const r = parseSafetensors(copy);
        const shapes = (s: Safetensors) => [...s.tensors].map(([k, a]) => [k, a.dtype, a.shape]);
        // I64 bytes may leave int32 range; everything else must still parse.
        if (E.isLeft(r)) return /I64 element/.test(r.left.problem);
        return JSON.stringify(shapes(r.right)) === JSON.stringify(shapes(parsed(parseSafetensors(bytes))));
      }),
    );
  });

  it('never throws on arbitrary JSON headers', () => {
    fc.assert(fc.property(fc.json(), fc.uint8Array({ maxLength: 16 }), (json, data) => {
      const r = parseSafetensors(rawFile(json, data));
      return E.isLeft(r) ? r.left.message.length > 0 : true;
    }));
  });
});

describe('writeSafetensors', () => {
  it('writes atomically, overwrites, and leaves no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    try {
      const path = join(dir, 'model.safetensors');
      await writeSafetensors(path, { a: { dtype: 'f32', shape: [2], data: Float32Array.from([1, 2]) } });
      await writeSafetensors(path, { b: { dtype: 'i32', shape: [1], data: Int32Array.from([3]) } }, { note: 'second' });
      expect(await readdir(dir)).toEqual(['model.safetensors']);
      const back = parsed(await readSafetensors(path));
      expect([...back.tensors.keys()]).toEqual(['b']);
      expect(back.metadata).toEqual({ note: 'second' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the old file when the tensors are invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    try {
      const path = join(dir, 'model.safetensors');
      await writeFile(path, 'old');
      const bad = { a: { dtype: 'f32', shape: [2], data: new Float32Array(2) }, b: { dtype: 'f32', shape: [5], data: new Float32Array(1) } } as const;
      await expect(writeSafetensors(path, bad as unknown as Record<string, HostArray>)).rejects.toThrow(/"b"/);
      expect(await readFile(path, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['model.safetensors']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
