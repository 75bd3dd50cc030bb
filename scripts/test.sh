#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run every test suite on every compiled backend. Cases for a
# backend without a device (CUDA here) are skipped with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export LK_SYSTEM_DB="" # tests must not depend on the tuned tables in results/
cd build && ctest -V --timeout 1500
