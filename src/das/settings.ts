// The places where the paper and the reference code differ that post-training touches
// (docs/method.md §12), in the recommended form or, with --reference-compat, the reference code's.
import type { ContrastPairing } from './contrastive.js';
import type { Aggregation, MlmImportanceInput } from './importance.js';
import type { SoftMaskOptions } from './soft-mask.js';

export interface DasSettings {
  pairing: ContrastPairing;
  axes: SoftMaskOptions;
  mlmInput: MlmImportanceInput;
  aggregation: Aggregation;
  /** KL proxy with dropout on (§12.1; the reference's passes are identical, dropout off). */
  klDropout: boolean;
}

/** referenceCompat: every reference-code behaviour at once (§12.1, 4, 5, 8, 9, 10). */
export const dasSettings = (referenceCompat = false): DasSettings => referenceCompat
  ? { pairing: 'tiledPairs', axes: { referenceCompat: true }, mlmInput: 'original', aggregation: 'signed-batch-cumulative', klDropout: false }
  : { pairing: 'sameSequence', axes: {}, mlmInput: 'corrupted', aggregation: 'abs-per-example', klDropout: true };
