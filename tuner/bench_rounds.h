/* Pieces every RoPE-variant benchmark table uses (bench_attention_fwd.c, bench_attention_bwd.c):
 * the tiles a variant runs with, and interleaved timing rounds so that clock drift between the
 * calls of one row does not pass for a speedup (also the tuner's final round, tune.c). */
#ifndef LK_TUNER_BENCH_ROUNDS_H
#define LK_TUNER_BENCH_ROUNDS_H

#include "longkern.h"
#include "op.h"
#include "params.h"
#include "timing.h"
#include "tunedb/db.h"
#include "tunedb/tunedb.h"

/* The tuning database whose measurements give each variant its own tiles: --db, else the
 * tuner's default database; NULL (after a note on stderr) when there is none. */
lk_db *bench_open_db(const bench_opts *o);

/* The tiles variant v runs with: its best measurement on this device in db (when db is not
 * NULL; *own = 1), else the dispatch's `tuned` with VARIANT = v (*own = 0). */
void bench_variant_params(lk_context *ctx, lk_db *db, const lk_tune_key *key, const lk_params *tuned, int v,
                          lk_params *out, int *own);

/* The call among p[0..n) that runs the dispatch's launch: its parameters laid over `defaults`
 * equal `tuned` (the dispatch's, laid over the same defaults). -1 when none does. The table then
 * reports that call's time for the dispatch, as two timings of one launch differ only by noise. */
int bench_same_launch(const lk_params *defaults, const lk_params *tuned, const lk_params *p, int n);

#define BENCH_MAX_CALLS 8

#define BENCH_RETIRE_FACTOR 1.25

/* Times fn(ctx, args[c]) for c < ncalls (<= BENCH_MAX_CALLS) in `rounds` (<= 9) interleaved
 * rounds; round r runs calls r, r+1, ... (mod n), so that no call always follows the same other
 * one (a GPU warming up within a round would favour the earlier ones);
 * median_ms[c] gets the median over the rounds of each call's median. rival (NULL: none) pairs
 * calls of which a table reports the faster: a call c with rival[c] >= 0 that the first round
 * timed more than BENCH_RETIRE_FACTOR x slower than call rival[c] sits out the other rounds (its
 * median is that round's), as it cannot be the faster one (at 128K the fully fused forward, 3x
 * slower than the K pre-pass, would take a third of the row). Returns -1 on success, else the
 * index of the call that failed. */
int bench_interleaved(lk_context *ctx, timed_fn fn, void *const *args, int ncalls, int rounds, const int *rival,
                      double *median_ms);
/* The same with each call's whole timing: median and p80 are the medians over the rounds of the
 * rounds' median and p80, min the least sample, runs the samples of all rounds, rounds the
 * rounds the call ran in (1 for a call that sat out the others). */
int bench_interleaved_timings(lk_context *ctx, timed_fn fn, void *const *args, int ncalls, int rounds,
                              const int *rival, timing *out);

#endif
