#!/usr/bin/env bash
# The main job (README command 1): set-up, build, check the GPU path, then DAS beside NCL and ONE on
# the four embedded domains (licences → bible → sotu → austen), starting from the committed base model
# (models/base). Every end task is fine-tuned on all its training examples after the domains the table
# needs (the diagonal and the final row of the progressive matrix). Results, plots and logs go to
# runs/main (runs/quick with --quick); the table is printed at the end.
#   bash scripts/main.sh            the main job (11 min 46 s – 13 min 34 s measured on a 2-core machine with lavapipe)
#   bash scripts/main.sh --quick    the same pipeline with tiny budgets, a smoke test (1 min 41 s)
# Further flags go to `das run` and override these (e.g. --seeds 3, --out DIR, --backend cpu);
# --with-base (this script's own) also fine-tunes the base model directly, for the "vs base" columns.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bash scripts/setup.sh
npx tsc -p tsconfig.json
node bin/das.js doctor >/dev/null || echo "[main] WebGPU unavailable or failing: continuing on the CPU backend" >&2

common=(--model models/base --method das,ncl,one --matrix diagonal-final --ft-pool mean --ft-seq-len 64 --seq-len 64)
quick=0 base=(--no-base) out= args=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;                  # this script's preset, not das run's own --quick
    --with-base) base=() ;;
    --out) out=explicit; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done
if [ "$quick" = 1 ]; then
  [ -n "$out" ] || out=runs/quick
  preset=(--steps 4 --batch-size 8 --lr 1e-3 --importance-subset 32 --held-out 16 --ft-epochs 1 --ft-lr 2e-3 --ft-max-train 96 --ft-max-test 60)
else
  [ -n "$out" ] || out=runs/main
  preset=(--steps 30 --batch-size 16 --lr 1e-3 --importance-subset 128 --held-out 48 --ft-epochs 2 --ft-lr 2e-3 --ft-batch-size 16)
fi
[ "$out" = explicit ] && out_flag=() || out_flag=(--out "$out")
# --importance-subset is read by das, das-update, dga and ewc only (das run refuses a flag no chosen method reads)
method=das,ncl,one prev=
for a in ${args[@]+"${args[@]}"}; do [ "$prev" = --method ] && method=$a; case "$a" in --method=*) method=${a#--method=} ;; esac; prev=$a; done
if ! [[ ",$method," =~ ,(all|das|das-update|dga|ewc), ]]; then
  kept=(); skip=0
  for a in "${preset[@]}"; do if [ "$skip" = 1 ]; then skip=0; elif [ "$a" = --importance-subset ]; then skip=1; else kept+=("$a"); fi; done
  preset=("${kept[@]}")
fi
summary_file=$(mktemp)
trap 'rm -f "$summary_file"' EXIT
start=$(date +%s)
node bin/das.js run "${common[@]}" ${base[@]+"${base[@]}"} "${preset[@]}" ${out_flag[@]+"${out_flag[@]}"} ${args[@]+"${args[@]}"} > "$summary_file"
table=$(node -e 'const s = require("fs").readFileSync(process.argv[1], "utf8").trim(); if (s.startsWith("{")) console.log(JSON.parse(s).table)' "$summary_file")
if [ -z "$table" ]; then cat "$summary_file"; exit 0; fi   # --help and the like
cat "$table"
echo "[main] das run took $(( $(date +%s) - start )) s; results in $(dirname "$table")"
