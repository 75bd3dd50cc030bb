/* Variant tiles and interleaved timing rounds (see bench_rounds.h). */
#include <math.h>
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

static lk_params laid_over(const lk_params *defaults, const lk_params *p)
{
    lk_params out = *defaults;
    for (int i = 0; i < p->n; i++)
        lk_params_set(&out, p->v[i].name, p->v[i].value);
    return out;
}

int bench_same_launch(const lk_params *defaults, const lk_params *tuned, const lk_params *p, int n)
{
    lk_params dispatch = laid_over(defaults, tuned);
    for (int c = 0; c < n; c++) {
        lk_params call = laid_over(defaults, &p[c]);
        if (lk_params_equal(&dispatch, &call))
            return c;
    }
    return -1;
}

int bench_interleaved_timings(lk_context *ctx, timed_fn fn, void *const *args, int ncalls, int rounds,
                              const int *rival, timing *out)
{
    double med[BENCH_MAX_CALLS][MAX_ROUNDS], p80[BENCH_MAX_CALLS][MAX_ROUNDS];
    int done[BENCH_MAX_CALLS] = {0}; /* rounds each call ran */
    rounds = rounds < 1 ? 1 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
    ncalls = ncalls > BENCH_MAX_CALLS ? BENCH_MAX_CALLS : ncalls;
    for (int c = 0; c < ncalls; c++)
        out[c] = (timing){.min_ms = INFINITY};
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < ncalls; i++) {
            int c = (i + r) % ncalls; /* each round starts one call later: no call always follows another */
            if (r > 0 && rival && rival[c] >= 0 && med[c][0] > BENCH_RETIRE_FACTOR * med[rival[c]][0])
                continue;
            timing tm;
            if ((r == 0 ? time_op(ctx, fn, args[c], 0.0, &tm) : time_op_again(ctx, fn, args[c], out[c].batch, &tm)) !=
                LK_OK)
                return c;
            med[c][done[c]] = tm.median_ms;
            p80[c][done[c]++] = tm.p80_ms;
            out[c].min_ms = fmin(out[c].min_ms, tm.min_ms);
            out[c].runs += tm.runs;
            out[c].batch = tm.batch;
        }
    for (int c = 0; c < ncalls; c++) {
        out[c].rounds = done[c];
        qsort(med[c], (size_t)done[c], sizeof med[c][0], cmp_double);
        qsort(p80[c], (size_t)done[c], sizeof p80[c][0], cmp_double);
        out[c].median_ms = med[c][done[c] / 2];
        out[c].p80_ms = p80[c][done[c] / 2];
    }
    return -1;
}

int bench_interleaved(lk_context *ctx, timed_fn fn, void *const *args, int ncalls, int rounds, const int *rival,
                      double *median_ms)
{
    timing t[BENCH_MAX_CALLS];
    int failed = bench_interleaved_timings(ctx, fn, args, ncalls, rounds, rival, t);
    for (int c = 0; failed < 0 && c < ncalls && c < BENCH_MAX_CALLS; c++)
        median_ms[c] = t[c].median_ms;
    return failed;
}
