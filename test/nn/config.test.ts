import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { E } from '../../src/fp.js';
import { configToJson, parseConfig, smallConfig, tinyTestConfig, type RobertaConfig } from '../../src/nn/config.js';

/** roberta-base's config.json as published on the Hugging Face hub. */
const robertaBase = {
  architectures: ['RobertaForMaskedLM'],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: 'roberta',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  type_vocab_size: 1,
  vocab_size: 50265,
};

const errorOf = (raw: unknown) => {
  const r = parseConfig(raw);
  if (E.isRight(r)) throw new Error('expected a ConfigError');
  return { field: r.left.field, message: r.left.message };
};

const arbConfig: fc.Arbitrary<RobertaConfig> = fc
  .record({
    heads: fc.integer({ min: 1, max: 16 }),
    headDim: fc.integer({ min: 1, max: 64 }),
    layers: fc.integer({ min: 1, max: 24 }),
    intermediate: fc.integer({ min: 1, max: 4096 }),
    vocabSize: fc.integer({ min: 3, max: 60000 }),
    typeVocabSize: fc.integer({ min: 1, max: 2 }),
    layerNormEps: fc.double({ min: 1e-12, max: 1e-3, noNaN: true }),
    hiddenDropout: fc.double({ min: 0, max: 0.9, noNaN: true }),
    attentionDropout: fc.double({ min: 0, max: 0.9, noNaN: true }),
    initializerRange: fc.double({ min: 1e-4, max: 1, noNaN: true }),
    extraPositions: fc.integer({ min: 0, max: 600 }),
  })
  .map(({ extraPositions, ...c }) => ({ ...c, width: c.heads * c.headDim, maxPositions: 3 + extraPositions, padId: 1, bosId: 0, eosId: 2 }));

describe('parseConfig', () => {
  it('reads roberta-base', () => {
    expect(parseConfig(robertaBase)).toEqual(
      E.right({
        vocabSize: 50265, width: 768, heads: 12, headDim: 64, layers: 12, intermediate: 3072, maxPositions: 514, typeVocabSize: 1,
        layerNormEps: 1e-5, padId: 1, bosId: 0, eosId: 2, hiddenDropout: 0.1, attentionDropout: 0.1, initializerRange: 0.02,
      }),
    );
  });

  it('inverts configToJson', () => {
    fc.assert(fc.property(arbConfig, (c) => {
      expect(parseConfig(configToJson(c))).toEqual(E.right(c));
    }));
  });

  it('fills missing optional fields with transformers defaults', () => {
    const { layer_norm_eps: _eps, hidden_dropout_prob: _drop, type_vocab_size: _tv, ...rest } = robertaBase;
    const r = parseConfig(rest);
    expect(E.isRight(r) && [r.right.layerNormEps, r.right.hiddenDropout, r.right.typeVocabSize]).toEqual([1e-12, 0.1, 2]);
  });

  it('ignores unknown fields such as transformers_version', () => {
    expect(E.isRight(parseConfig({ ...robertaBase, transformers_version: '4.17.0', use_cache: true }))).toBe(true);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['heads that do not divide the width', { ...robertaBase, num_attention_heads: 7 }, 'num_attention_heads', /7 heads do not divide hidden_size 768/],
    ['a null vocab_size', { ...robertaBase, vocab_size: null }, 'vocab_size', /expected a positive integer, got null/],
    ['a width given as a string', { ...robertaBase, hidden_size: '768' }, 'hidden_size', /expected a positive integer, got "768"/],
    ['a fractional layer count', { ...robertaBase, num_hidden_layers: 1.5 }, 'num_hidden_layers', /got 1.5/],
    ['another activation', { ...robertaBase, hidden_act: 'relu' }, 'hidden_act', /expected "gelu", got "relu"/],
    ['another model type', { ...robertaBase, model_type: 'bert' }, 'model_type', /expected "roberta", got "bert"/],
    ['relative positions', { ...robertaBase, position_embedding_type: 'relative_key' }, 'position_embedding_type', /expected "absolute"/],
    ['a dropout of 1', { ...robertaBase, attention_probs_dropout_prob: 1 }, 'attention_probs_dropout_prob', /in \[0, 1\)/],
    ['a negative eps', { ...robertaBase, layer_norm_eps: -1 }, 'layer_norm_eps', /positive finite number/],
    ['a pad id outside the vocabulary', { ...robertaBase, pad_token_id: 50265 }, 'pad_token_id', /50265 is not below vocab_size 50265/],
    ['too few positions for the pad offset', { ...robertaBase, max_position_embeddings: 2 }, 'max_position_embeddings', /leaves no position/],
    ['architectures that are not strings', { ...robertaBase, architectures: [1] }, 'architectures', /list of strings/],
    ['a list instead of an object', [robertaBase], '(root)', /expected a JSON object/],
  ];
  it.each(cases)('rejects %s, naming the field', (_, raw, field, message) => {
    const err = errorOf(JSON.parse(JSON.stringify(raw)));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^config\.json: /);
  });

  it('reports a missing field as missing', () => {
    const { vocab_size: _v, ...rest } = robertaBase;
    expect(errorOf(rest).message).toBe('config.json: vocab_size: missing (expected a positive integer)');
  });
});

describe('presets', () => {
  it('tinyTestConfig has the documented dimensions and is valid', () => {
    expect(tinyTestConfig).toMatchObject({ width: 24, heads: 3, headDim: 8, intermediate: 40, layers: 2, vocabSize: 100, maxPositions: 40 });
    expect(parseConfig(configToJson(tinyTestConfig))).toEqual(E.right(tinyTestConfig));
  });

  it('smallConfig takes the vocabulary size and rejects a bad one', () => {
    expect(smallConfig(5000)).toMatchObject({ width: 128, heads: 4, headDim: 32, intermediate: 512, layers: 2, vocabSize: 5000 });
    expect(() => smallConfig(0)).toThrow(/vocab_size/);
  });
});
