#!/usr/bin/env bash
# On an NVIDIA GPU machine (no network): run every test suite on the CUDA backend and on
# NVIDIA's OpenCL, using the build and libraries that tools/gpu-prepare.sh made elsewhere.
# Output goes to stdout and, when $OUT is set, to $OUT/gpu-check.log.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu-env.sh
log="${OUT:-/tmp}/gpu-check.log"
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  build/lk-info
  status=0
  for t in build/test_*; do
    echo "== $t"
    "$t" --jobs 8 --verbose || status=1
  done
  echo "gpu-check: $([ $status = 0 ] && echo PASSED || echo FAILED)"
  exit $status
} 2>&1 | tee "$log"
