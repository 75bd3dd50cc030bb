#!/usr/bin/env bash
# On an NVIDIA GPU machine: profile the second launch of each named kernel of a command with
# Nsight Compute and write what it waits on, one text file per kernel ($OUT/ncu-KERNEL.txt):
# speed of light, launch statistics, occupancy, warp states (the stall reasons), then the SASS
# instructions with the most stall samples (of all samples), each with its top reasons.
# The full per-instruction table stays beside it (ncu-KERNEL-sass.csv).
#
#   tools/gpu-ncu.sh 'kda_chunk_mma kda_state_mma' build/tuner/lk-bench --op kda_fwd --seq 65536:65536
#
# NCU_SKIP=N profiles launch N + 1 instead (lk-tune's first launches are small checks).
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu-env.sh
out="${OUT:-.}"
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "gpu-ncu: no ncu on this machine" >&2; exit 1; }
kernels="$1"
shift
for k in $kernels; do
  rep="$out/ncu-$k"
  "$ncu" --kernel-name "$k" --launch-skip "${NCU_SKIP:-1}" --launch-count 1 --section SpeedOfLight --section LaunchStats \
    --section Occupancy --section WarpStateStats --section SourceCounters -f -o "$rep" "$@" > "$rep.log" 2>&1
  "$ncu" -i "$rep.ncu-rep" --page details > "$rep.txt" 2>&1
  "$ncu" -i "$rep.ncu-rep" --page source --csv --print-source sass > "$rep-sass.csv" 2>&1
  python3 - "$rep-sass.csv" >> "$rep.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
head = next((i for i, r in enumerate(rows) if "Source" in r), None)
if head is None:
    sys.exit("no SASS table in " + sys.argv[1])
names, body = rows[head], rows[head + 1:]
col = {n: i for i, n in enumerate(names)}
total = next((n for n in names if n.startswith("Warp Stall Sampling (All")), None)
reasons = [n for n in names if n.startswith("stall_") or n.startswith("smsp__pcsamp_warps_issue_stalled_")]
def num(r, n):
    try:
        return float(r[col[n]].replace(",", ""))
    except (ValueError, IndexError, KeyError):
        return 0.0
all_samples = sum(num(r, total) for r in body) or 1.0
print("\n== SASS lines with the most stall samples (%d samples in all)" % all_samples)
for r in sorted(body, key=lambda r: -num(r, total))[:40]:
    top = sorted(((num(r, n), n) for n in reasons), reverse=True)[:3]
    why = ", ".join("%s %d" % (n.replace("smsp__pcsamp_warps_issue_stalled_", ""), v) for v, n in top if v > 0)
    print("%5.1f%%  %-8s %-60s %s" % (100 * num(r, total) / all_samples, r[col.get("Address", 0)],
                                     r[col["Source"]][:60], why))
PY
  echo "gpu-ncu: $k -> $rep.txt"
done
