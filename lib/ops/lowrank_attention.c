/* lk_lowrank_attention: decode over the latent cache. One kernel (cl/lowrank_decode.cl: tiles, or
 * tensor cores with DIRECT 2) rebuilds keys with RoPE and accumulates p · latent per split; the
 * shared combine merges the splits into p · latent per query head (scratch); one batched GEMM per
 * batch row applies up_v. */
#include <math.h>
#include <string.h>

#include "lowrank_attention.h"
#include "decode_split.h"
#include "op_params.h"
#include "op_params_check.h"
#include "kivi_attention.h"
#include "rope_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

#define OP "lk_lowrank_attention"

void lk_lowrank_attention_key(const lk_lowrank_cache *c, lk_dtype dtype, lk_tune_key *key)
{
    lk_kivi_attention_key(c->latents, dtype, key);
    snprintf(key->op, sizeof key->op, "lowrank_decode");
    key->head_dim = (int)c->cfg.head_dim;
    key->flag = (int)c->cfg.rank;
}

lk_status lk_lowrank_attention_check_tunables(lk_context *ctx, const lk_params *p, const lk_lowrank_config *f,
                                              int query_group, lk_dtype dtype)
{
    int bn = lk_params_get(p, "BLOCK_N", 32), direct = lk_params_get(p, "DIRECT", 0);
    int HD = (int)f->head_dim, r = (int)f->rank, dp = HD > r ? HD : r;
    lk_status st = lk_decode_check_direct(ctx, OP, direct, 0);
    if (st != LK_OK)
        return st;
    if (direct == 0)
        return lk_decode_check_tunables(ctx, OP, p, LK_DEC_TILE_BLOCK_N_MAX,
                                        lk_decode_local_bytes(dp, query_group, 1, bn));
    if (HD % 32)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": DIRECT %d needs head_dim (%d) a multiple of 32", direct, HD);
    /* cl/lowrank_mma.h: up_k as f16 B fragments, 4 floats per RoPE pair */
    return lk_kivi_mma_check(ctx, OP, p, &f->kivi, dp, query_group, dtype, (size_t)r * HD * 2 + (size_t)HD * 8);
}

/* up_k / up_v: [kv_heads, rank, head_dim], contiguous, q's dtype. */
static lk_status check_up(lk_context *ctx, const lk_lowrank_config *f, const char *arg, const lk_tensor *t,
                          lk_dtype dtype)
{
    lk_status st = lk_check_tensor(ctx, OP, arg, t, 3);
    if (st != LK_OK)
        return st;
    if (t->dtype != dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": %s must have q's dtype (%s)", arg, lk_dtype_name(dtype));
    if (t->shape[0] != f->kv_heads || t->shape[1] != f->rank || t->shape[2] != f->head_dim ||
        t->strides[2] != 1 || t->strides[1] != f->head_dim || t->strides[0] != f->rank * f->head_dim)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": %s must be a contiguous [kv_heads=%lld, rank=%lld, head_dim=%lld]",
                       arg, (long long)f->kv_heads, (long long)f->rank, (long long)f->head_dim);
    return LK_OK;
}

static lk_status check_args(lk_context *ctx, const lk_lowrank_cache *c, const lk_tensor *q, const lk_tensor *up_k,
                            const lk_tensor *up_v, const lk_rope_params *rope, const lk_tensor *o,
                            const lk_decode_params *p, lk_tensor *q3, lk_tensor *o3)
{
    lk_status st;
    lk_tensor unused;
    if (!c || !p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": cache and params must not be NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": the cache belongs to another context");
    if ((st = lk_decode_check_outputs(ctx, OP, q, o, NULL, q3, o3, &unused)) ||
        (st = lk_decode_check_scale(ctx, OP, p->scale)) || (st = check_up(ctx, &c->cfg, "up_k", up_k, q->dtype)) ||
        (st = check_up(ctx, &c->cfg, "up_v", up_v, q->dtype)))
        return st;
    const lk_lowrank_config *f = &c->cfg;
    int64_t B = q3->shape[0], Hq = q3->shape[1], D = q3->shape[2];
    if (B != f->batch || D != f->head_dim || Hq % f->kv_heads || Hq / f->kv_heads > 16)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": q must be [batch=%lld, Hq, head_dim=%lld] with Hq a multiple of "
                       "kv_heads=%lld, at most 16 per kv head", (long long)f->batch, (long long)f->head_dim,
                       (long long)f->kv_heads);
    if (o3->strides[2] != 1 || o3->strides[1] != D || o3->strides[0] != Hq * D)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": o must be contiguous (the up projection writes it as a GEMM)");
    if (lk_tensors_overlap(o, up_k) || lk_tensors_overlap(o, up_v))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": o overlaps up_k or up_v");
    if (f->rank > 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": rank %lld (at most 256)", (long long)f->rank);
    if (c->latents->length < 1)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": the cache is empty");
    if (rope && ((st = lk_rope_check(ctx, OP, rope, D, "positions follow the token index")) ||
                 (st = lk_rope_check_positions(ctx, OP, "cache positions", NULL, B, c->latents->length,
                                               rope->position_offset))))
        return st;
    return lk_lowrank_need_gemm(ctx, OP);
}

/* o[b] rows of kv head j = lat[b] rows of j (QG of them, DP apart) · up_v[j], batched over j. */
static lk_status up_project(lk_context *ctx, const lk_lowrank_config *f, lk_buffer *lat, int dp, const lk_tensor *up_v,
                            const lk_tensor *o3)
{
    int64_t Hq = o3->shape[1], qg = Hq / f->kv_heads, HD = f->head_dim;
    for (int64_t b = 0; b < f->batch; b++) {
        lk_gemm_desc g = {o3->dtype, 0, 0, qg, HD, f->rank, f->kv_heads, 1.0f, 0.0f, lat, up_v->buffer, o3->buffer,
                          b * Hq * dp, dp, qg * dp, up_v->offset, HD, f->rank * HD,
                          o3->offset + b * o3->strides[0], HD, qg * HD};
        lk_status st = ctx->ops->gemm(ctx, &g);
        if (st != LK_OK)
            return st;
    }
    return LK_OK;
}

static lk_status launch(lk_context *ctx, const lk_lowrank_cache *c, const lk_tensor *q3, const lk_tensor *up_k,
                        const lk_tensor *up_v, const lk_rope_params *rope, const lk_tensor *o3, double scale,
                        const lk_params *tuned)
{
    const lk_lowrank_config *f = &c->cfg;
    const lk_kivi_cache *lat = c->latents;
    int B = (int)f->batch, Hq = (int)q3->shape[1], HD = (int)f->head_dim, Hkv = (int)f->kv_heads;
    int r = (int)f->rank, dp = HD > r ? HD : r, qg = Hq / Hkv;
    int bn = lk_params_get(tuned, "BLOCK_N", 32), wg = lk_params_get(tuned, "WG", 64);
    lk_params eff = *tuned;
    lk_params_set(&eff, "DIRECT", lk_decode_direct_for_group(lk_params_get(tuned, "DIRECT", 0), qg, 0));
    tuned = &eff;
    lk_status st = lk_lowrank_attention_check_tunables(ctx, tuned, f, qg, q3->dtype);
    if (st != LK_OK)
        return st;
    int splits = lk_decode_splits(ctx, lk_params_get(tuned, "SPLITS", 1), (lat->length + bn - 1) / bn, (int64_t)B * Hkv);
    lk_buffer *part, *freq = NULL, *olat;
    int64_t nrec;
    if ((st = lk_decode_partials(ctx, (int64_t)B * Hq, splits, dp, &part, &nrec)) ||
        (rope && (st = lk_rope_freq_buffer(ctx, rope, HD, &freq))))
        return st;

    lk_params defs;
    lk_kivi_defines(lat, q3->dtype, &defs);
    lk_params_set(&defs, "D", dp);
    lk_params_set(&defs, "HD", HD);
    lk_params_set(&defs, "RK", r);
    lk_params_set(&defs, "ROPE", rope != NULL);
    lk_params_set(&defs, "QG", qg);
    lk_params_set(&defs, "BLOCK_N", bn);
    lk_params_set(&defs, "WG", wg);
    lk_kivi_direct_defines(tuned, &defs);
    lk_args a = {0};
    lk_args_tensor(&a, q3, 3);
    lk_args_buffer(&a, up_k->buffer);
    lk_args_long(&a, up_k->offset);
    lk_kivi_args_cache(&a, lat);
    lk_args_buffer(&a, freq);
    lk_args_int(&a, rope ? (int)rope->layout : 0);
    lk_args_long(&a, rope ? rope->position_offset : 0);
    lk_args_buffer(&a, part);
    lk_args_long(&a, nrec);
    lk_args_int(&a, Hq);
    lk_args_int(&a, Hkv);
    lk_args_int(&a, (int)f->heads_per_group);
    lk_args_float(&a, (float)(scale * 1.4426950408889634));
    if ((st = lk_launch(ctx, "lowrank_decode", &defs, "lowrank_decode", (size_t)splits, (size_t)B * Hkv, (size_t)wg,
                        &a)))
        return st;
    size_t len = strlen(ctx->last_launch);
    snprintf(ctx->last_launch + len, sizeof ctx->last_launch - len, " SPLITS=%d", splits);
    if ((st = lk_scratch_get(ctx, LK_SCRATCH_LATENTS, (size_t)B * Hq * dp * lk_dtype_size(q3->dtype), &olat)))
        return st;
    lk_tensor olat3 = *o3;
    olat3.buffer = olat;
    olat3.offset = 0;
    olat3.shape[2] = dp;
    olat3.strides[0] = (int64_t)Hq * dp;
    olat3.strides[1] = dp;
    olat3.strides[2] = 1;
    if ((st = lk_decode_combine(ctx, part, nrec, splits, &olat3, NULL)))
        return st;
    return up_project(ctx, f, olat, dp, up_v, o3);
}

lk_status lk_lowrank_attention_run(lk_context *ctx, const lk_lowrank_cache *c, const lk_tensor *q,
                                   const lk_tensor *up_k, const lk_tensor *up_v, const lk_rope_params *rope,
                                   lk_tensor *o, const lk_decode_params *p, const lk_params *tuned)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_tensor q3, o3;
    lk_status st = check_args(ctx, c, q, up_k, up_v, rope, o, p, &q3, &o3);
    if (st != LK_OK)
        return st;
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)c->cfg.head_dim);
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_lowrank_attention_key(c, q->dtype, &key);
    lk_kivi_attention_defaults(&ctx->info, (int)c->cfg.head_dim, &defaults);
    tuned = lk_op_params_choose(ctx, tuned, &key, &defaults, &how);
    st = launch(ctx, c, &q3, up_k, up_v, rope, &o3, scale, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = launch(ctx, c, &q3, up_k, up_v, rope, &o3, scale, tuned);
    return lk_op_params_finish(ctx, &how, st);
}

lk_status lk_lowrank_attention(lk_context *ctx, const lk_lowrank_cache *cache, const lk_tensor *q,
                               const lk_tensor *up_k, const lk_tensor *up_v, const lk_rope_params *rope,
                               lk_tensor *o, const lk_decode_params *params)
{
    return lk_lowrank_attention_run(ctx, cache, q, up_k, up_v, rope, o, params, NULL);
}
