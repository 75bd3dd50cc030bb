#!/usr/bin/env bash
# On an NVIDIA GPU machine (after tools/gpu-prepare.sh elsewhere): tune and benchmark fused-RoPE
# attention on one backend, then export the tuning data next to the tables.
#
#   tools/gpu-bench.sh cuda|opencl [SEQ=512:16384] [BUDGET=4m]
# Writes $OUT/results/<device-slug>/{attention_fwd.md,csv,png,tuning.csv} ($OUT or . if unset).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="$1"; seq="${2:-512:16384}"; budget="${3:-4m}"
export LD_LIBRARY_PATH="$PWD/.dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LK_CACHE_DIR="${LK_CACHE_DIR:-/tmp/longkern-cache}" LK_SYSTEM_DB=""
if [ -w /etc ] && [ ! -f /etc/OpenCL/vendors/nvidia.icd ]; then
  mkdir -p /etc/OpenCL/vendors && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
fi
out="${OUT:-.}/results"
db="/tmp/longkern-tune-$backend.db"
build/tuner/lk-tune --device "$backend" --op attention_fwd --family rope --dtype f16 --head-dim 128 \
  --causal both --seq "$seq" --strategy budget --budget "$budget" --db "$db"
build/tuner/lk-bench --device "$backend" --dtype f16 --head-dim 128 --causal both --seq "$seq" --db "$db" \
  --out "$out" | tee /tmp/bench.txt
dir=$(ls -td "$out"/*/ | head -1)
build/tuner/lk-tune --device "$backend" --db "$db" --export "$dir/tuning.csv"
