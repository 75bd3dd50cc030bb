/* The low-rank latent cache: creation and appends (down projections as backend GEMMs into
 * scratch, then the KIVI append of the latents viewed as [batch, groups, S, rank]). */
#include <stdlib.h>
#include <string.h>

#include "lowrank_cache.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

lk_status lk_lowrank_need_gemm(lk_context *ctx, const char *op)
{
    if (ctx->ops->gemm)
        return LK_OK;
    return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: the %s backend was built without its BLAS (clBLAST for OpenCL)",
                   op, ctx->ops->name);
}

#define CREATE "lk_lowrank_cache_create"

lk_status lk_lowrank_cache_create(lk_context *ctx, const lk_lowrank_config *config, lk_lowrank_cache **out)
{
    if (!ctx || !out || !config)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, CREATE ": ctx, config and out must not be NULL");
    *out = NULL;
    const lk_lowrank_config *f = config;
    if (f->heads_per_group < 1 || f->kv_heads < 1 || f->kv_heads > 65535 || f->kv_heads % f->heads_per_group)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       CREATE ": heads_per_group %lld must divide kv_heads %lld (1..65535)",
                       (long long)f->heads_per_group, (long long)f->kv_heads);
    if (f->head_dim != 64 && f->head_dim != 128 && f->head_dim != 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, CREATE ": head_dim %lld (supported: 64, 128, 256)",
                       (long long)f->head_dim);
    if (f->hidden < 1 || f->hidden > (1 << 20))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, CREATE ": hidden %lld out of range", (long long)f->hidden);
    lk_kivi_config k = f->kivi;
    k.batch = f->batch;
    k.kv_heads = f->kv_heads / f->heads_per_group;
    k.head_dim = f->rank;
    lk_status st = lk_kivi_check_config(ctx, CREATE, &k);
    if (st != LK_OK)
        return st;
    lk_lowrank_cache *c = calloc(1, sizeof *c);
    if (!c)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, CREATE ": host allocation failed");
    c->ctx = ctx;
    c->cfg = *f;
    c->cfg.kivi = k;
    if ((st = lk_kivi_cache_create(ctx, &k, &c->latents)) != LK_OK) {
        free(c);
        return st;
    }
    *out = c;
    return LK_OK;
}

void lk_lowrank_cache_destroy(lk_lowrank_cache *c)
{
    if (!c)
        return;
    lk_kivi_cache_destroy(c->latents);
    free(c);
}

int64_t lk_lowrank_cache_length(const lk_lowrank_cache *c) { return c ? c->latents->length : 0; }

lk_status lk_lowrank_cache_memory(const lk_lowrank_cache *c, lk_kivi_memory *out)
{
    lk_status st = lk_kivi_cache_memory(c ? c->latents : NULL, out);
    if (st != LK_OK)
        return st;
    /* the latents' figures are per latent element: rescale to elements of full K and V */
    const lk_lowrank_config *f = &c->cfg;
    double per = (double)(f->kv_heads / f->heads_per_group * f->rank) / (double)(f->kv_heads * f->head_dim);
    out->fp16_bytes = 2 * (size_t)(f->batch * f->kv_heads * out->length * f->head_dim) * 2;
    out->bits_per_element *= per;
    out->key_bits *= per;
    out->value_bits *= per;
    out->quantized_key_bits *= per;
    out->quantized_value_bits *= per;
    return LK_OK;
}

#define APPEND "lk_lowrank_cache_append"

static lk_status check_append(lk_context *ctx, const lk_lowrank_cache *c, const lk_tensor *x, const lk_tensor *dk,
                              const lk_tensor *dv)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, APPEND ": cache is NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, APPEND ": the cache belongs to another context");
    if ((st = lk_check_tensor(ctx, APPEND, "x", x, 3)) || (st = lk_check_tensor(ctx, APPEND, "down_k", dk, 2)) ||
        (st = lk_check_tensor(ctx, APPEND, "down_v", dv, 2)) || (st = lk_check_dtype(ctx, APPEND, "x", x, 2, floats)))
        return st;
    if (dk->dtype != x->dtype || dv->dtype != x->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, APPEND ": x, down_k and down_v must share one dtype");
    const lk_lowrank_config *f = &c->cfg;
    int64_t cols = f->kivi.kv_heads * f->rank;
    if (x->shape[0] != f->batch || x->shape[2] != f->hidden || x->strides[2] != 1 || x->strides[1] < f->hidden)
        return lk_fail(ctx, LK_ERR_SHAPE,
                       APPEND ": x must be [batch=%lld, S, hidden=%lld] with stride 1 on hidden and its rows at least "
                       "hidden apart (the GEMM's leading dimension)", (long long)f->batch, (long long)f->hidden);
    for (int i = 0; i < 2; i++) {
        const lk_tensor *w = i ? dv : dk;
        if (w->shape[0] != f->hidden || w->shape[1] != cols || w->strides[1] != 1 || w->strides[0] < cols)
            return lk_fail(ctx, LK_ERR_SHAPE, APPEND ": %s must be [hidden=%lld, groups*rank=%lld] with stride 1 on "
                           "its columns and rows at least that far apart", i ? "down_v" : "down_k", (long long)f->hidden,
                           (long long)cols);
    }
    if (x->shape[1] > f->kivi.capacity - c->latents->length)
        return lk_fail(ctx, LK_ERR_CAPACITY, APPEND ": %lld tokens do not fit (%lld of %lld used)",
                       (long long)x->shape[1], (long long)c->latents->length, (long long)f->kivi.capacity);
    return lk_lowrank_need_gemm(ctx, APPEND);
}

/* latents[b] = x[b] · w for every batch row, into buf at element offset `off` ([B, S, cols]). */
static lk_status down_project(lk_context *ctx, const lk_tensor *x, const lk_tensor *w, lk_buffer *buf, int64_t off)
{
    int64_t S = x->shape[1], cols = w->shape[1];
    lk_gemm_desc g = {x->dtype, 0, 0, S, cols, x->shape[2], x->shape[0], 1.0f, 0.0f, x->buffer, w->buffer, buf,
                      x->offset, x->strides[1], x->strides[0], w->offset, w->strides[0], 0,
                      off, cols, S * cols};
    return ctx->ops->gemm(ctx, &g);
}

lk_status lk_lowrank_cache_append(lk_context *ctx, lk_lowrank_cache *c, const lk_tensor *x, const lk_tensor *down_k,
                                  const lk_tensor *down_v)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st = check_append(ctx, c, x, down_k, down_v);
    if (st != LK_OK)
        return st;
    const lk_lowrank_config *f = &c->cfg;
    int64_t B = f->batch, S = x->shape[1], groups = f->kivi.kv_heads, r = f->rank, per = B * S * groups * r;
    lk_buffer *buf;
    if ((st = lk_scratch_get(ctx, LK_SCRATCH_LATENTS, 2 * (size_t)per * lk_dtype_size(x->dtype), &buf)) ||
        (st = down_project(ctx, x, down_k, buf, 0)) || (st = down_project(ctx, x, down_v, buf, per)))
        return st;
    /* [B, S, groups, r] viewed as [B, groups, S, r] */
    int64_t shape[4] = {B, groups, S, r};
    lk_tensor hk = lk_tensor_make(buf, x->dtype, 4, shape), hv;
    hk.strides[0] = S * groups * r;
    hk.strides[1] = r;
    hk.strides[2] = groups * r;
    hv = hk;
    hv.offset = per;
    if ((st = lk_kivi_append_checked(ctx, c->latents, &hk, &hv)) == LK_OK)
        lk_clear_error(ctx);
    return st;
}
