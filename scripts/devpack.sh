#!/usr/bin/env bash
# Builds .devpack/ (git-ignored): Node 20, the runtime node_modules (webgpu's linux-x64 build and fp-ts —
# dist/ travels separately), the Vulkan loader and the glvnd libraries, for running Dawn on a lent GPU
# machine that has none of them (about 25 MB). Used by scripts/gpu-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .devpack && mkdir -p .devpack/lib
work=$(mktemp -d)
(cd "$work" && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libx11-6 libxau6 libxdmcp6 libxext6 libbsd0 libmd0 libxcb1 >/dev/null)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
find "$work/root" -name '*.so*' -type f -exec cp {} .devpack/lib/ \;
# soname links (libvulkan.so.1 -> libvulkan.so.1.3.x, …)
(cd .devpack/lib && for f in *.so.*; do s=$(echo "$f" | sed -E 's/(\.so\.[0-9]+).*/\1/'); if [ "$s" != "$f" ]; then ln -sf "$f" "$s"; fi; done)
cp "$(command -v node)" "$work/node"
tar -cJf .devpack/pack.tar.xz -C "$work" node -C "$PWD" --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' node_modules/webgpu node_modules/fp-ts
rm -rf "$work"
du -sh .devpack
