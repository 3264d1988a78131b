// The polite wait (dawn-node.ts): Dawn's polling sleeps between ticks once idle, on CPU adapters only,
// and DAS_DAWN_WAIT forces either way. (Its speed effect is measured in bench/, never asserted here.)
import { afterEach, describe, expect, it } from 'vitest';
import { idle, politePauseMs, setPoliteWait } from '../../src/backend/webgpu/dawn-node.js';
import { softwareAdapter } from '../../src/backend/webgpu/device.js';
import { gpu } from '../support/devices.js';

const saved = { env: process.env.DAS_DAWN_WAIT, pause: idle.pauseMs };
afterEach(() => {
  if (saved.env === undefined) delete process.env.DAS_DAWN_WAIT; else process.env.DAS_DAWN_WAIT = saved.env;
  idle.pauseMs = saved.pause;
});

describe('the polite wait on Dawn', () => {
  it('is on for a CPU adapter, off for a GPU, and DAS_DAWN_WAIT=spin|polite forces either', () => {
    delete process.env.DAS_DAWN_WAIT;
    setPoliteWait(true);
    expect(idle.pauseMs).toBe(politePauseMs);
    setPoliteWait(false);
    expect(idle.pauseMs).toBe(0);
    process.env.DAS_DAWN_WAIT = 'spin';
    setPoliteWait(true);
    expect(idle.pauseMs).toBe(0);
    process.env.DAS_DAWN_WAIT = 'polite';
    setPoliteWait(false);
    expect(idle.pauseMs).toBe(politePauseMs);
  });

  it.skipIf(gpu === null || saved.env !== undefined)('was turned on when this software adapter was opened', () => {
    expect(saved.pause).toBe(softwareAdapter(gpu!.opened.info) ? politePauseMs : 0);
  });
});
