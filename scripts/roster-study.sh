#!/usr/bin/env bash
# The baseline-roster study (results/roster-3seeds): every method of `das run --method all` plus DAS
# with the soft mask on AdamW's update, 3 seeds, on the four embedded domains, at the main job's
# post-training budget per domain (30 steps × 16 chunks × 64 tokens, lr 1e-3), with 160 held-out chunks (10 batches)
# per text for the held-out MLM loss and its standard errors. To fit the time, each end task is
# fine-tuned on its first 200 training examples (the main job uses all 600) and only the cells the
# table needs are fine-tuned (--matrix diagonal-final). Two shards share the run directory (two
# processes on a 2-core machine overlap one's JavaScript with the other's kernels); a last invocation
# without --shard finds everything done and writes the table. Resumable: run it again after a stop.
#   bash scripts/roster-study.sh [OUT]      (default runs/roster-3seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
out=${1:-runs/roster-3seeds}
args=(run --model models/base --method all,das-update --seeds 3 --matrix diagonal-final --no-base
  --seq-len 64 --steps 30 --batch-size 16 --lr 1e-3 --importance-subset 128 --held-out 160
  --ft-pool mean --ft-seq-len 64 --ft-epochs 2 --ft-lr 2e-3 --ft-batch-size 16 --ft-max-train 200
  --out "$out" --quiet)
mkdir -p "$out"
node bin/das.js "${args[@]}" --shard 1/2 > "$out.shard1.json" 2> "$out.shard1.err" &
p1=$!
node bin/das.js "${args[@]}" --shard 2/2 > "$out.shard2.json" 2> "$out.shard2.err" &
p2=$!
wait "$p1" "$p2"
node bin/das.js "${args[@]}"
