#!/usr/bin/env bash
# Compiles the kernel programs that run on NVIDIA tensor cores as OpenCL C 1.2 for NVPTX (clang,
# -target nvptx64-nvidia-nvcl), the language NVIDIA OpenCL builds them in: every *_mma.cl program
# with its default defines, and the DIRECT=2 variants of tools/kernel-variants.txt. PoCL never
# builds them (they hold inline PTX) and tools/cuda-compile-check.sh builds them as CUDA, so an
# OpenCL-only mistake in them (an address space, a construct CUDA accepts and OpenCL C rejects)
# fails here instead of on the GPU. clang's OpenCL mode spells inline assembly __asm__, NVIDIA's
# compiler also asm: hence -Dasm=__asm__. Needs clang 15 or newer (14's OpenCL header leaves out
# vload_half for this target; Debian's PoCL brings clang-15). A ctest case (opencl_nvptx_compile);
# exits 77, a skip, without one.
#
#   tools/opencl-nvptx-check.sh [CLANG]
set -uo pipefail
cd "$(dirname "$0")/.."
clang="${1:-}"
for c in clang-19 clang-18 clang-17 clang-16 clang-15; do
  [ -z "$clang" ] && command -v "$c" > /dev/null && clang=$(command -v "$c")
done
if [ -z "$clang" ] || ! "$clang" -print-targets 2>/dev/null | grep -q nvptx64; then
  echo "skipped: no clang 15+ with the NVPTX target on this machine"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export clang tmp
compile() { # FILE F16 [DEFINES, comma-separated]
  local name tag
  name=$(basename "$1" .cl)
  tag="$name-$2${3:+-${3//,/-}}"
  if "$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -Dasm=__asm__ \
      -O2 -S -Icl -DLK_PROGRAM_"$name"=1 -DLK_F16="$2" ${3:+-D${3//,/ -D}} "$1" -o "$tmp/$tag.ptx" \
      > "$tmp/$tag.log" 2>&1; then
    echo "ok      $name LK_F16=$2 ${3:-}"
  else
    echo "FAILED  $name LK_F16=$2 ${3:-}"
    grep -m 5 error "$tmp/$tag.log"
  fi
}
export -f compile
{ for f in cl/*_mma.cl; do printf '%s 1\n' "$f"; done; grep -v '^#' tools/kernel-variants.txt | grep DIRECT=2; } |
  xargs -P 2 -L 1 bash -c 'compile "$@"' _ | tee "$tmp/all.txt"
failed=$(grep -c '^FAILED' "$tmp/all.txt")
echo "$(grep -c '^ok' "$tmp/all.txt") compiled, $failed failed ($clang, nvptx64-nvidia-nvcl)"
[ "$failed" = 0 ]
