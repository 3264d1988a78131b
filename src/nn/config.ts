// RobertaConfig: the encoder's hyper-parameters, parsed from a Hugging Face config.json (Either) and
// written back in the same format. Missing optional fields take transformers' RobertaConfig defaults.
import { E, pipe } from '../fp.js';

/** docs/method.md §2.1 names: D = width, H = heads, Dh = headDim, F = intermediate, L = layers, V = vocabSize. */
export type RobertaConfig = {
  readonly vocabSize: number;
  readonly width: number;
  readonly heads: number;
  readonly headDim: number;
  readonly layers: number;
  readonly intermediate: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  readonly initializerRange: number;
};
export type EncoderDims = Pick<RobertaConfig, 'vocabSize' | 'width' | 'heads' | 'headDim' | 'layers' | 'intermediate' | 'maxPositions' | 'typeVocabSize'>;

export class ConfigError extends Error {
  readonly field: string;
  readonly problem: string;
  constructor(field: string, problem: string) {
    super(`config.json: ${field}: ${problem}`);
    this.name = 'ConfigError';
    this.field = field;
    this.problem = problem;
  }
}

type Raw = Record<string, unknown>;
type Check = { expect: string; ok: (v: unknown) => boolean };

const positiveInt: Check = { expect: 'a positive integer', ok: (v) => Number.isSafeInteger(v) && (v as number) > 0 };
const tokenId: Check = { expect: 'a non-negative integer', ok: (v) => Number.isSafeInteger(v) && (v as number) >= 0 };
const probability: Check = { expect: 'a number in [0, 1)', ok: (v) => typeof v === 'number' && v >= 0 && v < 1 };
const positive: Check = { expect: 'a positive finite number', ok: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v) };
const exactly = (s: string): Check => ({ expect: JSON.stringify(s), ok: (v) => v === s });

/** Reads `raw[name]`; absent fields take `fallback`, or are an error when there is none. */
const read = <A>(raw: Raw, name: string, check: Check, fallback?: A): E.Either<ConfigError, A> => {
  const present = Object.hasOwn(raw, name);
  if (!present && fallback !== undefined) return E.right(fallback);
  const v = raw[name];
  if (present && check.ok(v)) return E.right(v as A);
  return E.left(new ConfigError(name, present ? `expected ${check.expect}, got ${JSON.stringify(v)}` : `missing (expected ${check.expect})`));
};

/** The encoder dimensions of a config.json. */
export const parseDims = (raw: Raw): E.Either<ConfigError, EncoderDims> =>
  pipe(
    E.Do,
    E.apS('vocabSize', read<number>(raw, 'vocab_size', positiveInt)),
    E.apS('width', read<number>(raw, 'hidden_size', positiveInt)),
    E.apS('heads', read<number>(raw, 'num_attention_heads', positiveInt)),
    E.apS('layers', read<number>(raw, 'num_hidden_layers', positiveInt)),
    E.apS('intermediate', read<number>(raw, 'intermediate_size', positiveInt)),
    E.apS('maxPositions', read<number>(raw, 'max_position_embeddings', positiveInt)),
    E.apS('typeVocabSize', read<number>(raw, 'type_vocab_size', positiveInt, 2)),
    E.filterOrElse(
      (d) => d.width % d.heads === 0,
      (d) => new ConfigError('num_attention_heads', `${d.heads} heads do not divide hidden_size ${d.width}`),
    ),
    E.map((d) => ({ ...d, headDim: d.width / d.heads })),
  );

/** A RobertaConfig from the parsed JSON of a Hugging Face RoBERTa config.json. */
export const parseConfig = (raw: unknown): E.Either<ConfigError, RobertaConfig> =>
  pipe(
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? E.right(raw as Raw) : E.left(new ConfigError('(root)', 'expected a JSON object')),
    E.chainFirst((r) => read<string>(r, 'model_type', exactly('roberta'))),
    E.chainFirst((r) => read<string>(r, 'hidden_act', exactly('gelu'), 'gelu')),
    E.chainFirst((r) => read<string>(r, 'position_embedding_type', exactly('absolute'), 'absolute')),
    E.chainFirst((r) =>
      Object.hasOwn(r, 'architectures') && !(Array.isArray(r.architectures) && r.architectures.every((a) => typeof a === 'string'))
        ? E.left(new ConfigError('architectures', 'expected a list of strings'))
        : E.right(r),
    ),
    E.chain((r) =>
      pipe(
        E.Do,
        E.apS('dims', parseDims(r)),
        E.apS('layerNormEps', read<number>(r, 'layer_norm_eps', positive, 1e-12)),
        E.apS('padId', read<number>(r, 'pad_token_id', tokenId, 1)),
        E.apS('bosId', read<number>(r, 'bos_token_id', tokenId, 0)),
        E.apS('eosId', read<number>(r, 'eos_token_id', tokenId, 2)),
        E.apS('hiddenDropout', read<number>(r, 'hidden_dropout_prob', probability, 0.1)),
        E.apS('attentionDropout', read<number>(r, 'attention_probs_dropout_prob', probability, 0.1)),
        E.apS('initializerRange', read<number>(r, 'initializer_range', positive, 0.02)),
      ),
    ),
    E.map(({ dims, ...rest }): RobertaConfig => ({ ...dims, ...rest })),
    E.filterOrElse((c) => c.padId < c.vocabSize, (c) => new ConfigError('pad_token_id', `${c.padId} is not below vocab_size ${c.vocabSize}`)),
    E.filterOrElse((c) => c.bosId < c.vocabSize, (c) => new ConfigError('bos_token_id', `${c.bosId} is not below vocab_size ${c.vocabSize}`)),
    E.filterOrElse((c) => c.eosId < c.vocabSize, (c) => new ConfigError('eos_token_id', `${c.eosId} is not below vocab_size ${c.vocabSize}`)),
    // RoBERTa positions start at padId + 1 (docs/method.md §2.2), so one token needs padId + 2 rows.
    E.filterOrElse(
      (c) => c.maxPositions >= c.padId + 2,
      (c) => new ConfigError('max_position_embeddings', `${c.maxPositions} leaves no position for a token after pad_token_id ${c.padId}`),
    ),
  );

/** A config.json object that transformers loads as RobertaForMaskedLM. */
export const configToJson = (c: RobertaConfig): Record<string, unknown> => ({
  architectures: ['RobertaForMaskedLM'],
  model_type: 'roberta',
  vocab_size: c.vocabSize,
  hidden_size: c.width,
  num_hidden_layers: c.layers,
  num_attention_heads: c.heads,
  intermediate_size: c.intermediate,
  hidden_act: 'gelu',
  hidden_dropout_prob: c.hiddenDropout,
  attention_probs_dropout_prob: c.attentionDropout,
  max_position_embeddings: c.maxPositions,
  type_vocab_size: c.typeVocabSize,
  initializer_range: c.initializerRange,
  layer_norm_eps: c.layerNormEps,
  pad_token_id: c.padId,
  bos_token_id: c.bosId,
  eos_token_id: c.eosId,
  position_embedding_type: 'absolute',
  torch_dtype: 'float32',
});

const preset = (fields: Partial<RobertaConfig> & EncoderDims): RobertaConfig => ({
  layerNormEps: 1e-5,
  padId: 1,
  bosId: 0,
  eosId: 2,
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  initializerRange: 0.02,
  ...fields,
});

/** For unit tests: D 24, H 3, F 40, L 2, V 100, 40 positions. */
export const tinyTestConfig: RobertaConfig = preset({
  vocabSize: 100, width: 24, heads: 3, headDim: 8, layers: 2, intermediate: 40, maxPositions: 40, typeVocabSize: 1,
});

/** For demos on a CPU or small GPU: D 128, H 4, F 512, L 2; sequences up to 256 tokens. */
export const smallConfig = (vocabSize: number): RobertaConfig => {
  const c = preset({ vocabSize, width: 128, heads: 4, headDim: 32, layers: 2, intermediate: 512, maxPositions: 258, typeVocabSize: 1 });
  const checked = parseConfig(configToJson(c));
  if (E.isLeft(checked)) throw checked.left; // a bad vocabSize argument is a caller bug
  return checked.right;
};
