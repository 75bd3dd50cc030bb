/* attention_fwd as a tunable op (see op.h): the space of space_attention.c, the inputs of
 * problem.c, the check of check.c and the fused-RoPE table of bench_attention_fwd.c. Timed
 * problem: B=1 (--batch), H heads (--heads; 16 on GPUs, 1 on CPUs), Hkv = H, Sq = Sk = length. */
#include <stdlib.h>

#include "bench_attention_fwd.h"
#include "check.h"
#include "internal.h"
#include "ops/attention_fwd.h"
#include "op.h"
#include "tune.h"
#include "space_attention.h"

typedef struct attn_state {
    attn_problem timed;
    attn_check check;
    lk_rope_params rope;
    lk_attention_params ap;
} attn_state;

int attn_heads(lk_context *ctx, const tune_shape *shape)
{
    return shape->heads > 0 ? shape->heads : ctx->info.type == LK_DEVICE_CPU ? 1 : 16;
}

static void defaults(const lk_device_info *dev, const lk_tune_key *key, lk_params *out)
{
    lk_attention_fwd_defaults(dev, key->head_dim, out);
}

static int fits(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape)
{
    int H = attn_heads(ctx, shape);
    return attn_problem_fits(ctx, key->dtype, tune_batch(shape), H, H, key->length, key->head_dim);
}

static void teardown(void *state)
{
    attn_state *s = state;
    if (!s)
        return;
    attn_problem_free(&s->timed);
    attn_check_free(&s->check);
    free(s);
}

static lk_status setup(lk_context *ctx, const lk_tune_key *key, const tune_shape *shape, void **state)
{
    attn_state *s = calloc(1, sizeof *s);
    if (!s)
        return LK_ERR_OUT_OF_MEMORY;
    s->rope = lk_rope_params_default();
    attn_params_for_key(key, &s->rope, &s->ap);
    int H = attn_heads(ctx, shape);
    lk_status st = attn_problem_create(ctx, key->dtype, tune_batch(shape), H, H, key->length, key->head_dim, 1, 0,
                                       &s->timed);
    if (st == LK_OK)
        st = attn_check_init(ctx, key, &s->check);
    if (st != LK_OK) {
        teardown(s);
        return st;
    }
    *state = s;
    return LK_OK;
}

static lk_status check(void *state, const lk_params *p, double *rel_err, double *tol)
{
    attn_state *s = state;
    *tol = s->check.tol;
    return attn_check_run(&s->check, p, rel_err);
}

static lk_status run(void *state, const lk_params *p)
{
    attn_state *s = state;
    attn_call call = {&s->timed, s->ap, p};
    return attn_call_run(s->timed.ctx, &call);
}

const tune_op tune_op_attention_fwd = {
    .name = "attention_fwd",
    .nfamilies = 2,
    .families = {"plain", "rope"}, /* plain first: its best seeds rope at each length */
    .flag_name = "causal",
    .flags = "both",
    .flag_choices = {0, 1},
    .head_dims = "128",
    .head_dim_choices = {64, 128},
    .seq_gpu = "512:131072",
    .seq_cpu = "512:4096",
    .decisive = "VARIANT",
    .work = tune_work_attention,
    .space = attn_space,
    .defaults = defaults,
    .fits = fits,
    .setup = setup,
    .check = check,
    .run = run,
    .fits_built = attn_fits_built,
    .teardown = teardown,
    .bench = bench_attention_fwd,
};
