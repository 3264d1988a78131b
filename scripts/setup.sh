#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian (bookworm) machine: a WebGPU adapter (Mesa lavapipe >= 25
# from bookworm-backports when none is found), Debian's chromium for the browser tests (test/browser/,
# never a downloaded browser) and the npm dependencies (npm ci). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

# npm ci installs exactly the committed package-lock.json and never rewrites it (npm install would
# re-resolve and could edit the lock). Only when node_modules is missing, or older than the lock or
# package.json (npm writes node_modules/.package-lock.json at the end of every install).
stamp=node_modules/.package-lock.json
if [ ! -d node_modules/webgpu ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "[setup] installing npm dependencies (npm ci, from package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

have_adapter() { node --input-type=module -e "
  import { create, globals } from 'webgpu';
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const a = await gpu.requestAdapter();
  process.exit(a ? 0 : 1);" >/dev/null 2>&1; }

# Headless Chromium (WebGPU on SwiftShader) for the browser tests; DAS_CHROMIUM names another binary.
if [ -z "${DAS_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "${DAS_NO_APT:-}" != 1 ] && command -v apt-get >/dev/null && [ -f /etc/debian_version ]; then
    echo "[setup] installing Debian's chromium for the browser tests" >&2
    sudo_ apt-get update -qq
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    echo "[setup] no /usr/bin/chromium and no apt: the browser tests need Chromium (set DAS_CHROMIUM=/path/to/chromium)" >&2
  fi
fi

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
