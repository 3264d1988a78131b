#!/usr/bin/env bash
# The main job (README command 1): set-up, build, check the GPU path, then train on the embedded data.
# Until `das run` (DAS over the domain sequence, issue 5) lands, the main job pre-trains the base
# RoBERTa on the embedded general corpus and reports its held-out MLM loss.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bash scripts/setup.sh
npx tsc -p tsconfig.json
node bin/das.js doctor || echo "[main] WebGPU unavailable or failing: continuing on the CPU backend" >&2
out="${DAS_OUT:-runs/main}"
node bin/das.js pretrain --corpus data/general/train.txt --valid data/general/valid.txt --out "$out" \
  --width 128 --heads 4 --layers 2 --intermediate 512 --vocab-size 4000 --seq-len 64 --batch-size 16 \
  --steps "${DAS_STEPS:-300}" --lr 1e-3 --eval-every 100 --save-every 100 "$@"
