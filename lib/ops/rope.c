/* lk_rope: validate, then one launch of cl/rope.cl. */
#include "rope_host.h"
#include "../core/tensor.h"

#define OP "lk_rope"

lk_status lk_rope(lk_context *ctx, const lk_tensor *x, lk_tensor *out, const lk_rope_params *rope)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    if (!rope)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": rope params are NULL");
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if ((st = lk_check_tensor(ctx, OP, "x", x, 4)) != LK_OK || (st = lk_check_output(ctx, OP, "out", out, 4)) != LK_OK ||
        (st = lk_check_dtype(ctx, OP, "x", x, 2, floats)) != LK_OK)
        return st;
    if (out->dtype != x->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": out must have x's dtype (%s)", lk_dtype_name(x->dtype));
    for (int i = 0; i < 4; i++)
        if (out->shape[i] != x->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": out must have x's shape");
    if (x->shape[3] > 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": head_dim %lld > 256", (long long)x->shape[3]);
    if (lk_tensors_overlap(x, out) && !lk_tensors_identical(x, out))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": out partially overlaps x (in place needs out == x)");
    if ((st = lk_rope_check(ctx, OP, rope, x->shape[3], NULL)) != LK_OK ||
        (st = lk_rope_check_positions(ctx, OP, "position_ids", rope->position_ids, x->shape[0], x->shape[2],
                                      rope->position_offset)) != LK_OK)
        return st;
    if (lk_tensors_overlap(out, rope->position_ids))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": out overlaps rope->position_ids");
    st = lk_rope_launch(ctx, x, out, rope, rope->position_ids, rope->position_offset, LK_ROPE_FORWARD);
    if (st == LK_OK)
        lk_clear_error(ctx);
    return st;
}
