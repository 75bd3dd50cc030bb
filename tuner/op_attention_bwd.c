/* attention_bwd as a tunable op (see op.h): the space of space_attention_bwd.c, the inputs and
 * check of bwd_problem.c and the table of bench_attention_bwd.c. Timed problem: B=1 (--batch),
 * H heads (--heads; 16 on GPUs, 1 on CPUs), Hkv = H, Sq = Sk = length, o and lse from one
 * forward call. */
#include <stdlib.h>

#include "bench_attention_bwd.h"
#include "bench_attention_fwd.h"
#include "bwd_problem.h"
#include "ops/attention_bwd.h"
#include "op.h"
#include "tune.h"
#include "space_attention_bwd.h"

typedef struct bwd_state {
    bwd_problem timed;
    bwd_check check;
} bwd_state;

static void defaults(const lk_device_info *dev, const lk_tune_key *key, lk_params *out)
{
    lk_attention_bwd_defaults(dev, key->head_dim, out);
}

static int fits(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape)
{
    int H = attn_heads(ctx, shape);
    return bwd_problem_fits(ctx, key, tune_batch(shape), H, H, key->length);
}

static void teardown(void *state)
{
    bwd_state *s = state;
    if (!s)
        return;
    bwd_problem_free(&s->timed);
    bwd_check_free(&s->check);
    free(s);
}

static lk_status setup(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state)
{
    bwd_state *s = calloc(1, sizeof *s);
    if (!s)
        return LK_ERR_OUT_OF_MEMORY;
    int H = attn_heads(ctx, shape);
    lk_status st = bwd_problem_create(ctx, key, tune_batch(shape), H, H, key->length, 1, 0, &s->timed);
    if (st == LK_OK)
        st = bwd_check_init(ctx, key, &s->check);
    if (st != LK_OK) {
        teardown(s);
        return st;
    }
    *state = s;
    return LK_OK;
}

static lk_status check(void *state, const lk_params *p, double *rel_err, double *tol)
{
    bwd_state *s = state;
    *tol = s->check.tol;
    return bwd_check_run(&s->check, p, rel_err);
}

static lk_status run(void *state, const lk_params *p)
{
    bwd_state *s = state;
    bwd_call call = {&s->timed, p};
    return bwd_call_run(s->timed.fwd.ctx, &call);
}

const tune_op tune_op_attention_bwd = {
    .name = "attention_bwd",
    .nfamilies = 2,
    .families = {"plain", "rope"}, /* plain first: its best seeds rope at each length */
    .flag_name = "causal",
    .flags = "both",
    .flag_choices = {0, 1},
    .head_dims = "128",
    .head_dim_choices = {64, 128},
    .seq_gpu = "512:131072",
    .seq_cpu = "512:2048",
    .decisive = "VARIANT",
    .work = tune_work_attention,
    .space = attn_bwd_space,
    .defaults = defaults,
    .fits = fits,
    .setup = setup,
    .check = check,
    .run = run,
    .fits_built = attn_bwd_fits_built,
    .teardown = teardown,
    .bench = bench_attention_bwd,
};
