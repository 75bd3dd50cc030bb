#!/usr/bin/env bash
# The main job: set up, tune the default device for fused-RoPE attention within a short budget,
# then benchmark fused / unfused / tuned dispatch / untuned default per sequence length, write
# results/<device>/attention_fwd.{md,csv,png} and tuning.csv, and print the table.
#
#   ./scripts/main.sh                     LK_DEVICE picks the device; LK_BUDGET (default 10m)
#                                         and LK_SEQ (default 512:4096 on a CPU) tune less or more;
#                                         LK_FAMILY (default both: the plain kernel's best at each
#                                         length seeds the rope search there) or rope
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
budget="${LK_BUDGET:-10m}"
seq="${LK_SEQ:-512:4096}"
family="${LK_FAMILY:-both}"
db="${LK_TUNING_DB:-$PWD/build/main-tuning.db}"
export LK_TUNING_DB="$db"
build/tuner/lk-tune --op attention_fwd --family "$family" --dtype f16 --head-dim 128 --causal both \
  --seq "$seq" --strategy budget --budget "$budget" --db "$db"
build/tuner/lk-bench --dtype f16 --head-dim 128 --causal both --seq "$seq" --db "$db" --out results
dir=$(ls -td results/*/ | head -1)
build/tuner/lk-tune --db "$db" --export "$dir/tuning.csv"
