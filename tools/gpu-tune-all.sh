#!/usr/bin/env bash
# On an NVIDIA GPU machine (after tools/gpu-prepare.sh elsewhere): issue 3's whole-GPU tuning run
# and its checks, for one backend.
#
#   tools/gpu-tune-all.sh cuda|opencl tune   [BUDGET=9m]  every attention_fwd key: families rope
#                                                          and plain, hd 64 and 128, causal both,
#                                                          512..131072, f16, budget strategy
#   tools/gpu-tune-all.sh cuda|opencl check [LEN:CAUSAL,...]  exhaustive search of a sample of
#                                                          rope hd128 keys (default
#                                                          1024:0,4096:1,16384:0) into another
#                                                          DB, then lk-db compare
#   tools/gpu-tune-all.sh cuda|opencl bench  [SEQ]        lk-bench tables hd128 and hd64
# The database is $DB (default $OUT/<backend>.db, so that it comes back and a later call resumes
# it); tables go to $OUT/results/<device-slug>/, logs to $OUT/. $BUILD names the build (build).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="$1"; step="$2"; arg="${3:-}"
source tools/gpu-env.sh
out="${OUT:-.}"
b="${BUILD:-build}"
db="${DB:-$out/$backend.db}"
tune=("$b"/tuner/lk-tune --device "$backend" --op attention_fwd --dtype f16)
case "$step" in
tune)
  start=$SECONDS
  "${tune[@]}" --family both --head-dim both --causal both \
    --seq 512:131072 --strategy budget --budget "${arg:-9m}" --db "$db" 2>&1 | tee "$out/tune-$backend.log" | \
    grep -v '^\s*$' | tail -100
  echo "lk-tune wall time: $((SECONDS - start)) s" | tee -a "$out/tune-$backend.log"
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
  for hd in 128 64; do
    "$b"/tuner/lk-bench --device "$backend" --dtype f16 --head-dim "$hd" --causal both --seq "${arg:-512:131072}" \
      --db "$db" --out "$out/results" 2>&1 | tail -25
  done
  dir=$(ls -td "$out"/results/*/ | head -1)
  "$b"/tuner/lk-tune --device "$backend" --db "$db" --export "$dir/tuning.csv"
  ;;
*) echo "usage: $0 cuda|opencl tune|check|bench [ARG]" >&2; exit 2 ;;
esac
