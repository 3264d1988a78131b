// Says once, at the top of the run, which backends the tests will use.
import { closeWebgpu, webgpu } from '../src/index.js';

export default async function setup(): Promise<void> {
  const gpu = await webgpu();
  if (gpu === null) {
    const must = process.env.DAS_REQUIRE_WEBGPU === '1';
    console.log(`[das-webgpu tests] backends: cpu only — NO WebGPU adapter${must ? ' (DAS_REQUIRE_WEBGPU=1: failing)' : ''}`);
    if (must) throw new Error('DAS_REQUIRE_WEBGPU=1 but no WebGPU adapter was found');
  } else {
    const i = gpu.opened.info;
    console.log(`[das-webgpu tests] backends: cpu + webgpu (${[i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ')})`);
  }
  closeWebgpu();
}
