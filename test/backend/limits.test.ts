// A tensor larger than the adapter lets one buffer be is refused before any work, with a message that
// names the size, the limit and what to lower.
import { describe, expect, it } from 'vitest';
import { counters } from '../../src/index.js';
import { zeros } from '../../src/ops/creation.js';
import { gpu } from '../support/devices.js';

describe('adapter limits', () => {
  it.skipIf(!gpu)('a tensor over maxStorageBufferBindingSize gets a clear error and leaks nothing', () => {
    const limit = gpu!.device.limits.maxStorageBufferBindingSize;
    const live = counters.liveTensors;
    expect(() => zeros([Math.floor(limit / 4) + 1], { backend: gpu! })).toThrow(/out of GPU memory for one tensor: .* need .* MiB, more than this adapter's .* MiB per buffer \(maxStorageBufferBindingSize\); lower the size that makes it \(vocabulary/);
    expect(counters.liveTensors).toBe(live);
  });
});
