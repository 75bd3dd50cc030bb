/* lk_hadamard: grouped-head Hadamard rotation (cl/hadamard.cl). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hadamard_host.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

#define OP "lk_hadamard"
#define LK_HADAMARD_MAX 4096

lk_hadamard_params lk_hadamard_params_default(void)
{
    lk_hadamard_params p;
    memset(&p, 0, sizeof p);
    p.group = 1;
    return p;
}

lk_status lk_hadamard_check(lk_context *ctx, const char *op, int group, int64_t heads, int64_t head_dim,
                            const int32_t *perm)
{
    if (group < 1 || heads % group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: rotation group %d must be >= 1 and divide %lld heads", op,
                       group, (long long)heads);
    int64_t n;
    if (__builtin_mul_overflow((int64_t)group, head_dim, &n) || n < 2 || n > LK_HADAMARD_MAX || (n & (n - 1)))
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: group * head_dim (%d * %lld) must be a power of two in 2..%d",
                       op, group, (long long)head_dim, LK_HADAMARD_MAX);
    if (!perm)
        return LK_OK;
    unsigned char *seen = calloc((size_t)n, 1);
    if (!seen)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "%s: host allocation failed", op);
    lk_status st = LK_OK;
    for (int64_t c = 0; c < n && st == LK_OK; c++) {
        if (perm[c] < 0 || perm[c] >= n || seen[perm[c]])
            st = lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: perm is not a permutation of 0..%lld (entry %lld is %d)",
                         op, (long long)n - 1, (long long)c, (int)perm[c]);
        else
            seen[perm[c]] = 1;
    }
    free(seen);
    return st;
}

lk_status lk_hadamard_launch(lk_context *ctx, const lk_tensor *x, const lk_tensor *out, int group,
                             const lk_buffer *perm, int inverse)
{
    int D = (int)x->shape[3], n = group * D;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", x->dtype == LK_F16);
    lk_params_set(&defs, "N", n);
    lk_params_set(&defs, "INVERSE", inverse != 0);
    lk_args a = {0};
    lk_args_tensor(&a, x, 4);
    lk_args_tensor(&a, out, 4);
    lk_args_int(&a, (int32_t)x->shape[1]);
    lk_args_int(&a, D);
    lk_args_buffer(&a, perm);
    lk_args_float(&a, (float)(1.0 / sqrt((double)n)));
    size_t local = n < 256 ? (size_t)n / 2 : 128;
    if (local > ctx->info.max_work_group)
        local = ctx->info.max_work_group;
    return lk_launch(ctx, "hadamard", &defs, "hadamard", (size_t)x->shape[2],
                     (size_t)(x->shape[0] * x->shape[1] / group), local, &a);
}

lk_status lk_hadamard(lk_context *ctx, const lk_tensor *x, lk_tensor *out, const lk_hadamard_params *p)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st;
    if (!p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": params are NULL");
    if ((st = lk_check_tensor(ctx, OP, "x", x, 4)) || (st = lk_check_output(ctx, OP, "out", out, 4)) ||
        (st = lk_check_dtype(ctx, OP, "x", x, 2, floats)))
        return st;
    if (out->dtype != x->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP ": out must have x's dtype (%s)", lk_dtype_name(x->dtype));
    for (int i = 0; i < 4; i++)
        if (out->shape[i] != x->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP ": out must have x's shape");
    if (lk_tensors_overlap(out, x) && !lk_tensors_identical(out, x))
        return lk_fail(ctx, LK_ERR_ALIAS, OP ": out partially overlaps x (in place needs the identical tensor)");
    if (x->shape[0] * x->shape[1] / (p->group > 0 ? p->group : 1) > 65535 || x->shape[2] > INT32_MAX)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": B*H/G must be <= 65535");
    if ((st = lk_hadamard_check(ctx, OP, p->group, x->shape[1], x->shape[3], p->perm)))
        return st;
    lk_buffer *perm = NULL;
    if (p->perm) {
        size_t bytes = sizeof(int32_t) * (size_t)(p->group * x->shape[3]);
        int valid;
        uint64_t tag = lk_hash(LK_HASH_SEED, p->perm, bytes) | 1;
        if ((st = lk_scratch_tagged(ctx, LK_SCRATCH_HADAMARD_PERM, bytes, tag, &perm, &valid)))
            return st;
        if (!valid) {
            if ((st = lk_buffer_write(ctx, perm, 0, p->perm, bytes)))
                return st;
            lk_scratch_set_tag(ctx, LK_SCRATCH_HADAMARD_PERM, tag);
        }
    }
    st = lk_hadamard_launch(ctx, x, out, p->group, perm, p->inverse);
    if (st == LK_OK)
        lk_clear_error(ctx);
    return st;
}
