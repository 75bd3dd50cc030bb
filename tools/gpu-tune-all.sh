#!/usr/bin/env bash
# On an NVIDIA GPU machine (after tools/gpu-prepare.sh elsewhere): a whole-GPU tuning run of one
# op, its check and its tables, for one backend.
#
#   tools/gpu-tune-all.sh cuda|opencl tune   [BUDGET=9m]  every key of $OP (default attention_fwd:
#                                                          families rope and plain, hd 64 and 128,
#                                                          causal both, 512..131072, f16), budget
#                                                          strategy; other ops: their own defaults
#   tools/gpu-tune-all.sh cuda|opencl check [LEN:CAUSAL,...]  exhaustive search of a sample of
#                                                          rope hd128 keys of $OP (default
#                                                          1024:0,4096:1,16384:0) into another
#                                                          DB, then lk-db compare
#   tools/gpu-tune-all.sh cuda|opencl bench  [SEQ]        lk-bench tables (attention_fwd: hd128
#                                                          and hd64), then the tuning.csv export
# OP names the op (attention_fwd, attention_bwd, kda_fwd, ...). The database is $DB (default
# $OUT/<backend>.db, so that it comes back and a later call resumes it); tables go to
# $OUT/results/<device-slug>/, logs to $OUT/. $BUILD names the build (build).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="$1"; step="$2"; arg="${3:-}"
source tools/gpu-env.sh
out="${OUT:-.}"
b="${BUILD:-build}"
db="${DB:-$out/$backend.db}"
op="${OP:-attention_fwd}"
tune=("$b"/tuner/lk-tune --device "$backend" --op "$op" --dtype f16)
head_dims=(""); [ "$op" = attention_fwd ] && head_dims=(128 64)
case "$step" in
tune)
  start=$SECONDS
  wide=(); [ "$op" = attention_fwd ] && wide=(--head-dim both)
  "${tune[@]}" "${wide[@]}" --strategy budget --budget "${arg:-9m}" --db "$db" 2>&1 | tee "$out/tune-$op-$backend.log" | \
    grep -v '^\s*$' | tail -100
  echo "lk-tune wall time: $((SECONDS - start)) s" | tee -a "$out/tune-$op-$backend.log"
  ;;
check)
  ref="$out/$backend-exhaustive.db"
  for spec in $(echo "${arg:-1024:0,4096:1,16384:0}" | tr , ' '); do
    len="${spec%%:*}"; causal="${spec##*:}"
    "${tune[@]}" --family rope --head-dim 128 --causal "$causal" --seq "$len:$len" --strategy exhaustive \
      --db "$ref" 2>&1 | tail -2
  done
  "$b"/lk-db compare "$db" --db "$ref" | tee "$out/compare-$backend.txt" || true
  ;;
bench)
  for hd in "${head_dims[@]}"; do
    "$b"/tuner/lk-bench --op "$op" --device "$backend" --dtype f16 ${hd:+--head-dim "$hd"} ${arg:+--seq "$arg"} \
      --db "$db" --out "$out/results" 2>&1 | tail -25
  done
  dir=$(ls -td "$out"/results/*/ | head -1)
  "$b"/tuner/lk-tune --device "$backend" --db "$db" --export "$dir/tuning.csv"
  ;;
*) echo "usage: $0 cuda|opencl tune|check|bench [ARG]" >&2; exit 2 ;;
esac
