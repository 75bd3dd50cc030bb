#!/usr/bin/env bash
# On an NVIDIA GPU machine (no network): run every test suite on the CUDA backend and on
# NVIDIA's OpenCL, using the build and libraries that tools/gpu-prepare.sh made elsewhere.
# Output goes to stdout and, when $OUT is set, to $OUT/gpu-check.log.
set -uo pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH="$PWD/.dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LK_CACHE_DIR="${LK_CACHE_DIR:-/tmp/longkern-cache}"
export LK_SYSTEM_DB=""
if [ -w /etc ] && [ ! -f /etc/OpenCL/vendors/nvidia.icd ]; then
  mkdir -p /etc/OpenCL/vendors && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
fi
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
