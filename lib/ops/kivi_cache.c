/* The KIVI cache object: configuration checks, allocation, streaming appends (three launches of
 * cl/kivi_quant.cl, see the layout there) and the memory report. */
#include <stdlib.h>
#include <string.h>

#include "kivi_cache.h"
#include "../core/launch.h"
#include "../core/tensor.h"

#define LOCAL 64

lk_kivi_config lk_kivi_config_default(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity)
{
    lk_kivi_config c = {batch, kv_heads, head_dim, 2, 2, 32, 128, capacity};
    return c;
}

int64_t lk_kivi_quantized_keys(const lk_kivi_config *cfg, int64_t n) { return n - n % cfg->residual; }
int64_t lk_kivi_quantized_values(const lk_kivi_config *cfg, int64_t n)
{
    return n > cfg->residual ? n - cfg->residual : 0;
}

int64_t lk_kivi_k_words(const lk_kivi_cache *c) { return c->cfg.head_dim * c->cap / (32 / c->cfg.k_bits); }
int64_t lk_kivi_v_words(const lk_kivi_cache *c) { return c->cap * c->cfg.head_dim / (32 / c->cfg.v_bits); }

void lk_kivi_defines(const lk_kivi_cache *c, lk_dtype dtype, lk_params *out)
{
    memset(out, 0, sizeof *out);
    lk_params_set(out, "LK_F16", dtype == LK_F16);
    lk_params_set(out, "D", (int)c->cfg.head_dim);
    lk_params_set(out, "G", c->cfg.group);
    lk_params_set(out, "R", c->cfg.residual);
    lk_params_set(out, "BITS_K", c->cfg.k_bits);
    lk_params_set(out, "BITS_V", c->cfg.v_bits);
}

void lk_kivi_args_cache(lk_args *a, const lk_kivi_cache *c)
{
    lk_args_buffer(a, c->k_codes);
    lk_args_buffer(a, c->k_params);
    lk_args_buffer(a, c->k_res);
    lk_args_buffer(a, c->v_codes);
    lk_args_buffer(a, c->v_params);
    lk_args_buffer(a, c->v_res);
    lk_args_long(a, c->cap);
    lk_args_long(a, c->length);
    lk_args_long(a, lk_kivi_quantized_keys(&c->cfg, c->length));
    lk_args_long(a, lk_kivi_quantized_values(&c->cfg, c->length));
}

static int valid_bits(int b) { return b == 2 || b == 4 || b == 8; }

lk_status lk_kivi_check_config(lk_context *ctx, const char *op, const lk_kivi_config *cfg)
{
    if (!cfg)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: config is NULL", op);
    if (cfg->batch < 1 || cfg->kv_heads < 1 || cfg->batch > 65535 || cfg->kv_heads > 65535 ||
        cfg->batch * cfg->kv_heads > 65535)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: batch (%lld) and kv_heads (%lld) must be >= 1 with a "
                       "product <= 65535", op, (long long)cfg->batch, (long long)cfg->kv_heads);
    if (!valid_bits(cfg->k_bits) || !valid_bits(cfg->v_bits))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: k_bits %d / v_bits %d (supported: 2, 4, 8)", op,
                       cfg->k_bits, cfg->v_bits);
    int per_word = 32 / (cfg->k_bits < cfg->v_bits ? cfg->k_bits : cfg->v_bits);
    if (cfg->group < per_word || cfg->group % per_word || cfg->group > 1024)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: group %d must be a multiple of %d (codes per word) "
                       "and at most 1024", op, cfg->group, per_word);
    if (cfg->head_dim < 1 || cfg->head_dim > 256 || cfg->head_dim % cfg->group)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, "%s: head_dim %lld must be a multiple of group %d and <= 256", op,
                       (long long)cfg->head_dim, cfg->group);
    if (cfg->residual < cfg->group || cfg->residual % cfg->group || cfg->residual > 4096)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: residual %d must be a positive multiple of group %d "
                       "and at most 4096", op, cfg->residual, cfg->group);
    if (cfg->capacity < 1 || cfg->capacity > (1LL << 24))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: capacity %lld must be in [1, 2^24]", op,
                       (long long)cfg->capacity);
    return LK_OK;
}

static lk_status alloc_all(lk_context *ctx, lk_kivi_cache *c)
{
    const lk_kivi_config *f = &c->cfg;
    size_t bh = (size_t)(f->batch * f->kv_heads), d = (size_t)f->head_dim, cap = (size_t)c->cap;
    size_t sizes[6] = {
        bh * (size_t)lk_kivi_k_words(c) * 4, bh * d * (cap / (size_t)f->group) * 4,
        bh * (size_t)lk_kivi_v_words(c) * 4, bh * cap * (d / (size_t)f->group) * 4,
        bh * (size_t)f->residual * d * 2,    bh * (size_t)f->residual * d * 2,
    };
    lk_buffer **bufs[6] = {&c->k_codes, &c->k_params, &c->v_codes, &c->v_params, &c->k_res, &c->v_res};
    for (int i = 0; i < 6; i++) {
        lk_status st = lk_buffer_alloc(ctx, sizes[i], bufs[i]);
        if (st != LK_OK)
            return st;
    }
    return LK_OK;
}

lk_status lk_kivi_cache_create(lk_context *ctx, const lk_kivi_config *config, lk_kivi_cache **out)
{
    if (!ctx || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "lk_kivi_cache_create: ctx and out must not be NULL");
    *out = NULL;
    lk_status st = lk_kivi_check_config(ctx, "lk_kivi_cache_create", config);
    if (st != LK_OK)
        return st;
    lk_kivi_cache *c = calloc(1, sizeof *c);
    if (!c)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, "lk_kivi_cache_create: host allocation failed");
    c->ctx = ctx;
    c->cfg = *config;
    c->cap = (config->capacity + config->residual - 1) / config->residual * config->residual;
    if ((st = alloc_all(ctx, c)) != LK_OK) {
        lk_kivi_cache_destroy(c);
        return st;
    }
    *out = c;
    lk_clear_error(ctx);
    return LK_OK;
}

void lk_kivi_cache_destroy(lk_kivi_cache *c)
{
    if (!c)
        return;
    lk_buffer *bufs[6] = {c->k_codes, c->k_params, c->v_codes, c->v_params, c->k_res, c->v_res};
    for (int i = 0; i < 6; i++)
        lk_buffer_free(bufs[i]);
    free(c);
}

int64_t lk_kivi_cache_length(const lk_kivi_cache *c) { return c ? c->length : 0; }

/* Bits per element of `bytes` over `elements` (0 when there are none). */
static double bits(size_t bytes, size_t elements) { return elements ? 8.0 * (double)bytes / (double)elements : 0.0; }

lk_status lk_kivi_cache_memory(const lk_kivi_cache *c, lk_kivi_memory *out)
{
    if (!c || !out)
        return lk_fail(c ? c->ctx : NULL, LK_ERR_NULL_POINTER, "lk_kivi_cache_memory: cache and out must not be NULL");
    const lk_kivi_config *f = &c->cfg;
    size_t bh = (size_t)(f->batch * f->kv_heads), d = (size_t)f->head_dim, g = (size_t)f->group;
    memset(out, 0, sizeof *out);
    out->length = c->length;
    out->quantized_keys = lk_kivi_quantized_keys(f, c->length);
    out->quantized_values = lk_kivi_quantized_values(f, c->length);
    size_t nk = (size_t)out->quantized_keys, nv = (size_t)out->quantized_values;
    size_t k_codes = bh * d * (nk / (size_t)(32 / f->k_bits)) * 4, v_codes = bh * nv * (d / (size_t)(32 / f->v_bits)) * 4;
    size_t k_params = bh * d * nk / g * 4, v_params = bh * d * nv / g * 4, res = bh * (size_t)f->residual * d * 2;
    out->code_bytes = k_codes + v_codes;
    out->param_bytes = k_params + v_params;
    out->residual_bytes = 2 * res;
    out->fp16_bytes = 2 * bh * (size_t)c->length * d * 2;
    lk_buffer *bufs[6] = {c->k_codes, c->k_params, c->v_codes, c->v_params, c->k_res, c->v_res};
    for (int i = 0; i < 6; i++)
        out->allocated_bytes += bufs[i]->bytes;
    size_t tokens = bh * (size_t)c->length * d; /* elements of K (and of V) */
    out->bits_per_element = bits(out->code_bytes + out->param_bytes + out->residual_bytes, 2 * tokens);
    out->key_bits = bits(k_codes + k_params + res, tokens);
    out->value_bits = bits(v_codes + v_params + res, tokens);
    out->quantized_key_bits = bits(k_codes + k_params, bh * d * nk);
    out->quantized_value_bits = bits(v_codes + v_params, bh * d * nv);
    return LK_OK;
}

/* The three launches of an append of S tokens (see cl/kivi_quant.cl). */
lk_status lk_kivi_append_checked(lk_context *ctx, lk_kivi_cache *c, const lk_tensor *k, const lk_tensor *v)
{
    const lk_kivi_config *f = &c->cfg;
    int64_t n = c->length, S = k->shape[2], n2 = n + S, BH = f->batch * f->kv_heads, D = f->head_dim;
    int64_t k0 = lk_kivi_quantized_keys(f, n), k1 = lk_kivi_quantized_keys(f, n2);
    int64_t v0 = lk_kivi_quantized_values(f, n), v1 = lk_kivi_quantized_values(f, n2);
    lk_params defs;
    lk_kivi_defines(c, k->dtype, &defs);
    lk_status st = LK_OK;
    if (k1 > k0) {
        int groups = (int)((k1 - k0) / f->group);
        lk_args a = {0};
        lk_args_tensor(&a, k, 4);
        lk_args_buffer(&a, c->k_res);
        lk_args_buffer(&a, c->k_codes);
        lk_args_buffer(&a, c->k_params);
        lk_args_int(&a, (int32_t)BH);
        lk_args_int(&a, (int32_t)f->kv_heads);
        lk_args_long(&a, c->cap);
        lk_args_long(&a, n);
        lk_args_long(&a, k0);
        lk_args_int(&a, groups);
        size_t items = (size_t)(BH * groups * D);
        if ((st = lk_launch(ctx, "kivi_quant", &defs, "kivi_quant_keys", (items + LOCAL - 1) / LOCAL, 0, LOCAL, &a)))
            return st;
    }
    if (v1 > v0) {
        int tokens = (int)(v1 - v0);
        lk_args a = {0};
        lk_args_tensor(&a, v, 4);
        lk_args_buffer(&a, c->v_res);
        lk_args_buffer(&a, c->v_codes);
        lk_args_buffer(&a, c->v_params);
        lk_args_int(&a, (int32_t)BH);
        lk_args_int(&a, (int32_t)f->kv_heads);
        lk_args_long(&a, c->cap);
        lk_args_long(&a, n);
        lk_args_long(&a, v0);
        lk_args_int(&a, tokens);
        size_t items = (size_t)(BH * tokens * (D / f->group));
        if ((st = lk_launch(ctx, "kivi_quant", &defs, "kivi_quant_values", (items + LOCAL - 1) / LOCAL, 0, LOCAL,
                            &a)))
            return st;
    }
    if (n2 > k1 || n2 > v1) {
        lk_args a = {0};
        lk_args_tensor(&a, k, 4);
        lk_args_tensor(&a, v, 4);
        lk_args_buffer(&a, c->k_res);
        lk_args_buffer(&a, c->v_res);
        lk_args_int(&a, (int32_t)BH);
        lk_args_int(&a, (int32_t)f->kv_heads);
        lk_args_int(&a, (int32_t)S);
        lk_args_long(&a, n);
        lk_args_long(&a, k1);
        lk_args_long(&a, v1);
        size_t items = (size_t)(BH * S * D);
        if ((st = lk_launch(ctx, "kivi_quant", &defs, "kivi_store_residual", (items + LOCAL - 1) / LOCAL, 0, LOCAL,
                            &a)))
            return st;
    }
    c->length = n2;
    return LK_OK;
}

#define APPEND "lk_kivi_cache_append"

lk_status lk_kivi_cache_append(lk_context *ctx, lk_kivi_cache *c, const lk_tensor *k, const lk_tensor *v)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, APPEND ": cache is NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, APPEND ": the cache belongs to another context");
    lk_status st;
    if ((st = lk_check_tensor(ctx, APPEND, "k", k, 4)) || (st = lk_check_tensor(ctx, APPEND, "v", v, 4)) ||
        (st = lk_check_dtype(ctx, APPEND, "k", k, 2, floats)))
        return st;
    if (v->dtype != k->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, APPEND ": k and v must share one dtype");
    const lk_kivi_config *f = &c->cfg;
    for (int i = 0; i < 4; i++)
        if (k->shape[i] != v->shape[i] || (i != 2 && k->shape[i] != (i == 0 ? f->batch : i == 1 ? f->kv_heads
                                                                                          : f->head_dim)))
            return lk_fail(ctx, LK_ERR_SHAPE, APPEND ": k and v must both be [batch=%lld, kv_heads=%lld, S, "
                           "head_dim=%lld]", (long long)f->batch, (long long)f->kv_heads, (long long)f->head_dim);
    if (k->shape[2] > f->capacity - c->length)
        return lk_fail(ctx, LK_ERR_CAPACITY, APPEND ": %lld tokens do not fit (%lld of %lld used)",
                       (long long)k->shape[2], (long long)c->length, (long long)f->capacity);
    if ((st = lk_kivi_append_checked(ctx, c, k, v)) == LK_OK)
        lk_clear_error(ctx);
    return st;
}
