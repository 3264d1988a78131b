#!/usr/bin/env bash
# The main job (README command 1): set-up, build, check the GPU path, then DAS beside NCL and ONE on
# the four embedded domains (licences → bible → sotu → austen), starting from the committed base model
# (models/base), fine-tuning the diagonal and the final row of the progressive matrix. Measured: 683 s
# for `das run` on a 2-core machine (lavapipe), plus about a minute of set-up, build and doctor.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bash scripts/setup.sh
npx tsc -p tsconfig.json
node bin/das.js doctor || echo "[main] WebGPU unavailable or failing: continuing on the CPU backend" >&2
node bin/das.js run --model models/base --method das,ncl,one --matrix diagonal-final --out "${DAS_OUT:-runs/main}" \
  --steps 30 --batch-size 16 --seq-len 64 --lr 5e-4 --importance-subset 128 \
  --ft-epochs 3 --ft-lr 3e-4 --ft-seq-len 64 --ft-max-train 240 --ft-max-test 200 "$@"
cat "${DAS_OUT:-runs/main}/results.md"
