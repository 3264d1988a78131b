#!/usr/bin/env bash
# The main job (README command 1): set-up, build, check the GPU path, then DAS beside NCL and ONE on
# the embedded data, starting from the committed base model (models/base). Today it runs the first
# two domains (licences → bible) with small settings: about 9 minutes on a 2-core machine (lavapipe).
# The full four-domain job within 15 minutes and the 3-seed results are issue 5's remaining work.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bash scripts/setup.sh
npx tsc -p tsconfig.json
node bin/das.js doctor || echo "[main] WebGPU unavailable or failing: continuing on the CPU backend" >&2
node bin/das.js run --model models/base --method das,ncl,one --domains 2 --out "${DAS_OUT:-runs/main}" \
  --steps 40 --batch-size 16 --seq-len 64 --lr 5e-4 --importance-subset 128 \
  --ft-epochs 4 --ft-lr 3e-4 --ft-seq-len 64 --ft-max-train 300 --ft-max-test 200 "$@"
cat "${DAS_OUT:-runs/main}/results.md"
