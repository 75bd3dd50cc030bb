#!/usr/bin/env bash
# Prepare a GPU run from this machine (which has the network): build longkern with the CUDA
# backend, then gather the shared libraries its programs need that a bare GPU machine lacks
# (Criterion, SQLite, the OpenCL ICD loader, and their dependencies, all from this machine's
# Debian packages) into .dev/lib, and unpack fla's wheel (fla-core 0.6.0, for
# tuner/peers/kda_peers.py) into .dev/fla_site. tools/gpu-check.sh then runs there against
# build/ and .dev/.
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
if [ ! -d .dev/fla_site/fla ]; then
  tmp=$(mktemp -d)
  if pip download fla-core==0.6.0 --no-deps -d "$tmp" > /dev/null 2>&1; then
    mkdir -p .dev/fla_site && python3 -m zipfile -e "$tmp"/fla_core-*.whl .dev/fla_site
  else
    echo "gpu-prepare: pip could not download fla-core; kda_peers.py needs an installed fla" >&2
  fi
  rm -rf "$tmp"
fi
du -sh .dev/fla_site 2>/dev/null || true
