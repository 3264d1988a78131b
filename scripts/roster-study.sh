#!/usr/bin/env bash
# The baseline-roster study (results/roster-3seeds): every method of `das run --method all` plus DAS
# with the soft mask on AdamW's update, 3 seeds, on the four embedded domains, at the main job's
# post-training budget per domain (30 steps × 16 chunks × 64 tokens, lr 1e-3), with 160 held-out chunks
# (10 batches) per text for the held-out MLM loss and its standard errors. To fit the time, each end
# task is fine-tuned on its first 200 training examples (the main job uses all 600) and only the cells
# the table needs are fine-tuned (--matrix diagonal-final).
# Two processes share the run directory (parts are locked, so none is done twice): the first takes the
# core comparison (NCL, DAS, DAS on the update), the second the other baselines, both seed by seed
# (every method's seed 2021 first, so a stopped study still has whole seeds); each then helps with the
# other's list. Resumable: run it again after a stop. A last invocation with every method
# finds everything done and writes the table.
#   bash scripts/roster-study.sh [OUT]      (default runs/roster-3seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
out=${1:-runs/roster-3seeds}
common=(run --model models/base --matrix diagonal-final --no-base
  --seq-len 64 --steps 30 --batch-size 16 --lr 1e-3 --importance-subset 128 --held-out 160
  --ft-pool mean --ft-seq-len 64 --ft-epochs 2 --ft-lr 2e-3 --ft-batch-size 16 --ft-max-train 200
  --out "$out" --quiet)
core() { for s in 2021 111 222; do run --method ncl,das,das-update --seed-list "$s"; done; }
others=kd,ewc,derpp,hat,adapter-one,prompt-one,dga,demix,mtl,one
mkdir -p "$out"
run() { node bin/das.js "${common[@]}" "$@" >> "$out.runs.jsonl" 2>> "$out.err"; }
( core; for s in 2021 111 222; do run --method "$others" --seed-list "$s"; done ) &
p1=$!
( for s in 2021 111 222; do run --method "$others" --seed-list "$s"; done; core ) &
p2=$!
wait "$p1" "$p2"
run --method all,das-update --seed-list 2021,111,222
