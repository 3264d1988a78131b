// fast-check defaults for every test file: runs and seed from the environment (FC_RUNS, FC_SEED).
import fc from 'fast-check';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
// Tests run on the default matmul tiles, whatever a developer's autotune cache holds (every candidate is bit-identical anyway).
process.env.DAS_AUTOTUNE ??= 'off';
fc.configureGlobal({
  numRuns: Number(process.env.FC_RUNS ?? 50),
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
});
