// The classifier's sequence summary: 'cls' is the <s> row; 'mean' averages the real tokens only, so
// whatever sits in padded positions cannot change it.
import { describe, expect, it } from 'vitest';
import { fromArray, read, release } from '../../src/index.js';
import { pool } from '../../src/nn/roberta.js';
import { backends } from '../support/devices.js';
import { expectAllClose, seededValues } from '../support/oracle.js';

describe('pool', () => {
  for (const be of backends) {
    it(`${be.name}: mean over real tokens, cls = position 0, padding ignored`, async () => {
      const B = 3, T = 5, D = 7, lengths = [5, 2, 3];
      const zv = Float32Array.from(seededValues(B * T * D, 11, -2, 2));
      const mv = Float32Array.from({ length: B * T }, (_, i) => (i % T < lengths[Math.floor(i / T)] ? 1 : 0));
      const want = new Float32Array(B * D);
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) {
        let s = 0;
        for (let t = 0; t < lengths[b]; t++) s += zv[(b * T + t) * D + d];
        want[b * D + d] = s / lengths[b];
      }
      const z = fromArray(zv, [B, T, D], { backend: be }), mask = fromArray(mv, [B, T], { backend: be });
      const junk = Float32Array.from(zv, (v, i) => (mv[Math.floor(i / D)] ? v : 1e6));  // padded rows changed
      const z2 = fromArray(junk, [B, T, D], { backend: be });
      const m = pool(z, 'mean', mask), m2 = pool(z2, 'mean', mask), c = pool(z, 'cls');
      expect(m.shape).toEqual([B, D]);
      expectAllClose(await read(m), want, { rtol: 1e-5, atol: 1e-6 });
      expectAllClose(await read(m2), want, { rtol: 1e-5, atol: 1e-6 });
      expectAllClose(await read(c), Float32Array.from({ length: B * D }, (_, i) => zv[Math.floor(i / D) * T * D + (i % D)]), { rtol: 0, atol: 0 });
      expect(() => pool(z, 'mean')).toThrow(/needs the attention mask/);
      release(z, mask, z2, m, m2, c);
    });
  }
});
