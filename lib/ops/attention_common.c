/* Shared pieces of the attention ops (see attention_common.h). */
#include <math.h>
#include <string.h>

#include "attention_common.h"
#include "rope_host.h"
#include "../core/tensor.h"

lk_status lk_attention_check_args(lk_context *ctx, const char *op, const lk_tensor *q, const lk_tensor *k,
                                  const lk_tensor *v, const lk_tensor *o, const lk_tensor *lse,
                                  const lk_attention_params *p)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if (!p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: params are NULL", op);
    if ((st = lk_check_tensor(ctx, op, "q", q, 4)) || (st = lk_check_tensor(ctx, op, "k", k, 4)) ||
        (st = lk_check_tensor(ctx, op, "v", v, 4)) || (st = lk_check_output(ctx, op, "o", o, 4)) ||
        (st = lk_check_dtype(ctx, op, "q", q, 2, floats)))
        return st;
    if (k->dtype != q->dtype || v->dtype != q->dtype || o->dtype != q->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: q, k, v and o must share one dtype (q is %s)", op,
                       lk_dtype_name(q->dtype));
    int64_t B = q->shape[0], Hq = q->shape[1], Sq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Sk = k->shape[2];
    if (k->shape[0] != B || v->shape[0] != B || v->shape[1] != Hkv || v->shape[2] != Sk || k->shape[3] != D ||
        v->shape[3] != D)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: k and v must be [B=%lld, Hkv, Sk, D=%lld] with the same Hkv and Sk",
                       op, (long long)B, (long long)D);
    if (Hq % Hkv)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: Hq (%lld) must be a multiple of Hkv (%lld)", op, (long long)Hq,
                       (long long)Hkv);
    for (int i = 0; i < 4; i++)
        if (o->shape[i] != q->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: o must have q's shape", op);
    if (D != 64 && D != 128 && D != 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: head_dim %lld (supported: 64, 128, 256)", op, (long long)D);
    if (B * Hq > 65535 || Sq > INT32_MAX || Sk > INT32_MAX)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: B*Hq must be <= 65535 and lengths < 2^31", op);
    if (lk_tensors_overlap(o, q) || lk_tensors_overlap(o, k) || lk_tensors_overlap(o, v))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: o overlaps q, k or v", op);
    if (lse) {
        if ((st = lk_check_output(ctx, op, "lse", lse, 3)))
            return st;
        if (lse->dtype != LK_F32 || lse->shape[0] != B || lse->shape[1] != Hq || lse->shape[2] != Sq)
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: lse must be f32 [B, Hq, Sq]", op);
        if (lk_tensors_overlap(lse, q) || lk_tensors_overlap(lse, k) || lk_tensors_overlap(lse, v) ||
            lk_tensors_overlap(lse, o))
            return lk_fail(ctx, LK_ERR_ALIAS, "%s: lse overlaps another tensor", op);
    }
    if (!(p->scale >= 0.0) || !isfinite(p->scale))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: scale must be finite and >= 0 (0 = 1/sqrt(D))", op);
    if (p->rope_variant < LK_ROPE_VARIANT_AUTO || p->rope_variant > LK_ROPE_UNFUSED)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: unknown rope_variant %d", op, (int)p->rope_variant);
    if (p->rope) {
        int64_t koff = p->rope->position_offset;
        if ((st = lk_rope_check(ctx, op, p->rope, D, "attention takes q_position_ids and k_position_ids")) ||
            (st = lk_rope_check_positions(ctx, op, "k_position_ids", p->k_position_ids, B, Sk, koff)) ||
            (st = lk_rope_check_positions(ctx, op, "q_position_ids", p->q_position_ids, B, Sq, koff + Sk - Sq)))
            return st;
        const lk_tensor *ids[] = {p->q_position_ids, p->k_position_ids};
        for (int i = 0; i < 2; i++)
            if (lk_tensors_overlap(o, ids[i]) || lk_tensors_overlap(lse, ids[i]))
                return lk_fail(ctx, LK_ERR_ALIAS, "%s: o or lse overlaps %s_position_ids", op, i ? "k" : "q");
    }
    return LK_OK;
}

void lk_attention_key(const char *op, const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p,
                      lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "%s", op);
    snprintf(key->family, sizeof key->family, "%s", p->rope ? "rope" : "plain");
    key->dtype = q->dtype;
    key->head_dim = (int)q->shape[3];
    key->flag = p->causal != 0;
    key->length = k->shape[2] > q->shape[2] ? k->shape[2] : q->shape[2];
}

int lk_attention_rope_variant(const lk_attention_params *p, const lk_params *tuned)
{
    return p->rope_variant != LK_ROPE_VARIANT_AUTO ? (int)p->rope_variant : lk_params_get(tuned, "VARIANT", 1);
}

void lk_attention_note_variant(lk_context *ctx, const lk_attention_params *p, const lk_params *tuned)
{
    size_t n = strlen(ctx->last_launch);
    snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " VARIANT=%d",
             p->rope ? lk_attention_rope_variant(p, tuned) : -1);
}

lk_attention_positions lk_attention_positions_of(const lk_tensor *q, const lk_tensor *k,
                                                 const lk_attention_params *p)
{
    lk_attention_positions pos;
    pos.layout = (int)p->rope->layout;
    pos.q_ids = p->q_position_ids;
    pos.k_ids = p->k_position_ids;
    pos.k_off = p->rope->position_offset;
    pos.q_off = pos.k_off + k->shape[2] - q->shape[2];
    return pos;
}

lk_status lk_attention_rotated_copy(lk_context *ctx, lk_scratch_slot slot, const lk_tensor *x,
                                    const lk_rope_params *rope, const lk_tensor *ids, int64_t offset,
                                    lk_tensor *out)
{
    lk_buffer *buf;
    size_t bytes = (size_t)(x->shape[0] * x->shape[1] * x->shape[2] * x->shape[3]) * lk_dtype_size(x->dtype);
    lk_status st = lk_scratch_get(ctx, slot, bytes, &buf);
    if (st != LK_OK)
        return st;
    *out = lk_tensor_bhsd(buf, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3]);
    return lk_rope_launch(ctx, x, out, rope, ids, offset, LK_ROPE_FORWARD);
}
