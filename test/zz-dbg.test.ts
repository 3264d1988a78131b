import { it } from 'vitest';
import { gpu, cpuBackend } from './support/devices.js';
import { fromArray, attention, read, vjp, key } from '../src/index.js';
it('dbg', async () => {
  for (const drop of [false, true]) for (const be of [cpuBackend, gpu!]) {
    const qkv = fromArray([0.3, -0.2, 0.7], [1, 1, 3], { backend: be }), m = fromArray([0], [1, 1, 1, 1], { backend: be }), g = fromArray([0.6], [1], { backend: be });
    const [y, pull] = vjp((a: any) => attention(a.qkv, m, { heads: 1, gate: a.g, ...(drop ? { dropout: { key: key(5), p: 0.1 } } : {}) }), ['qkv', 'g'])({ qkv, g });
    const gr = pull(fromArray([-0.9], [1, 1, 1], { backend: be }));
    console.log('ROW', drop, be.name, Array.from(await read(y)), Array.from(await read(gr.qkv)), Array.from(await read(gr.g)));
  }
});
