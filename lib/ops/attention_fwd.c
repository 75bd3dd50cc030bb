/* lk_attention_fwd: validation, tuned-parameter lookup, and the three RoPE variants over one
 * kernel (cl/attention_fwd.cl):
 *   fused      ROPE_Q=1 ROPE_K=1: K rotated per tile in the loop (sin/cos computed or table)
 *   k-prepass  ROPE_Q=1 ROPE_K=0: K rotated once into scratch by lk_rope's kernel
 *   unfused    ROPE_Q=0 ROPE_K=0: Q and K rotated into scratch, then plain attention */
#include <math.h>
#include <string.h>

#include "attention_fwd.h"
#include "rope_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"
#include "../tunedb/tunedb.h"

#define OP "lk_attention_fwd"

lk_attention_params lk_attention_params_default(void)
{
    lk_attention_params p;
    memset(&p, 0, sizeof p);
    p.rope_variant = LK_ROPE_VARIANT_AUTO;
    return p;
}

void lk_attention_fwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "VARIANT", LK_ROPE_K_PREPASS);
    lk_params_set(out, "BLOCK_M", gpu ? 64 : 32);
    lk_params_set(out, "BLOCK_N", head_dim > 128 ? 8 : 16);
    lk_params_set(out, "STAGES", gpu ? 2 : 1);
    lk_params_set(out, "ROPE_TABLE", 0);
}

size_t lk_attention_fwd_local_bytes(const lk_params *p, int head_dim)
{
    return 2u * sizeof(float) * (size_t)lk_params_get(p, "STAGES", 1) * (size_t)lk_params_get(p, "BLOCK_N", 16) *
           (size_t)head_dim;
}

lk_status lk_attention_fwd_check_params(lk_context *ctx, const lk_params *p, int head_dim)
{
    int bm = lk_params_get(p, "BLOCK_M", 0), bn = lk_params_get(p, "BLOCK_N", 0);
    int stages = lk_params_get(p, "STAGES", 0), variant = lk_params_get(p, "VARIANT", 0);
    if (bm < 1 || (size_t)bm > ctx->info.max_work_group || bn < 1 || bn > 256 || stages < 1 || stages > 4 ||
        variant < LK_ROPE_FUSED || variant > LK_ROPE_UNFUSED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": parameters out of range (BLOCK_M %d, BLOCK_N %d, STAGES %d, VARIANT %d)", bm, bn,
                       stages, variant);
    size_t local = lk_attention_fwd_local_bytes(p, head_dim);
    if (local > ctx->info.local_mem_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": parameters need %zu bytes of local memory, device has %zu",
                       local, ctx->info.local_mem_bytes);
    return LK_OK;
}

static lk_status check_args(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                            const lk_tensor *o, const lk_tensor *lse, const lk_attention_params *p)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if (!p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": params are NULL");
    if ((st = lk_check_tensor(ctx, OP, "q", q, 4)) || (st = lk_check_tensor(ctx, OP, "k", k, 4)) ||
        (st = lk_check_tensor(ctx, OP, "v", v, 4)) || (st = lk_check_tensor(ctx, OP, "o", o, 4)) ||
        (st = lk_check_dtype(ctx, OP, "q", q, 2, floats)))
        return st;
    if (k->dtype != q->dtype || v->dtype != q->dtype || o->dtype != q->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": q, k, v and o must share one dtype (q is %s)", lk_dtype_name(q->dtype));
    int64_t B = q->shape[0], Hq = q->shape[1], Sq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Sk = k->shape[2];
    if (k->shape[0] != B || v->shape[0] != B || v->shape[1] != Hkv || v->shape[2] != Sk || k->shape[3] != D ||
        v->shape[3] != D)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": k and v must be [B=%lld, Hkv, Sk, D=%lld] with the same Hkv and Sk",
                       (long long)B, (long long)D);
    if (Hq % Hkv)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": Hq (%lld) must be a multiple of Hkv (%lld)", (long long)Hq,
                       (long long)Hkv);
    for (int i = 0; i < 4; i++)
        if (o->shape[i] != q->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": o must have q's shape");
    if (D != 64 && D != 128 && D != 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": head_dim %lld (supported: 64, 128, 256)", (long long)D);
    if (B * Hq > 65535 || Sq > INT32_MAX || Sk > INT32_MAX)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": B*Hq must be <= 65535 and lengths < 2^31");
    if (lk_tensors_overlap(o, q) || lk_tensors_overlap(o, k) || lk_tensors_overlap(o, v))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": o overlaps q, k or v");
    if (lse) {
        if ((st = lk_check_tensor(ctx, OP, "lse", lse, 3)))
            return st;
        if (lse->dtype != LK_F32 || lse->shape[0] != B || lse->shape[1] != Hq || lse->shape[2] != Sq)
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": lse must be f32 [B, Hq, Sq]");
        if (lk_tensors_overlap(lse, q) || lk_tensors_overlap(lse, k) || lk_tensors_overlap(lse, v) ||
            lk_tensors_overlap(lse, o))
            return lk_fail(ctx, LK_ERR_ALIAS, OP ": lse overlaps another tensor");
    }
    if (!(p->scale >= 0.0) || !isfinite(p->scale))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": scale must be finite and >= 0 (0 = 1/sqrt(D))");
    if (p->rope_variant < LK_ROPE_VARIANT_AUTO || p->rope_variant > LK_ROPE_UNFUSED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": unknown rope_variant %d", (int)p->rope_variant);
    if (p->rope) {
        int64_t koff = p->rope->position_offset;
        if ((st = lk_rope_check(ctx, OP, p->rope, D)) ||
            (st = lk_rope_check_positions(ctx, OP, "k_position_ids", p->k_position_ids, B, Sk, koff)) ||
            (st = lk_rope_check_positions(ctx, OP, "q_position_ids", p->q_position_ids, B, Sq, koff + Sk - Sq)))
            return st;
    }
    return LK_OK;
}

/* Everything one launch of the attention kernel needs beyond q, k, v, o, lse. */
typedef struct rope_inputs {
    int rope_q, rope_k, table;
    lk_buffer *freq, *table_buf;
    const lk_tensor *q_ids, *k_ids;
    int64_t q_off, k_off;
    int layout;
} rope_inputs;

static lk_status launch_kernel(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               const lk_tensor *o, const lk_tensor *lse, double scale, int causal,
                               const lk_params *tuned, const rope_inputs *ri)
{
    int D = (int)q->shape[3];
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", q->dtype == LK_F16);
    lk_params_set(&defs, "D", D);
    lk_params_set(&defs, "BLOCK_M", lk_params_get(tuned, "BLOCK_M", 32));
    lk_params_set(&defs, "BLOCK_N", lk_params_get(tuned, "BLOCK_N", 16));
    lk_params_set(&defs, "STAGES", lk_params_get(tuned, "STAGES", 1));
    lk_params_set(&defs, "ROPE_Q", ri->rope_q);
    lk_params_set(&defs, "ROPE_K", ri->rope_k);
    lk_params_set(&defs, "ROPE_TABLE", ri->table);
    int bm = lk_params_get(&defs, "BLOCK_M", 32);

    lk_args a = {0};
    lk_args_tensor(&a, q, 4);
    lk_args_tensor(&a, k, 4);
    lk_args_tensor(&a, v, 4);
    lk_args_tensor(&a, o, 4);
    lk_args_tensor(&a, lse, 3);
    lk_args_int(&a, (int32_t)q->shape[1]);
    lk_args_int(&a, (int32_t)k->shape[1]);
    lk_args_int(&a, (int32_t)q->shape[2]);
    lk_args_int(&a, (int32_t)k->shape[2]);
    lk_args_float(&a, (float)(scale * 1.4426950408889634));
    lk_args_int(&a, causal);
    lk_args_buffer(&a, ri->freq);
    lk_args_buffer(&a, ri->table_buf);
    lk_args_int(&a, ri->layout);
    lk_rope_args_positions(&a, ri->q_ids, ri->q_off, 1);
    lk_rope_args_positions(&a, ri->k_ids, ri->k_off, 1);
    size_t groups = (size_t)((q->shape[2] + bm - 1) / bm);
    return lk_launch(ctx, "attention_fwd", &defs, "attention_fwd", groups, (size_t)(q->shape[0] * q->shape[1]),
                     (size_t)bm, &a);
}

/* A contiguous [B, H, S, D] tensor of t's shape and dtype in a scratch slot. */
static lk_status scratch_like(lk_context *ctx, lk_scratch_slot slot, const lk_tensor *t, lk_tensor *out)
{
    lk_buffer *buf;
    size_t bytes = (size_t)(t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3]) * lk_dtype_size(t->dtype);
    lk_status st = lk_scratch_get(ctx, slot, bytes, &buf);
    if (st == LK_OK)
        *out = lk_tensor_bhsd(buf, t->dtype, t->shape[0], t->shape[1], t->shape[2], t->shape[3]);
    return st;
}

/* The RoPE variant a call runs: forced by the caller, else the tuned VARIANT. */
static int rope_variant(const lk_attention_params *p, const lk_params *tuned)
{
    return p->rope_variant != LK_ROPE_VARIANT_AUTO ? (int)p->rope_variant : lk_params_get(tuned, "VARIANT", 1);
}

lk_status lk_attention_fwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               lk_tensor *o, lk_tensor *lse, const lk_attention_params *p, const lk_params *tuned)
{
    lk_status st = lk_attention_fwd_check_params(ctx, tuned, (int)q->shape[3]);
    if (st != LK_OK)
        return st;
    int D = (int)q->shape[3];
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)D);
    rope_inputs ri = {0};
    if (!p->rope)
        return launch_kernel(ctx, q, k, v, o, lse, scale, p->causal, tuned, &ri);

    int variant = rope_variant(p, tuned);
    ri.layout = (int)p->rope->layout;
    ri.k_ids = p->k_position_ids;
    ri.q_ids = p->q_position_ids;
    ri.k_off = p->rope->position_offset;
    ri.q_off = ri.k_off + k->shape[2] - q->shape[2];
    if ((st = lk_rope_freq_buffer(ctx, p->rope, D, &ri.freq)) != LK_OK)
        return st;

    lk_tensor qr = *q, kr = *k;
    if (variant == LK_ROPE_UNFUSED) {
        if ((st = scratch_like(ctx, LK_SCRATCH_ROPE_Q, q, &qr)) ||
            (st = lk_rope_launch(ctx, q, &qr, p->rope, ri.q_ids, ri.q_off)))
            return st;
    } else {
        ri.rope_q = 1;
    }
    if (variant == LK_ROPE_FUSED) {
        ri.rope_k = 1;
        /* the table holds one row of positions: not for per-batch k ids */
        ri.table = lk_params_get(tuned, "ROPE_TABLE", 0) && !(ri.k_ids && ri.k_ids->ndim == 2);
        if (ri.table) {
            size_t bytes = sizeof(float) * (size_t)k->shape[2] * (size_t)D;
            if ((st = lk_scratch_get(ctx, LK_SCRATCH_ROPE_TABLE, bytes, &ri.table_buf)) ||
                (st = lk_rope_table_launch(ctx, ri.table_buf, k->shape[2], D, p->rope, ri.k_ids, ri.k_off)))
                return st;
        }
    } else if ((st = scratch_like(ctx, LK_SCRATCH_ROPE_K, k, &kr)) ||
               (st = lk_rope_launch(ctx, k, &kr, p->rope, ri.k_ids, ri.k_off))) {
        return st;
    }
    return launch_kernel(ctx, &qr, &kr, v, o, lse, scale, p->causal, tuned, &ri);
}

void lk_attention_fwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "attention_fwd");
    snprintf(key->family, sizeof key->family, "%s", p->rope ? "rope" : "plain");
    key->dtype = q->dtype;
    key->head_dim = (int)q->shape[3];
    key->flag = p->causal != 0;
    key->length = k->shape[2] > q->shape[2] ? k->shape[2] : q->shape[2];
}

lk_status lk_attention_fwd(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                           lk_tensor *o, lk_tensor *lse, const lk_attention_params *params)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st = check_args(ctx, q, k, v, o, lse, params);
    if (st != LK_OK)
        return st;
    lk_tune_key key;
    lk_attention_fwd_key(q, k, params, &key);
    lk_params defaults, tuned;
    lk_lookup_result where;
    lk_attention_fwd_defaults(&ctx->info, key.head_dim, &defaults);
    lk_tuned_params(ctx, &key, &defaults, &tuned, &where);
    st = lk_attention_fwd_run(ctx, q, k, v, o, lse, params, &tuned);
    if (st == LK_OK) {
        size_t n = strlen(ctx->last_launch);
        snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " VARIANT=%d [source=%s]",
                 params->rope ? rope_variant(params, &tuned) : -1,
                 lk_param_source_name(where.source));
        lk_clear_error(ctx);
    }
    return st;
}
