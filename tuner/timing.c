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

double time_op_cost_s(double call_ms)
{
    double samples = MIN_RUNS * call_ms > TARGET_MS ? MIN_RUNS * call_ms : TARGET_MS;
    return (call_ms + samples) * 1e-3;
}

lk_status time_op(lk_context *ctx, timed_fn fn, void *arg, double limit_ms, timing *out)
{
    *out = (timing){0};
    double warm = 0.0;
    /* warm-up, timed to size the batch (a first call that also builds is long: batch 1) */
    lk_status st = timed_run(ctx, fn, arg, 1, &warm);
    int batch = warm > 0.0 && warm < BATCH_MS ? (int)(BATCH_MS / warm) + 1 : 1;
    batch = batch > MAX_BATCH ? MAX_BATCH : batch;
    double ms[MAX_RUNS], total = 0.0;
    int n = 0;
    while (st == LK_OK && n < MAX_RUNS && (n < MIN_RUNS || total < TARGET_MS)) {
        if ((st = timed_run(ctx, fn, arg, batch, &ms[n])) != LK_OK)
            break;
        total += ms[n++] * batch;
        if (n == 1 && limit_ms > 0.0 && ms[0] > limit_ms) {
            out->timed_out = 1;
            break;
        }
    }
    if (st != LK_OK)
        return st;
    qsort(ms, (size_t)n, sizeof ms[0], cmp_double);
    out->runs = n;
    out->batch = batch;
    out->min_ms = ms[0];
    out->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    int p80 = (int)(0.8 * (n - 1) + 0.5);
    out->p80_ms = ms[p80];
    return LK_OK;
}
