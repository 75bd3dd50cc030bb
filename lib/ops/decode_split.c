/* Split-over-tokens decode attention, host side (see decode_split.h). */
#include <math.h>
#include <string.h>

#include "decode_split.h"
#include "op_params_check.h"
#include "../core/launch.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

lk_status lk_decode_check_rows(lk_context *ctx, const char *op, const char *arg, const lk_tensor *t, lk_tensor *view)
{
    if (!t)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: %s is NULL", op, arg);
    if (t->ndim != 3 && t->ndim != 4)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s must be [B, Hq, D] or [B, Hq, 1, D], has %d dimensions", op, arg,
                       t->ndim);
    lk_status st = lk_check_tensor(ctx, op, arg, t, t->ndim);
    if (st != LK_OK)
        return st;
    if (t->ndim == 4 && t->shape[2] != 1)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: %s must hold one token (dimension 2 is %lld)", op, arg,
                       (long long)t->shape[2]);
    *view = *t;
    if (t->ndim == 4) {
        view->ndim = 3;
        view->shape[2] = t->shape[3];
        view->strides[2] = t->strides[3];
        view->shape[3] = 0;
        view->strides[3] = 0;
    }
    return LK_OK;
}

lk_status lk_decode_check_outputs(lk_context *ctx, const char *op, const lk_tensor *q, const lk_tensor *o,
                                  const lk_tensor *lse, lk_tensor *q3, lk_tensor *o3, lk_tensor *lse2)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if ((st = lk_decode_check_rows(ctx, op, "q", q, q3)) || (st = lk_decode_check_rows(ctx, op, "o", o, o3)) ||
        (st = lk_check_distinct(ctx, op, "o", o)) || (st = lk_check_dtype(ctx, op, "q", q, 2, floats)))
        return st;
    if (o->dtype != q->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, "%s: o must have q's dtype (%s)", op, lk_dtype_name(q->dtype));
    for (int i = 0; i < 3; i++)
        if (o3->shape[i] != q3->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: o must have q's shape", op);
    if (lk_tensors_overlap(o, q))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: o overlaps q", op);
    if (!lse)
        return LK_OK;
    if (lse->ndim != 2 && lse->ndim != 3)
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: lse must be F32 [B, Hq] or [B, Hq, 1]", op);
    if ((st = lk_check_output(ctx, op, "lse", lse, lse->ndim)))
        return st;
    if (lse->dtype != LK_F32 || lse->shape[0] != q3->shape[0] || lse->shape[1] != q3->shape[1] ||
        (lse->ndim == 3 && lse->shape[2] != 1))
        return lk_fail(ctx, LK_ERR_SHAPE, "%s: lse must be F32 [B, Hq] or [B, Hq, 1]", op);
    if (lk_tensors_overlap(lse, q) || lk_tensors_overlap(lse, o))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: lse overlaps q or o", op);
    *lse2 = *lse;
    lse2->ndim = 2;
    return LK_OK;
}

lk_status lk_decode_check_scale(lk_context *ctx, const char *op, double scale)
{
    if (!(scale >= 0.0) || !isfinite(scale))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: scale must be finite and >= 0 (0 = 1/sqrt(D))", op);
    return LK_OK;
}

size_t lk_decode_local_bytes(int head_dim, int query_group, int kv_heads, int block_n)
{
    size_t nq = (size_t)query_group * (size_t)kv_heads, row = (size_t)kv_heads * (size_t)head_dim;
    /* the score phase's D slices (cl/decode_split.h LK_DEC_DQ): about 128 work-items, at most D / 8 */
    size_t dq = 1;
    while (dq * 2 * (size_t)kv_heads * (size_t)block_n <= 128 && dq * 2 <= (size_t)head_dim / 8 && dq < 16)
        dq *= 2;
    return sizeof(float) * (nq * (size_t)head_dim + (size_t)block_n * (2 * row + 4) + (1 + dq) * nq * (size_t)block_n +
                            3 * nq);
}

size_t lk_decode_direct_local_bytes(int head_dim, int query_group, int block_n, int wg, int run_cap)
{
    int qg = query_group > 0 ? query_group : 1;
    int tpi = 16 / qg >= 16 ? 16 : 16 / qg >= 8 ? 8 : 16 / qg >= 4 ? 4 : 2;
    if (run_cap < tpi)
        tpi = run_cap;
    if (block_n < tpi)
        tpi = block_n;
    int runs = tpi > 0 ? block_n / tpi : 1;
    size_t nq = (size_t)qg, slices = (size_t)(runs > 0 && wg >= runs ? wg / runs : 1);
    size_t bn = block_n > 0 ? (size_t)block_n : 0;
    return sizeof(float) * (nq * (size_t)head_dim + (1 + slices) * bn * nq + 3 * nq);
}

/* Local memory of cl/decode_mma.h's arrays: q (later the merged o) and each warp's (m, l) of 8 heads. */
static size_t mma_local_bytes(int head_dim, int query_group, int wg)
{
    return sizeof(float) * ((size_t)query_group * (size_t)head_dim + (size_t)(wg / 32) * 16);
}

lk_status lk_decode_mma_check(lk_context *ctx, const char *op, const lk_params *p, lk_dtype dtype, int head_dim,
                              int query_group, int max_block_n, size_t local)
{
    int bn = lk_params_get(p, "BLOCK_N", 16), wg = lk_params_get(p, "WG", 64), direct = lk_params_get(p, "DIRECT", 2);
    if (!lk_device_tensor_cores(&ctx->info) || dtype != LK_F16)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: DIRECT %d (tensor cores) needs an NVIDIA GPU of compute "
                       "capability 8+ and f16 q", op, direct);
    if (query_group > 8 || bn % 16 || wg % 32)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: DIRECT %d needs at most 8 query heads per kv head (%d), "
                       "BLOCK_N (%d) a multiple of 16, WG (%d) of 32", op, direct, query_group, bn, wg);
    return lk_decode_check_tunables(ctx, op, p, max_block_n,
                                    local + mma_local_bytes(head_dim, query_group, wg));
}

lk_status lk_decode_check_direct(lk_context *ctx, const char *op, int direct, int direct_reads)
{
    if (direct == 0 || direct == 2 || direct == 3 || (direct == 1 && direct_reads))
        return LK_OK;
    return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: DIRECT %d (0 tiles,%s 2 tensor cores, 3 tensor cores on tiles)",
                   op, direct, direct_reads ? " 1 direct," : "");
}

int lk_decode_direct_for_group(int direct, int query_group, int wide)
{
    return direct >= 2 && query_group > 8 ? wide : direct;
}

lk_status lk_decode_check_tunables(lk_context *ctx, const char *op, const lk_params *p, int max_block_n, size_t local)
{
    int splits = lk_params_get(p, "SPLITS", 0), bn = lk_params_get(p, "BLOCK_N", 0), wg = lk_params_get(p, "WG", 0);
    if (splits < 0 || splits > LK_DEC_SPLITS_MAX || bn < 1 || bn > max_block_n || max_block_n % bn || wg < 1 ||
        (size_t)wg > ctx->info.max_work_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       "%s: parameters out of range (SPLITS %d in 0..%d (0: from the grid), BLOCK_N %d dividing %d, WG %d"
                       " up to %zu)",
                       op, splits, LK_DEC_SPLITS_MAX, bn, max_block_n, wg, ctx->info.max_work_group);
    if (local > ctx->info.local_mem_bytes)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: parameters need %zu bytes of local memory, device has %zu",
                       op, local, ctx->info.local_mem_bytes);
    return LK_OK;
}

int lk_decode_splits(const lk_context *ctx, int tuned_splits, int64_t ntiles, int64_t groups)
{
    int64_t s = tuned_splits;
    if (s < 1) { /* enough work-groups for LK_DEC_WG_PER_CU per compute unit, two tiles per split */
        int64_t cus = ctx->info.compute_units > 0 ? ctx->info.compute_units : 1;
        s = (LK_DEC_WG_PER_CU * cus + groups - 1) / (groups > 0 ? groups : 1);
        if (s > (ntiles + 1) / 2)
            s = (ntiles + 1) / 2;
    }
    if (s > ntiles)
        s = ntiles;
    return s < 1 ? 1 : (int)s;
}

lk_status lk_decode_partials(lk_context *ctx, int64_t rows, int splits, int head_dim, lk_buffer **out,
                             int64_t *nrec)
{
    *nrec = rows * splits;
    return lk_scratch_get(ctx, LK_SCRATCH_DECODE_PARTIAL, sizeof(float) * (size_t)(*nrec) * (size_t)(head_dim + 2),
                          out);
}

lk_status lk_decode_combine(lk_context *ctx, lk_buffer *part, int64_t nrec, int splits, const lk_tensor *o3,
                            const lk_tensor *lse2)
{
    int D = (int)o3->shape[2];
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", o3->dtype == LK_F16);
    lk_params_set(&defs, "D", D);
    size_t cwg = 256; /* a power of two, at least D / 4 quads */
    while (cwg > (size_t)D / 4 && cwg > ctx->info.max_work_group)
        cwg /= 2;
    lk_params_set(&defs, "CWG", (int)cwg);
    lk_args a = {0};
    lk_args_buffer(&a, part);
    lk_args_int(&a, splits);
    lk_args_int(&a, (int32_t)o3->shape[1]);
    lk_args_long(&a, nrec);
    lk_args_tensor(&a, o3, 3);
    lk_args_tensor(&a, lse2, 2);
    char kernel_launch[sizeof ctx->last_launch];
    memcpy(kernel_launch, ctx->last_launch, sizeof kernel_launch);
    lk_status st = lk_launch(ctx, "decode_combine", &defs, "decode_combine", (size_t)(o3->shape[0] * o3->shape[1]), 1,
                             cwg, &a);
    if (st == LK_OK)
        snprintf(ctx->last_launch, sizeof ctx->last_launch, "%.*s + combine", (int)sizeof ctx->last_launch - 16,
                 kernel_launch);
    return st;
}
