/* Compile-ahead for lk-tune: before timing, worker processes build every candidate's kernels
 * into the on-disk program cache in parallel, so the timing loop loads binaries instead of
 * waiting on one compiler at a time (a GPU key's space is ~100 kernels of ~1 s each).
 *
 * The workers are lk-tune itself, started with the same command line plus `--warm-worker I/N`.
 * Each takes every N-th (offset I) candidate of every compile class — keys equal up to length
 * and flag, whose kernels are the same — and runs the op's check on it, which builds and caches
 * the programs. Fresh processes, not threads: the library keeps per-context state and the CUDA
 * driver does not survive fork. Skipped on CPU devices (the cores that would compile are the
 * device) and when the disk cache is off (LK_CACHE_DIR=""). */
#ifndef LK_TUNER_WARM_H
#define LK_TUNER_WARM_H

#include "tune.h"

/* Starts the workers, waits for them and prints what it did. Never fails the run: a worker that
 * dies only leaves its kernels to the timing loop. */
void tune_warm(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys, int argc, char **argv);

/* The work of worker `index` of `count` (the --warm-worker side). Returns 0. */
int tune_warm_worker(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys, int index, int count);

#endif
