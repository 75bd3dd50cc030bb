/* Device-event timing (see timing.h). */
#include <stdlib.h>

#include "internal.h"
#include "timing.h"

#define MIN_RUNS 3
#define MAX_RUNS 50
#define TARGET_MS 300.0
#define BATCH_MS 0.5  /* a sample lasts at least this long */
#define MAX_BATCH 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One sample: batch calls between a pair of events; *ms gets the time per call. */
static lk_status timed_run(lk_context *ctx, timed_fn fn, void *arg, int batch, double *ms)
{
    lk_status st = ctx->ops->timing_begin(ctx);
    for (int i = 0; st == LK_OK && i < batch; i++)
        st = fn(ctx, arg);
    double t = 0.0;
    lk_status end = ctx->ops->timing_end(ctx, &t);
    *ms = t / batch;
    return st != LK_OK ? st : end;
}

/* The samples of time_op's loop: at least min_runs, then until TARGET_MS of calls or MAX_RUNS. */
static double samples_ms(double call_ms, int min_runs)
{
    return min_runs * call_ms > TARGET_MS ? min_runs * call_ms : TARGET_MS;
}

double time_op_cost_s(double call_ms)
{
    return (call_ms + samples_ms(call_ms, MIN_RUNS)) * 1e-3;
}

double time_rounds_cost_s(double call_ms, int rounds)
{
    return time_op_cost_s(call_ms) + (rounds - 1) * samples_ms(call_ms, 1) * 1e-3;
}

/* Samples of batch calls each (at least min_runs) into out. */
static lk_status sample(lk_context *ctx, timed_fn fn, void *arg, double limit_ms, int batch, int min_runs,
                        timing *out)
{
    double ms[MAX_RUNS], total = 0.0;
    int n = 0;
    lk_status st = LK_OK;
    while (n < MAX_RUNS && (n < min_runs || total < TARGET_MS)) {
        if ((st = timed_run(ctx, fn, arg, batch, &ms[n])) != LK_OK)
            return st;
        total += ms[n++] * batch;
        if (n == 1 && limit_ms > 0.0 && ms[0] > limit_ms) {
            out->timed_out = 1;
            break;
        }
    }
    qsort(ms, (size_t)n, sizeof ms[0], cmp_double);
    out->runs = n;
    out->batch = batch;
    out->min_ms = ms[0];
    out->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    int p80 = (int)(0.8 * (n - 1) + 0.5);
    out->p80_ms = ms[p80];
    return LK_OK;
}

lk_status time_op(lk_context *ctx, timed_fn fn, void *arg, double limit_ms, timing *out)
{
    *out = (timing){0};
    double warm = 0.0;
    /* warm-up, timed to size the batch (a first call that also builds is long: batch 1) */
    lk_status st = timed_run(ctx, fn, arg, 1, &warm);
    if (st != LK_OK)
        return st;
    int batch = warm > 0.0 && warm < BATCH_MS ? (int)(BATCH_MS / warm) + 1 : 1;
    return sample(ctx, fn, arg, limit_ms, batch > MAX_BATCH ? MAX_BATCH : batch, MIN_RUNS, out);
}

lk_status time_op_again(lk_context *ctx, timed_fn fn, void *arg, int batch, timing *out)
{
    *out = (timing){0};
    return sample(ctx, fn, arg, 0.0, batch > 0 ? batch : 1, 1, out);
}
