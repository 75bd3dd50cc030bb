/* lk_kda_fwd and lk_kda_decode_step: tuned-parameter lookup and the launch of cl/kda.cl (one
 * work-group per sequence, value head and V block, walking the chunks; the decode step is the
 * same kernel with CHUNK = 1). Argument checks live in kda_args.c. */
#include <math.h>
#include <string.h>

#include "kda.h"
#include "../core/launch.h"

#define OP "lk_kda"

lk_kda_params lk_kda_params_default(void)
{
    lk_kda_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void lk_kda_defaults(const lk_device_info *dev, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "CHUNK", gpu ? 16 : 32);
    lk_params_set(out, "BV", gpu ? 32 : 64);
    lk_params_set(out, "WG", gpu ? 128 : 64);
}

static int64_t pow2_at_least(int64_t x)
{
    int64_t p = 1;
    while (p < x)
        p *= 2;
    return p;
}

void lk_kda_effective(const lk_params *tuned, int64_t V, int64_t max_len, lk_params *out)
{
    *out = *tuned;
    int64_t chunk = lk_params_get(tuned, "CHUNK", 16), bv = lk_params_get(tuned, "BV", 32);
    int64_t len_cap = pow2_at_least(max_len), v_cap = pow2_at_least(V);
    lk_params_set(out, "CHUNK", (int)(chunk < len_cap ? chunk : len_cap));
    lk_params_set(out, "BV", (int)(bv < v_cap ? bv : v_cap));
}

size_t lk_kda_local_bytes(const lk_params *p, int64_t K)
{
    size_t C = (size_t)lk_params_get(p, "CHUNK", 16), bv = (size_t)lk_params_get(p, "BV", 32);
    size_t wg = (size_t)lk_params_get(p, "WG", 128);
    /* qs, ks, gs; lmat, aqk; vp; red; betas, fq, fk; gl */
    return sizeof(float) * (3 * C * ((size_t)K + 1) + 2 * C * C + C * bv + wg * C + 3 * C + (size_t)K);
}

lk_status lk_kda_check_params(lk_context *ctx, const lk_params *p, int64_t K)
{
    int chunk = lk_params_get(p, "CHUNK", 0), bv = lk_params_get(p, "BV", 0), wg = lk_params_get(p, "WG", 0);
    if (chunk < 1 || chunk > 64 || bv < 1 || bv > 256 || wg < bv || wg % bv || (size_t)wg > ctx->info.max_work_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": parameters out of range (CHUNK %d in 1..64, BV %d in 1..256, WG %d a multiple of BV "
                          "up to %zu)",
                       chunk, bv, wg, ctx->info.max_work_group);
    size_t local = lk_kda_local_bytes(p, K);
    if (local > ctx->info.local_mem_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, ctx->info.local_mem_bytes);
    return LK_OK;
}

void lk_kda_key(const lk_kda_call *call, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "kda_fwd");
    key->dtype = call->q.dtype;
    key->head_dim = (int)call->q.shape[3];
    key->flag = 0;
    key->length = call->max_len;
}

lk_status lk_kda_run(lk_context *ctx, const lk_kda_call *c, const lk_params *tuned)
{
    int64_t K = c->q.shape[3], V = c->v.shape[3], H = c->q.shape[2], HV = c->v.shape[2];
    lk_params eff;
    lk_kda_effective(tuned, V, c->max_len, &eff);
    lk_status st = lk_kda_check_params(ctx, &eff, K);
    if (st != LK_OK)
        return st;
    int bv = lk_params_get(&eff, "BV", 32), wg = lk_params_get(&eff, "WG", 128);
    const lk_kda_params *p = c->p;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", c->q.dtype == LK_F16);
    lk_params_set(&defs, "DK", (int)K);
    lk_params_set(&defs, "DV", (int)V);
    lk_params_set(&defs, "CHUNK", lk_params_get(&eff, "CHUNK", 16));
    lk_params_set(&defs, "BV", bv);
    lk_params_set(&defs, "WG", wg);
    lk_params_set(&defs, "L2NORM", p->l2norm_qk != 0);
    lk_params_set(&defs, "GATE", p->a_log != NULL);
    lk_params_set(&defs, "HAS_H0", c->h0 != NULL);
    lk_params_set(&defs, "HAS_HT", c->ht != NULL);
    lk_params_set(&defs, "VARLEN", p->cu_seqlens != NULL);
    lk_params_set(&defs, "UNROLL", ctx->info.type == LK_DEVICE_GPU);

    lk_args a = {0};
    lk_args_tensor(&a, &c->q, 4);
    lk_args_tensor(&a, &c->k, 4);
    lk_args_tensor(&a, &c->v, 4);
    lk_args_tensor(&a, &c->g, 4);
    lk_args_tensor(&a, &c->beta, 3);
    lk_args_tensor(&a, &c->o, 4);
    lk_args_tensor(&a, c->h0, 4);
    lk_args_tensor(&a, c->ht, 4);
    lk_args_tensor(&a, p->cu_seqlens, 1);
    lk_args_tensor(&a, p->a_log, 1);
    lk_args_tensor(&a, p->dt_bias, 2);
    lk_args_int(&a, (int32_t)c->q.shape[1]);
    lk_args_int(&a, (int32_t)H);
    lk_args_int(&a, (int32_t)HV);
    lk_args_float(&a, (float)(p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)K)));
    size_t v_blocks = (size_t)((V + bv - 1) / bv);
    return lk_launch(ctx, "kda", &defs, "kda_fwd", (size_t)HV * v_blocks, (size_t)c->n_seqs, (size_t)wg, &a);
}

/* Look the parameters up for a prepared call and run it. */
static lk_status tuned_run(lk_context *ctx, const lk_kda_call *call)
{
    lk_tune_key key;
    lk_kda_key(call, &key);
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_kda_defaults(&ctx->info, &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    lk_status st = lk_kda_run(ctx, call, &tuned);
    if (st == LK_OK) {
        size_t n = strlen(ctx->last_launch);
        snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " [source=%s]",
                 lk_param_source_name(where.source));
        lk_clear_error(ctx);
    }
    return st;
}

lk_status lk_kda_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                     const lk_tensor *g, const lk_tensor *beta, const lk_tensor *initial_state, lk_tensor *o,
                     lk_tensor *final_state, const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_fwd_prepare(ctx, q, k, v, g, beta, initial_state, o, final_state, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}

lk_status lk_kda_decode_step(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                             const lk_tensor *g, const lk_tensor *beta, lk_tensor *state, lk_tensor *o,
                             const lk_kda_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_kda_call call;
    lk_status st = lk_kda_decode_prepare(ctx, q, k, v, g, beta, state, o, params, &call);
    return st != LK_OK ? st : tuned_run(ctx, &call);
}
