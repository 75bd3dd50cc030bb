/* lk_kivi_attention: decode attention over a KIVI cache (cl/kivi_decode.cl), split over tokens
 * and merged by the shared combine (decode_split.c). */
#include <math.h>
#include <string.h>

#include "kivi_attention.h"
#include "decode_split.h"
#include "op_params.h"
#include "op_params_check.h"
#include "../core/launch.h"
#include "../core/tensor.h"

#define OP "lk_kivi_attention"

void lk_kivi_attention_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "SPLITS", gpu ? 64 : 2 * (dev->compute_units > 0 ? dev->compute_units : 1));
    lk_params_set(out, "BLOCK_N", head_dim > 128 ? 16 : 32);
    lk_params_set(out, "WG", gpu ? 128 : 64);
}

size_t lk_kivi_mma_stage_bytes(const lk_kivi_config *cfg, int block_n, int direct, int kbuf)
{
    size_t D = (size_t)cfg->head_dim, n = (size_t)block_n, G = (size_t)cfg->group;
    /* key parameters: the groups a tile touches (KM_KG of cl/kivi_mma_stage.h) */
    size_t kg = n % G == 0 ? n / G : G % n == 0 ? 1 : (G - 16 + n + G - 1) / G;
    size_t words = D * n / (size_t)(32 / cfg->k_bits) + n * D / (size_t)(32 / cfg->v_bits) + D * kg + n * D / G;
    if (direct == 3) /* KBUF buffers of words, the f16 tiles kt and vt (rows padded by 8 halves) */
        return 4 * (size_t)kbuf * words + 2 * (D * (n + 8) + n * (D + 8));
    return 4 * 2 * words;
}

lk_status lk_kivi_mma_check(lk_context *ctx, const char *op, const lk_params *p, const lk_kivi_config *cfg,
                            int record_dim, int query_group, lk_dtype dtype, size_t local)
{
    int bn = lk_params_get(p, "BLOCK_N", 32);
    int direct = lk_params_get(p, "DIRECT", 2), kbuf = lk_params_get(p, "KBUF", 1);
    if (kbuf < 1 || kbuf > LK_KIVI_KBUF_MAX)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: KBUF %d (word buffers of DIRECT 3) must be 1..%d", op,
                       kbuf, LK_KIVI_KBUF_MAX);
    lk_status st = lk_decode_mma_check(ctx, op, p, dtype, record_dim, query_group, LK_DEC_DIRECT_BLOCK_N_MAX,
                                       local + lk_kivi_mma_stage_bytes(cfg, bn, direct, kbuf));
    if (st == LK_OK && (cfg->head_dim % 16 || cfg->group % 16))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: DIRECT %d needs the cache's channels (%lld) and G (%d) "
                       "multiples of 16", op, direct, (long long)cfg->head_dim, cfg->group);
    return st;
}

lk_status lk_kivi_attention_check_tunables(lk_context *ctx, const lk_params *p, const lk_kivi_config *cfg,
                                           int query_group, lk_dtype dtype)
{
    int bn = lk_params_get(p, "BLOCK_N", 32), wg = lk_params_get(p, "WG", 64), direct = lk_params_get(p, "DIRECT", 0);
    int D = (int)cfg->head_dim;
    lk_status st = lk_decode_check_direct(ctx, OP, direct, 1);
    if (st != LK_OK)
        return st;
    if (direct == 0)
        return lk_decode_check_tunables(ctx, OP, p, LK_DEC_TILE_BLOCK_N_MAX,
                                        lk_decode_local_bytes(D, query_group, 1, bn));
    if (direct == 1)
        return lk_decode_check_tunables(ctx, OP, p, LK_DEC_DIRECT_BLOCK_N_MAX,
                                        lk_decode_direct_local_bytes(D, query_group, bn, wg, 32 / cfg->k_bits));
    return lk_kivi_mma_check(ctx, OP, p, cfg, D, query_group, dtype, 0);
}

void lk_kivi_direct_defines(const lk_params *tuned, lk_params *defs)
{
    int direct = lk_params_get(tuned, "DIRECT", 0);
    lk_params_set(defs, "DIRECT", direct);
    if (direct == 3)
        lk_params_set(defs, "KBUF", lk_params_get(tuned, "KBUF", 1));
}

void lk_kivi_attention_key(const lk_kivi_cache *c, lk_dtype dtype, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "kivi_decode");
    snprintf(key->family, sizeof key->family, "k%dv%d", c->cfg.k_bits, c->cfg.v_bits);
    key->dtype = dtype;
    key->head_dim = (int)c->cfg.head_dim;
    key->flag = c->cfg.group;
    key->length = c->length;
}

static lk_status check_args(lk_context *ctx, const lk_kivi_cache *c, const lk_tensor *q, const lk_tensor *o,
                            const lk_tensor *lse, const lk_decode_params *p, lk_tensor *q3, lk_tensor *o3,
                            lk_tensor *lse2)
{
    lk_status st;
    if (!c || !p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": cache and params must not be NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": the cache belongs to another context");
    if ((st = lk_decode_check_outputs(ctx, OP, q, o, lse, q3, o3, lse2)) || (st = lk_decode_check_scale(ctx, OP, p->scale)))
        return st;
    int64_t B = q3->shape[0], Hq = q3->shape[1], D = q3->shape[2], Hkv = c->cfg.kv_heads;
    if (B != c->cfg.batch || D != c->cfg.head_dim || Hq % Hkv || Hq / Hkv > 16)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": q must be [batch=%lld, Hq, head_dim=%lld] with Hq a multiple of "
                       "kv_heads=%lld, at most 16 per kv head", (long long)c->cfg.batch, (long long)c->cfg.head_dim,
                       (long long)Hkv);
    if (c->length < 1)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": the cache is empty");
    return LK_OK;
}

static lk_status launch(lk_context *ctx, const lk_kivi_cache *c, const lk_tensor *q3, const lk_tensor *o3,
                        const lk_tensor *lse2, double scale, const lk_params *tuned)
{
    int B = (int)q3->shape[0], Hq = (int)q3->shape[1], D = (int)q3->shape[2], Hkv = (int)c->cfg.kv_heads;
    int bn = lk_params_get(tuned, "BLOCK_N", 32), wg = lk_params_get(tuned, "WG", 64);
    lk_params eff = *tuned;
    lk_params_set(&eff, "DIRECT", lk_decode_direct_for_group(lk_params_get(tuned, "DIRECT", 0), Hq / Hkv, 1));
    tuned = &eff;
    lk_status st = lk_kivi_attention_check_tunables(ctx, tuned, &c->cfg, Hq / Hkv, q3->dtype);
    if (st != LK_OK)
        return st;
    int splits = lk_decode_splits(ctx, lk_params_get(tuned, "SPLITS", 1), (c->length + bn - 1) / bn, (int64_t)B * Hkv);
    lk_buffer *part;
    int64_t nrec;
    if ((st = lk_decode_partials(ctx, (int64_t)B * Hq, splits, D, &part, &nrec)))
        return st;

    lk_params defs;
    lk_kivi_defines(c, q3->dtype, &defs);
    lk_params_set(&defs, "QG", Hq / Hkv);
    lk_params_set(&defs, "BLOCK_N", bn);
    lk_params_set(&defs, "WG", wg);
    lk_kivi_direct_defines(tuned, &defs);
    lk_args a = {0};
    lk_args_tensor(&a, q3, 3);
    lk_kivi_args_cache(&a, c);
    lk_args_buffer(&a, part);
    lk_args_long(&a, nrec);
    lk_args_int(&a, Hq);
    lk_args_int(&a, Hkv);
    lk_args_float(&a, (float)(scale * 1.4426950408889634));
    if ((st = lk_launch(ctx, "kivi_decode", &defs, "kivi_decode", (size_t)splits, (size_t)B * Hkv, (size_t)wg, &a)))
        return st;
    size_t len = strlen(ctx->last_launch);
    snprintf(ctx->last_launch + len, sizeof ctx->last_launch - len, " SPLITS=%d", splits);
    return lk_decode_combine(ctx, part, nrec, splits, o3, lse2);
}

lk_status lk_kivi_attention_run(lk_context *ctx, const lk_kivi_cache *c, const lk_tensor *q, lk_tensor *o,
                                lk_tensor *lse, const lk_decode_params *p, const lk_params *tuned)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_tensor q3, o3, lse2;
    lk_status st = check_args(ctx, c, q, o, lse, p, &q3, &o3, &lse2);
    if (st != LK_OK)
        return st;
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)c->cfg.head_dim);
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_kivi_attention_key(c, q->dtype, &key);
    lk_kivi_attention_defaults(&ctx->info, (int)c->cfg.head_dim, &defaults);
    tuned = lk_op_params_choose(ctx, tuned, &key, &defaults, &how);
    st = launch(ctx, c, &q3, &o3, lse ? &lse2 : NULL, scale, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = launch(ctx, c, &q3, &o3, lse ? &lse2 : NULL, scale, tuned);
    return lk_op_params_finish(ctx, &how, st);
}

lk_status lk_kivi_attention(lk_context *ctx, const lk_kivi_cache *cache, const lk_tensor *q, lk_tensor *o,
                            lk_tensor *lse, const lk_decode_params *params)
{
    return lk_kivi_attention_run(ctx, cache, q, o, lse, params, NULL);
}
