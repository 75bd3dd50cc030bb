#!/usr/bin/env bash
# Prepare a GPU run from this machine (which has the network): build longkern with the CUDA
# backend, then gather the shared libraries its programs need that a bare GPU machine lacks
# (Criterion, SQLite, the OpenCL ICD loader, and their dependencies, all from this machine's
# Debian packages) into .dev/lib. tools/gpu-check.sh then runs there against build/ and .dev/.
#
#   tools/gpu-prepare.sh            then carry: build .dev
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rm -rf .dev/lib && mkdir -p .dev/lib
glibc='^(libc|libm|libpthread|libdl|librt|libresolv|ld-linux-x86-64)\.so'
for bin in build/lk-* build/test_* build/tuner/lk-* build/liblongkern.so; do
  [ -f "$bin" ] || continue
  ldd "$bin" | awk '/=> \//{print $1, $3}' | while read -r name path; do
    [[ "$name" =~ $glibc ]] && continue
    [[ "$path" == "$PWD"/* ]] && continue
    cp -Ln "$path" ".dev/lib/$name" 2>/dev/null || true
  done
done
du -sh .dev/lib
