/* Variant tiles and interleaved timing rounds (see bench_rounds.h). */
#include <stdio.h>
#include <stdlib.h>

#include "bench_rounds.h"

#define MAX_ROUNDS 9

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

lk_db *bench_open_db(const bench_opts *o)
{
    char path[1024], err[512];
    const char *db_path = o->db ? o->db : lk_tunedb_default_path(path, sizeof path);
    lk_db *db = NULL;
    if (db_path[0] && lk_db_open(db_path, 0, &db, err, sizeof err) != LK_OK)
        fprintf(stderr, "note: no per-variant tiles (%s): %s\n", db_path, err);
    return db;
}

void bench_variant_params(lk_context *ctx, lk_db *db, const lk_tune_key *key, const lk_params *tuned, int v,
                          lk_params *out, int *own)
{
    lk_params must = {0};
    double ms;
    lk_params_set(&must, "VARIANT", v);
    *own = 0;
    if (db && lk_db_best_with(db, lk_context_device(ctx), key, &must, out, &ms, own) != LK_OK)
        fprintf(stderr, "warning: %s\n", lk_db_error(db));
    if (!*own) {
        *out = *tuned;
        lk_params_set(out, "VARIANT", v);
    }
}

int bench_interleaved(lk_context *ctx, timed_fn fn, void *const *args, int ncalls, int rounds, double *median_ms)
{
    double ms[BENCH_MAX_CALLS][MAX_ROUNDS];
    rounds = rounds < 1 ? 1 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
    ncalls = ncalls > BENCH_MAX_CALLS ? BENCH_MAX_CALLS : ncalls;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < ncalls; i++) {
            int c = (i + r) % ncalls; /* each round starts one call later: no call always follows another */
            timing tm;
            if (time_op(ctx, fn, args[c], 0.0, &tm) != LK_OK)
                return c;
            ms[c][r] = tm.median_ms;
        }
    for (int c = 0; c < ncalls; c++) {
        qsort(ms[c], (size_t)rounds, sizeof ms[c][0], cmp_double);
        median_ms[c] = ms[c][rounds / 2];
    }
    return -1;
}
