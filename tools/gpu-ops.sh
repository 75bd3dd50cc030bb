#!/usr/bin/env bash
# On an NVIDIA GPU machine (after tools/gpu-prepare.sh elsewhere): run the decode / compressed-cache
# / KDA suites on both NVIDIA backends, then their lk-bench tables and the fla KDA peer comparison.
#
#   tools/gpu-ops.sh [OPS="kv_sparse attention_decode kda_fwd"] [SUITES="kda kivi_cache ..."]
# Writes $OUT/results/<device-slug>/... and $OUT/gpu-ops.log.
set -uo pipefail
cd "$(dirname "$0")/.."
ops="${1:-kv_sparse attention_decode kda_fwd}"
suites="${2:-kda kivi_cache kivi_attention lowrank kv_sparse kv_sparse_decode attention_decode hadamard}"
source tools/gpu-env.sh
out="${OUT:-.}"
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  for s in $suites; do
    echo "== test_$s ($(date +%T))"
    build/test_"$s" --jobs 8 2>&1 | grep -v -E '^\[----\]   (Parameters|  )' | tail -40
  done
  for op in $ops; do
    for dev in cuda opencl; do
      echo "== lk-bench --op $op --device $dev ($(date +%T))"
      build/tuner/lk-bench --op "$op" --device "$dev" --out "$out/results" 2>&1 | tail -30
    done
  done
  if [[ " $ops " == *" kda_fwd "* ]]; then
    echo "== kda peers ($(date +%T))"
    PYTHONPATH=.dev/fla_site python3 -u tuner/peers/kda_peers.py --lib build/liblongkern.so --seq 1024:65536 \
      --out "$out/results" 2>&1 | tail -30
  fi
  echo "== done ($(date +%T))"
} 2>&1 | tee "$out/gpu-ops.log"
