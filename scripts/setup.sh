#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian (bookworm) machine: a WebGPU adapter (Mesa lavapipe >= 25
# from bookworm-backports when none is found) and the npm dependencies. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if [ ! -d node_modules/webgpu ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] installing npm dependencies" >&2
  npm install --no-audit --no-fund --loglevel=error
fi

have_adapter() { node --input-type=module -e "
  import { create, globals } from 'webgpu';
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const a = await gpu.requestAdapter();
  process.exit(a ? 0 : 1);" >/dev/null 2>&1; }

if have_adapter; then exit 0; fi
if [ "${DAS_NO_APT:-}" = 1 ] || ! command -v apt-get >/dev/null || [ ! -f /etc/debian_version ]; then
  echo "[setup] no WebGPU adapter and no apt: the CPU backend still works; install Mesa >= 25 (lavapipe) for WebGPU" >&2
  exit 0
fi
echo "[setup] no WebGPU adapter: installing Mesa lavapipe from bookworm-backports" >&2
list=/etc/apt/sources.list.d/das-webgpu-backports.list
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | sudo_ tee "$list" >/dev/null
fi
sudo_ apt-get update -qq
sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
if have_adapter; then echo "[setup] WebGPU adapter ready" >&2; else
  echo "[setup] WebGPU adapter still missing after installing Mesa; tests will run on the CPU backend only" >&2; fi
