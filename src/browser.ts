// The browser entry of das-webgpu (dist/browser/das-webgpu.js, built by scripts/build-browser.mjs): the
// whole public API of index.ts, plus what a page needs to run RoBERTa and DAS without a file system —
// the model, the optimizers, the DAS maths, and the file formats as functions over bytes (a page hands
// them the bytes of fetched or picked files). The GPU is `navigator.gpu`; the kernels are inlined.
// Nothing here, or below it, imports a Node built-in (test/architecture.test.ts).
/// <reference types="@webgpu/types" preserve="true" />
export * from './index.js';
export { browserHint, inBrowser, noAdapterHint, type AdapterDescription } from './backend/webgpu/device.js';
export { type KernelOptions, type KernelOptionsPatch, defaultKernelOptions } from './backend/kernel-options.js';

// the model
export { type RobertaConfig, ConfigError, configToJson, parseConfig, tinyTestConfig, smallConfig } from './nn/config.js';
export {
  type Params, type EncoderParams, type LayerParams, type Gates, type LayerGates, type ClassifierHead, type MlmHead,
  initParams, initClassifier, onesGates,
} from './nn/params.js';
export { type Batch, type DropoutSource, type ForwardOptions, type Pooling, encode, mlmLogits, classifierLogits, pool } from './nn/roberta.js';
export { type HostBatch, type MlmTargets, IGNORE, toDevice, mlmTargets, mlmLoss, labelledLogits } from './nn/mlm.js';

// optimizers (gradient transformations; clipByGlobalNorm stays the op of index.ts, as under Node)
export {
  type GradientTransformation, type EmptyState, type Schedule, chain, identity, applyGradients, applyUpdates, emptyState, scale,
} from './optim/transform.js';
export { type AdamWConfig, type AdamWState, adamw, adamwDefaults, adamwInit, adamwFromConfig } from './optim/adamw.js';
export { linearSchedule, warmupFor } from './optim/schedule.js';

// DAS
export {
  type ImportanceSet, type ImportanceBatch, type ImportanceLoss, type ImportanceResult, type Aggregation, type UnitKind,
  UNIT_KINDS, computeImportance, gateGrads, normalizeImportance, normalizeSet, maxAccumulate, toLayerGates, unitWidths, emptySums, addBatch, rawImportance,
  type ImportanceSums,
} from './das/importance.js';
export { type SubsetOptions, importanceBatches } from './das/importance-subset.js';
export {
  type Importance, type SoftMaskOptions, softMask, softMaskScales, applySoftMask, checkImportance, paperAxes, referenceAxes,
} from './das/soft-mask.js';
export { contrastiveLoss, dasLoss, contrastDefaults } from './das/contrastive.js';
export {
  type HostImportance, type ImportanceMeta, IMPORTANCE_FILES, META_FILE, accumulatedImportance, checkHostImportance, encodeImportance,
  importanceFromHost, importanceToHost, parseImportanceMeta,
} from './das/importance-files.js';

// files as bytes
export { IoError } from './io/io-error.js';
export { type Safetensors, type HostArray as SafetensorsArray, parseSafetensors, serializeSafetensors } from './io/safetensors-codec.js';
export {
  type Checkpoint, checkpointConfigJson, checkpointFromModel, hfNames, paramsFromHf, paramsToHf, parseCheckpoint, parseCheckpointConfig,
} from './io/hf-checkpoint.js';
export { type Tokenizer, type SpecialIds, makeTokenizer } from './io/tokenizer/tokenizer.js';
export { parseTokenizerJson, parseVocabMerges, tokenizerJson, vocabJson, mergesTxt } from './io/tokenizer/formats.js';
export { type NpyArray, decodeNpy, encodeNpy } from './io/npy.js';

// data and training steps
export { type MlmBatch, BatchStream, chunkCorpus, iterChunks, mlmCollate, permutation, splitValid, stepKey } from './data/mlm-batches.js';
export { type TrainState, mlmTrainStep, evalMlm } from './train/mlm-step.js';
export { accuracy, macroF1, confusionMatrix } from './eval/metrics.js';
