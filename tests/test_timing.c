/* The tuner's device-event timing (tuner/timing.c, tuner/bench_rounds.c) on real launches (lk_rope
 * on a small tensor), on every compiled backend: time_op warms up once and then times batches;
 * time_op_again reuses a batch without a warm-up; interleaved rounds warm each call up in the
 * first round only, and a call whose rival was far faster in the first round sits out the others.
 * The timed function counts its calls; a call's time is made long or short by its tensor size. */
#include <stdlib.h>

#include "bench_rounds.h"
#include "harness.h"
#include "timing.h"

typedef struct {
    lkt_tensor x, out;
    lk_rope_params rope;
    int calls;
} counted;

static lk_status counted_run(lk_context *ctx, void *arg)
{
    counted *c = arg;
    c->calls++;
    return lk_rope(ctx, &c->x.t, &c->out.t, &c->rope);
}

static counted counted_make(lk_context *ctx, int64_t S)
{
    int64_t shape[4] = {1, 2, S, 64};
    size_t n = (size_t)(2 * S * 64);
    float *x = calloc(n, sizeof *x);
    counted c = {lkt_upload(ctx, LK_F32, LKT_CONTIGUOUS, shape, x), lkt_zeros(ctx, LK_F32, 4, shape),
                 lk_rope_params_default(), 0};
    free(x);
    return c;
}

static void counted_free(counted *c)
{
    lkt_free(&c->x);
    lkt_free(&c->out);
}

LKT_EACH_BACKEND(b, timing, warm_up_once)
{
    lk_context *ctx = lkt_open(*b);
    counted c = counted_make(ctx, 64);
    timing tm;
    LKT_OK(ctx, time_op(ctx, counted_run, &c, 0.0, &tm));
    cr_expect(tm.runs >= 3 && tm.batch >= 1, "runs %d batch %d", tm.runs, tm.batch);
    cr_expect_eq(c.calls, 1 + tm.runs * tm.batch, "time_op: %d calls for 1 warm-up + %d x %d", c.calls, tm.runs,
                 tm.batch);
    cr_expect(tm.min_ms > 0.0 && tm.min_ms <= tm.median_ms && tm.median_ms <= tm.p80_ms, "min %g median %g p80 %g",
              tm.min_ms, tm.median_ms, tm.p80_ms);

    c.calls = 0;
    timing again;
    LKT_OK(ctx, time_op_again(ctx, counted_run, &c, tm.batch, &again));
    cr_expect(again.runs >= 1 && again.batch == tm.batch, "runs %d batch %d", again.runs, again.batch);
    cr_expect_eq(c.calls, again.runs * again.batch, "time_op_again warmed up: %d calls for %d x %d", c.calls,
                 again.runs, again.batch);

    /* three calls, three rounds: each warms up in the first round only */
    counted k[3] = {counted_make(ctx, 64), counted_make(ctx, 32), counted_make(ctx, 16)};
    void *args[3] = {&k[0], &k[1], &k[2]};
    timing t[3];
    cr_assert_eq(bench_interleaved_timings(ctx, counted_run, args, 3, 3, NULL, t), -1, "%s", lk_last_error(ctx));
    for (int i = 0; i < 3; i++)
        cr_expect_eq(k[i].calls, 1 + t[i].runs * t[i].batch, "call %d: %d calls for 1 warm-up + %d x %d", i,
                     k[i].calls, t[i].runs, t[i].batch);
    for (int i = 0; i < 3; i++)
        counted_free(&k[i]);
    counted_free(&c);
    lk_context_destroy(ctx);
}

/* A call paired with a rival that the first round timed more than BENCH_RETIRE_FACTOR x faster
 * runs in that round only; the rival runs in every round. */
LKT_EACH_BACKEND(b, timing, a_call_far_behind_its_rival_sits_out)
{
    lk_context *ctx = lkt_open(*b);
    counted slow = counted_make(ctx, 1 << 16), fast = counted_make(ctx, 16);
    void *args[2] = {&slow, &fast};
    const int rival[2] = {1, -1};
    timing t[2];
    cr_assert_eq(bench_interleaved_timings(ctx, counted_run, args, 2, 5, rival, t), -1, "%s", lk_last_error(ctx));
    cr_assert(t[0].median_ms > BENCH_RETIRE_FACTOR * t[1].median_ms, "the large call is not slower: %g vs %g ms",
              t[0].median_ms, t[1].median_ms);
    cr_expect_eq(t[0].rounds, 1, "the slow call ran in %d rounds", t[0].rounds);
    cr_expect_eq(t[1].rounds, 5, "the rival ran in %d rounds", t[1].rounds);
    cr_expect_eq(slow.calls, 1 + t[0].runs * t[0].batch, "the slow call: %d calls for 1 warm-up + %d x %d", slow.calls,
                 t[0].runs, t[0].batch);
    counted_free(&slow);
    counted_free(&fast);
    lk_context_destroy(ctx);
}
