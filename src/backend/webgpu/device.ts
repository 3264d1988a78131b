// The only module that touches the `webgpu` package. Keeps the Dawn GPU object in a module variable
// and drops it in closeDevice(), or Node would not exit.
import { create, globals } from 'webgpu';

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

export const gpuGlobals = globals as unknown as {
  GPUBufferUsage: { STORAGE: number; COPY_SRC: number; COPY_DST: number; MAP_READ: number; UNIFORM: number };
  GPUMapMode: { READ: number };
};

export const installHint =
  'No WebGPU adapter was found. On Debian bookworm install Mesa >= 25 (lavapipe) from bookworm-backports:\n' +
  "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list\n" +
  '  apt-get update && apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1\n' +
  '(or run scripts/setup.sh, which does this). The CPU backend works without a GPU.';

/** Opens (once) the default adapter's device with the largest buffer limits it offers; null if none. */
export async function openDevice(): Promise<OpenedDevice | null> {
  if (opened) return opened;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  gpu ??= create(['disable-dawn-features=timestamp_quantization']);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
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
  return opened;
}

/** Destroys the device and drops the GPU object so the process can exit. */
export function closeDevice(): void {
  opened?.device.destroy();
  opened = undefined;
  gpu = undefined;
}
