#!/usr/bin/env bash
# On the GPU machine: run steps one after another inside one call's time limit, each under the
# time still left, then pack everything under $OUT into $OUT/out.tgz (a call brings back only a
# few files). A step stopped by its timeout keeps what it wrote: lk-bench tables are marked
# partial, and lk-tune's database resumes in a later call that carries it back.
#
#   tools/gpu-steps.sh SECONDS 'tools/gpu-tune-all.sh cuda tune 7m' 'tools/gpu-tune-all.sh cuda bench'
#
# SECONDS: the time all steps may take (leave ~20 s of the call's limit for packing). Each step's
# output goes to $OUT/step-N.log; its exit status and wall time are printed. A call brings back
# files of at most 16 MiB, so a larger out.tgz is split into out.tgz.part-NN (cat them to unpack).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:?OUT must name the folder that comes back}"
total="$1"; shift
start=$SECONDS
n=0
for step in "$@"; do
  n=$((n + 1))
  left=$((total - (SECONDS - start)))
  if [ "$left" -le 5 ]; then
    echo "step $n skipped: no time left ($step)"
    continue
  fi
  t0=$SECONDS
  timeout "$left" bash -c "$step" > "$out/step-$n.log" 2>&1
  rc=$?
  note=""
  [ "$rc" = 124 ] && note=" (stopped by the time limit)"
  echo "step $n: rc=$rc in $((SECONDS - t0)) s$note: $step"
  tail -3 "$out/step-$n.log"
done
if [ -n "$(find "$out" -mindepth 1 -maxdepth 1 ! -name out.tgz)" ]; then
  (cd "$out" && find . -mindepth 1 -maxdepth 1 ! -name out.tgz -print0 | xargs -0 tar czf out.tgz --remove-files)
  echo "packed $(du -h "$out/out.tgz" | cut -f1) into out.tgz"
  if [ "$(stat -c %s "$out/out.tgz")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15M -d "$out/out.tgz" "$out/out.tgz.part-" && rm "$out/out.tgz"
    echo "split into $(ls "$out" | grep -c part-) parts of 15 MiB"
  fi
fi
