/* Compile-ahead for lk-tune: before timing, worker processes build the candidates' kernels into
 * the on-disk program cache in parallel, so the timing loop loads binaries instead of waiting on
 * one compiler at a time (a GPU key's space is ~100 to ~1700 kernels of ~1 s each).
 *
 * The workers are lk-tune itself, started with the same command line plus
 * `--warm-worker I/N/DEADLINE`. Each takes every N-th (offset I) candidate of every compile class
 * — keys equal up to length and flag, whose kernels are the same — in the order the search takes
 * them: the default, then the first tune_planned of tune_search_order, less those the database
 * already holds for every key of the class. For each it runs the op's check, which builds and
 * caches the programs. With a time limit (the budget strategy gives half its budget) the workers
 * take no new candidate past it, so the compiles a short budget pays for are the ones its search
 * reaches first. Fresh processes, not threads: the library keeps per-context state and the CUDA
 * driver does not survive fork. Skipped on CPU devices (the cores that would compile are the
 * device) and when the disk cache is off (LK_CACHE_DIR=""). */
#ifndef LK_TUNER_WARM_H
#define LK_TUNER_WARM_H

#include "tune.h"

/* Starts the workers, waits for them and prints what it did. Never fails the run: a worker that
 * dies only leaves its kernels to the timing loop. limit_s: seconds after which the workers take
 * no new candidate (0: none). */
void tune_warm(lk_context *ctx, const tune_opts *o, const lk_tune_key *keys, int nkeys, int argc, char **argv,
               double limit_s);

/* The work of worker `index` of `count` (the --warm-worker side) until `deadline` (now_s() clock,
 * which is CLOCK_MONOTONIC and so the same in every process; 0: none). Candidates that db (read
 * only; NULL: none) holds for every key of their class are skipped unless o->force: a resumed
 * run compiles what it will time. Returns 0. */
int tune_warm_worker(lk_context *ctx, lk_db *db, const tune_opts *o, const lk_tune_key *keys, int nkeys, int index,
                     int count, double deadline);

#endif
