/* lk_attention_decode: dense decode attention split over tokens (cl/attention_decode.cl), the
 * splits merged by the shared combine (decode_split.c). The baseline of the compressed caches. */
#include <math.h>
#include <string.h>

#include "attention_decode.h"
#include "decode_split.h"
#include "op_params.h"
#include "op_params_check.h"
#include "../core/launch.h"
#include "../core/tensor.h"

#define OP "lk_attention_decode"

lk_decode_params lk_decode_params_default(void)
{
    lk_decode_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void lk_attention_decode_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "SPLITS", 0); /* from the grid (lk_decode_splits) */
    lk_params_set(out, "BLOCK_N", head_dim > 128 ? 16 : 32);
    lk_params_set(out, "WG", gpu ? 128 : 64);
}

void lk_attention_decode_key(const lk_tensor *q, const lk_tensor *k, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "attention_decode");
    key->dtype = q->dtype;
    key->head_dim = (int)q->shape[q->ndim - 1];
    key->length = k->shape[2];
}

static lk_status check_args(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                            const lk_tensor *o, const lk_tensor *lse, const lk_decode_params *p, lk_tensor *q3,
                            lk_tensor *o3, lk_tensor *lse2)
{
    lk_status st;
    if (!p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": params are NULL");
    if ((st = lk_decode_check_outputs(ctx, OP, q, o, lse, q3, o3, lse2)) || (st = lk_check_tensor(ctx, OP, "k", k, 4)) ||
        (st = lk_check_tensor(ctx, OP, "v", v, 4)) || (st = lk_decode_check_scale(ctx, OP, p->scale)))
        return st;
    if (k->dtype != q->dtype || v->dtype != q->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": q, k and v must share one dtype (q is %s)", lk_dtype_name(q->dtype));
    int64_t B = q3->shape[0], Hq = q3->shape[1], D = q3->shape[2], Hkv = k->shape[1], S = k->shape[2];
    if (k->shape[0] != B || k->shape[3] != D || v->shape[0] != B || v->shape[1] != Hkv || v->shape[2] != S ||
        v->shape[3] != D)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": k and v must be [B=%lld, Hkv, S, D=%lld] with the same Hkv and S",
                       (long long)B, (long long)D);
    if (Hq % Hkv)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": Hq (%lld) must be a multiple of Hkv (%lld)", (long long)Hq,
                       (long long)Hkv);
    if (D != 64 && D != 128 && D != 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": head_dim %lld (supported: 64, 128, 256)", (long long)D);
    if (Hq / Hkv > 16 || B * Hkv > 65535 || S > INT32_MAX / 2)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": Hq/Hkv must be <= 16, B*Hkv <= 65535 and S < 2^30");
    if (lk_tensors_overlap(o, k) || lk_tensors_overlap(o, v) || (lse && (lk_tensors_overlap(lse, k) ||
                                                                         lk_tensors_overlap(lse, v))))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": o or lse overlaps k or v");
    return LK_OK;
}

static lk_status launch(lk_context *ctx, const lk_tensor *q3, const lk_tensor *k, const lk_tensor *v,
                        const lk_tensor *o3, const lk_tensor *lse2, double scale, const lk_params *tuned)
{
    int B = (int)q3->shape[0], Hq = (int)q3->shape[1], D = (int)q3->shape[2], Hkv = (int)k->shape[1];
    int S = (int)k->shape[2], qg = Hq / Hkv;
    /* BLOCK_N is an upper bound: a GQA group too large for it runs with the largest tile that
     * fits local memory */
    int bn = lk_params_get(tuned, "BLOCK_N", 32), wg = lk_params_get(tuned, "WG", 64);
    while (bn > 1 && bn % 2 == 0 && lk_decode_local_bytes(D, qg, 1, bn) > ctx->info.local_mem_bytes)
        bn /= 2;
    lk_params fitted = *tuned;
    lk_params_set(&fitted, "BLOCK_N", bn);
    lk_status st =
        lk_decode_check_tunables(ctx, OP, &fitted, LK_DEC_TILE_BLOCK_N_MAX, lk_decode_local_bytes(D, qg, 1, bn));
    if (st != LK_OK)
        return st;
    int splits = lk_decode_splits(ctx, lk_params_get(tuned, "SPLITS", 0), (S + bn - 1) / bn, (int64_t)B * Hkv);
    lk_buffer *part;
    int64_t nrec;
    if ((st = lk_decode_partials(ctx, (int64_t)B * Hq, splits, D, &part, &nrec)))
        return st;

    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", q3->dtype == LK_F16);
    lk_params_set(&defs, "D", D);
    lk_params_set(&defs, "QG", qg);
    lk_params_set(&defs, "BLOCK_N", bn);
    lk_params_set(&defs, "WG", wg);
    lk_params_set(&defs, "VEC", lk_tensor_rows_vec(k) && lk_tensor_rows_vec(v));
    lk_args a = {0};
    lk_args_tensor(&a, q3, 3);
    lk_args_tensor(&a, k, 4);
    lk_args_tensor(&a, v, 4);
    lk_args_buffer(&a, part);
    lk_args_long(&a, nrec);
    lk_args_int(&a, Hq);
    lk_args_int(&a, Hkv);
    lk_args_int(&a, S);
    lk_args_float(&a, (float)(scale * 1.4426950408889634));
    if ((st = lk_launch(ctx, "attention_decode", &defs, "attention_decode", (size_t)splits, (size_t)B * Hkv,
                        (size_t)wg, &a)))
        return st;
    size_t n = strlen(ctx->last_launch);
    snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " SPLITS=%d", splits);
    return lk_decode_combine(ctx, part, nrec, splits, o3, lse2);
}

lk_status lk_attention_decode_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                                  lk_tensor *o, lk_tensor *lse, const lk_decode_params *p, const lk_params *tuned)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_tensor q3, o3, lse2;
    lk_status st = check_args(ctx, q, k, v, o, lse, p, &q3, &o3, &lse2);
    if (st != LK_OK)
        return st;
    int D = (int)q3.shape[2];
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)D);
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_attention_decode_key(q, k, &key);
    lk_attention_decode_defaults(&ctx->info, D, &defaults);
    tuned = lk_op_params_choose(ctx, tuned, &key, &defaults, &how);
    st = launch(ctx, &q3, k, v, &o3, lse ? &lse2 : NULL, scale, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = launch(ctx, &q3, k, v, &o3, lse ? &lse2 : NULL, scale, tuned);
    return lk_op_params_finish(ctx, &how, st);
}

lk_status lk_attention_decode(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                              lk_tensor *o, lk_tensor *lse, const lk_decode_params *params)
{
    return lk_attention_decode_run(ctx, q, k, v, o, lse, params, NULL);
}
