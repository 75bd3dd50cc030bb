#!/usr/bin/env bash
# Compiles kernel programs of cl/ for NVIDIA on a machine without a GPU, so that a construct one
# of NVIDIA's compilers would reject fails here, not on the GPU. Two modes (ctest cases):
#
#   cuda   (cuda_kernels_compile)  every program as CUDA for sm_90a (nvcc -x cu), as the CUDA build
#          compiles them through NVRTC on an H100 or H200: each program's default defines with both
#          storage types (LK_F16 0 and 1; the tensor-core programs, *_mma.cl and *_wgmma.cl, with 1
#          only: they take f16 alone),
#          and every variant of tools/kernel-variants.txt. It catches OpenCL-only
#          constructs in the shared sources.
#   nvptx  (opencl_nvptx_compile)  the tensor-core programs (*_mma.cl, f16), their variants and
#          the DIRECT=2 variants as OpenCL C 1.2 for NVPTX (clang -target nvptx64-nvidia-nvcl), the language
#          NVIDIA OpenCL builds them in; PoCL never builds them (they hold inline PTX), and an
#          OpenCL-only mistake (a local pointer passed as private, say) passes the CUDA mode.
#          clang's OpenCL mode spells inline assembly __asm__, NVIDIA's compiler also asm: hence
#          -Dasm=__asm__. Needs clang 15 or newer (14's OpenCL header leaves out vload_half for
#          this target; Debian's PoCL brings clang-15).
#
#   tools/kernel-compile-check.sh cuda|nvptx [COMPILER]
# Exits 77 (a skip) without the compiler.
set -uo pipefail
cd "$(dirname "$0")/.."
mode="${1:?usage: $0 cuda|nvptx [COMPILER]}"
cc="${2:-}"
variants=$(grep -v '^#' tools/kernel-variants.txt)
case "$mode" in
cuda)
  cc="${cc:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
  [ -x "$cc" ] || { echo "skipped: no nvcc (CUDA toolkit) on this machine"; exit 77; }
  flags="-x cu -gencode arch=compute_90a,code=sm_90a -c"
  jobs=$({ for f in cl/*.cl; do
      case "$f" in *_mma.cl | *_wgmma.cl) printf '%s 1\n' "$f" ;; *) printf '%s 0\n%s 1\n' "$f" "$f" ;; esac
    done; printf '%s\n' "$variants"; })
  ;;
nvptx)
  for c in clang-19 clang-18 clang-17 clang-16 clang-15; do
    [ -z "$cc" ] && command -v "$c" > /dev/null && cc=$(command -v "$c")
  done
  if [ -z "$cc" ] || ! "$cc" -print-targets 2>/dev/null | grep -q nvptx64; then
    echo "skipped: no clang 15+ with the NVPTX target on this machine"
    exit 77
  fi
  flags="-x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -Dasm=__asm__ -O2 -S"
  jobs=$({ for f in cl/*_mma.cl; do printf '%s 1\n' "$f"; done; printf '%s\n' "$variants" | grep -E '_mma\.cl|DIRECT=[23]'; })
  ;;
*) echo "usage: $0 cuda|nvptx [COMPILER]" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export cc flags tmp
compile() { # FILE F16 [DEFINES, comma-separated]
  local name tag
  name=$(basename "$1" .cl)
  tag="$name-$2${3:+-${3//,/-}}"
  # shellcheck disable=SC2086 # flags and defines are word lists
  if "$cc" $flags -Icl -DLK_PROGRAM_"$name"=1 -DLK_F16="$2" ${3:+-D${3//,/ -D}} "$1" -o "$tmp/$tag.out" \
      > "$tmp/$tag.log" 2>&1; then
    echo "ok      $name LK_F16=$2 ${3:-}"
  else
    echo "FAILED  $name LK_F16=$2 ${3:-}"
    grep -m 5 error "$tmp/$tag.log"
  fi
}
export -f compile
printf '%s\n' "$jobs" | xargs -P 2 -L 1 bash -c 'compile "$@"' _ | tee "$tmp/all.txt"
failed=$(grep -c '^FAILED' "$tmp/all.txt")
echo "$(grep -c '^ok' "$tmp/all.txt") compiled, $failed failed ($cc, $mode)"
[ "$failed" = 0 ]
