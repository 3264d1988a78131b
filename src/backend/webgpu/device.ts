// Where the GPU comes from: `navigator.gpu` in a browser, the `webgpu` package (Dawn's Node bindings)
// under Node, loaded only there (the browser bundle replaces it with nothing). The only module that
// touches either. Keeps the GPU object in a module variable for the life of the process (closeDevice()
// destroys only the device: see there). No Node built-in is imported (ARCHITECTURE.md: the core runs in a browser).
import { installEventPump, setPoliteWait, withStderrFiltered } from './dawn-node.js';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
}

export interface OpenedDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterDescription;
}

let gpu: GPU | undefined;
let opened: OpenedDevice | undefined;
/** Whether `gpu` is Dawn's Node binding (dawn-node.ts applies), not a browser's. */
let dawnNode = false;

/** Whether the open device is Dawn's under Node (the `webgpu` package), where dawn-node.ts applies. */
export const onDawnNode = (): boolean => dawnNode;

/** The WebGPU constants the backend uses, as the specification fixes them (the same in Dawn and browsers). */
export const gpuGlobals = {
  GPUBufferUsage: { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 },
  GPUMapMode: { READ: 0x0001 },
} as const;

export const installHint =
  'No WebGPU adapter was found. On Debian bookworm install Mesa >= 25 (lavapipe) from bookworm-backports:\n' +
  "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list\n" +
  '  apt-get update && apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1\n' +
  '(or run scripts/setup.sh, which does this). The CPU backend works without a GPU.';

export const browserHint =
  'This browser offers no WebGPU adapter. WebGPU is on by default in Chrome and Edge 113+ (Windows, macOS, ChromeOS, Android), ' +
  'Safari 26+ and Firefox 141+ on Windows; on Linux start Chrome or Chromium with --enable-unsafe-webgpu --enable-features=Vulkan ' +
  '(or enable chrome://flags/#enable-unsafe-webgpu), and check chrome://gpu. The CPU backend works without a GPU.';

/** The browser's GPU, when this is a browser (or a worker) that has WebGPU. */
const browserGpu = (): GPU | undefined => (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;

/** Whether this runtime is a browser (a page or a worker) rather than Node. */
export const inBrowser = (): boolean =>
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== 'string';

/** How to get an adapter where there is none: the browser's hint in a browser, the Mesa hint under Node. */
export const noAdapterHint = (): string => (inBrowser() ? browserHint : installHint);

async function nodeGpu(): Promise<GPU | undefined> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env !== undefined) env.XDG_RUNTIME_DIR ??= '/tmp';
  const dawn = await import('webgpu');
  installEventPump(); // before create(): Dawn schedules its event processing with setImmediate
  const g = dawn.create?.(['disable-dawn-features=timestamp_quantization']) ?? undefined;
  dawnNode = g !== undefined;
  return g;
}

/** Opens (once) the default adapter's device with the largest buffer limits it offers; null if none. */
export async function openDevice(): Promise<OpenedDevice | null> {
  if (opened) return opened;
  gpu ??= browserGpu() ?? (inBrowser() ? undefined : await nodeGpu());
  if (gpu === undefined) return null;
  const g = gpu;
  const request = () => g.requestAdapter({ powerPreference: 'high-performance' });
  // Dawn prints its limit-clamping warnings while finding adapters: drop those two lines, keep the rest.
  const adapter = await (dawnNode ? withStderrFiltered(request) : request());
  if (!adapter) return null;
  const l = adapter.limits;
  // subgroups: the matmul kernel shares loaded rows across lanes (≈1.7× on lavapipe).
  const requiredFeatures = (['subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const i = adapter.info;
  const info: AdapterDescription = {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    backend: (i as unknown as { backendType?: string }).backendType ?? 'unknown',
  };
  opened = { device, adapter, info };
  // Dawn under Node on a CPU adapter: wait without spinning a core the kernels need (dawn-node.ts).
  if (dawnNode) setPoliteWait(softwareAdapter(info));
  return opened;
}

/** Whether the adapter runs on the CPU (Mesa's lavapipe/llvmpipe, SwiftShader). */
export const softwareAdapter = (i: { vendor: string; architecture: string; device: string; description: string }): boolean =>
  /llvmpipe|lavapipe|swiftshader|software/i.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);

/**
 * Destroys the device (the process can then exit). The GPU object is kept for a later openDevice():
 * when V8 collected Dawn's instance while lavapipe's threads still ran, a process that went on working
 * died a second or two later (test/backend/close.test.ts).
 */
export function closeDevice(): void {
  opened?.device.destroy();
  opened = undefined;
}
