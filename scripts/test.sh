#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, type check, then the whole suite. WebGPU tests must run:
# DAS_REQUIRE_WEBGPU=1 (the default here) fails the run when no adapter is found.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export DAS_REQUIRE_WEBGPU="${DAS_REQUIRE_WEBGPU:-1}"
bash scripts/setup.sh
node scripts/kernels.mjs   # src/backend/webgpu/kernel-sources.ts from kernels/ (written only when it changed)
npx tsc --noEmit -p tsconfig.json
npx tsc -p web/tsconfig.json   # the browser entry and the pages, without Node's types
npx vitest run "$@"
