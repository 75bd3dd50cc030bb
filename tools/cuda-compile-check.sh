#!/usr/bin/env bash
# Compiles every kernel program of cl/ as CUDA for sm_90 (nvcc -x cu), the way the CUDA build
# compiles them through NVRTC on an NVIDIA GPU, with each program's default defines and both
# storage types (LK_F16 0 and 1), and the variants of tools/kernel-variants.txt. It catches
# OpenCL-only constructs in the shared sources on a machine without a GPU. A ctest case (cuda_kernels_compile); exits 77, a skip, without nvcc.
#
#   tools/cuda-compile-check.sh [NVCC]
set -uo pipefail
cd "$(dirname "$0")/.."
nvcc="${1:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
if [ ! -x "$nvcc" ]; then
  echo "skipped: no nvcc (CUDA toolkit) on this machine"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export nvcc tmp
compile() { # FILE F16 [DEFINES, comma-separated]
  local name tag
  name=$(basename "$1" .cl)
  tag="$name-$2${3:+-${3//,/-}}"
  if "$nvcc" -x cu -arch=sm_90 -Icl -DLK_PROGRAM_"$name"=1 -DLK_F16="$2" ${3:+-D${3//,/ -D}} -c "$1" \
      -o "$tmp/$tag.o" > "$tmp/$tag.log" 2>&1; then
    echo "ok      $name LK_F16=$2 ${3:-}"
  else
    echo "FAILED  $name LK_F16=$2 ${3:-}"
    grep -m 5 error "$tmp/$tag.log"
  fi
}
export -f compile
variants=$(grep -v '^#' tools/kernel-variants.txt)
{ for f in cl/*.cl; do printf '%s 0\n%s 1\n' "$f" "$f"; done; printf '%s\n' "$variants"; } |
  xargs -P 2 -L 1 bash -c 'compile "$@"' _ | tee "$tmp/all.txt"
failed=$(grep -c '^FAILED' "$tmp/all.txt")
echo "$(grep -c '^ok' "$tmp/all.txt") compiled, $failed failed ($nvcc, sm_90)"
[ "$failed" = 0 ]
