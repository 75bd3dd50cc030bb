"""CUDA-event timing shared by the peer benchmarks: every method of one shape timed in interleaved
rounds, so that clock and power drift (a heavy method just before, a child process's run) falls
on all of them alike, as lk-tune and lk-bench time candidates (docs/perf-notes.md sections 11, 28)."""
import statistics
import sys

import torch


def median_ms(calls, reps, label="", rounds=4, warmup=3):
    """{name: median ms} of calls ({name: fn}): warmup calls of each, then `rounds` rounds in which
    each method runs ceil(reps / rounds) times in a row, each call between two CUDA events. A method
    that raises during its warm-up is left out of the result, its error printed after label."""
    ok = {}
    for name, fn in calls.items():
        try:
            for _ in range(warmup):
                fn()
            ok[name] = fn
        except Exception as e:  # a backend that cannot run this shape
            print(f"{label} {name}: {e}", file=sys.stderr, flush=True)
    torch.cuda.synchronize()
    per_round = -(-reps // rounds)
    times = {name: [] for name in ok}
    for _ in range(rounds):
        for name, fn in ok.items():
            for _ in range(per_round):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                times[name].append(a.elapsed_time(b))
    return {name: statistics.median(t) for name, t in times.items()}
