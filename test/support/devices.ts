// The WebGPU backend, opened once per test file at import time (never inside a test body).
import { type Backend, cpu, webgpu } from '../../src/index.js';
import type { WebGpuBackend } from '../../src/backend/webgpu/webgpu.js';

export const gpu: WebGpuBackend | null = await webgpu();
export const hasWebGpu = gpu !== null;
export const cpuBackend: Backend = cpu();
/** The backends to run agreement tests on (cpu is the oracle). */
export const backends: Backend[] = gpu ? [cpuBackend, gpu] : [cpuBackend];
