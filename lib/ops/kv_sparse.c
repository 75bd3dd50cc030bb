/* Sparse KV cache: configuration, creation, streaming append and the memory report
 * (cl/kv_sparse_compress.cl). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv_sparse.h"
#include "hadamard_host.h"
#include "rope_host.h"
#include "../core/tensor.h"

#define OP "lk_kv_sparse"

lk_kv_sparse_config lk_kv_sparse_config_default(void)
{
    lk_kv_sparse_config c;
    memset(&c, 0, sizeof c);
    c.batch = 1;
    c.kv_heads = 1;
    c.head_dim = 128;
    c.keep = lk_kv_sparse_keep(0.7, 128);
    c.key_bits = 16;
    c.value_bits = 16;
    c.capacity = 4096;
    c.window = 64;
    return c;
}

int lk_kv_sparse_keep(double sparsity, int head_dim)
{
    int drop = (int)floor(sparsity * head_dim + 1e-9);
    int keep = head_dim - drop;
    return keep < 1 ? 1 : keep > head_dim ? head_dim : keep;
}

int64_t lk_sp_block_words(int keep, int bits)
{
    return ((int64_t)LK_SP_BLOCK * keep * bits + 31) / 32;
}

int64_t lk_sp_blocks_for(const lk_kv_sparse_cache *c, int64_t length)
{
    int64_t spare = length - c->cfg.sinks - c->cfg.window;
    return spare > 0 ? spare / LK_SP_BLOCK : 0;
}

void lk_sp_args_stream(lk_args *a, const lk_sp_bufs *s)
{
    lk_args_buffer(a, s->bitmap);
    lk_args_buffer(a, s->params);
    lk_args_buffer(a, s->words);
    lk_args_buffer(a, s->offsets);
    lk_args_buffer(a, s->dense);
    lk_args_long(a, s->head_words);
}

void lk_sp_args_geometry(lk_args *a, const lk_kv_sparse_cache *c)
{
    lk_args_int(a, c->cfg.kv_heads);
    lk_args_long(a, c->length);
    lk_args_int(a, c->cfg.sinks);
    lk_args_int(a, (int32_t)c->ring);
    lk_args_int(a, (int32_t)c->nb);
    lk_args_int(a, (int32_t)c->nb_cap);
    lk_args_int(a, c->cfg.keep);
}

static int valid_bits(int b) { return b == 16 || b == 8 || b == 4 || b == 2; }

static lk_status check_config(lk_context *ctx, const lk_kv_sparse_config *c)
{
    lk_status st;
    if (c->batch < 1 || c->kv_heads < 1 || (int64_t)c->batch * c->kv_heads > 65535)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": batch (%d) and kv_heads (%d) must be >= 1, product <= 65535",
                       c->batch, c->kv_heads);
    if (c->head_dim != 64 && c->head_dim != 128 && c->head_dim != 256)
        return lk_fail(ctx, LK_ERR_UNSUPPORTED, OP ": head_dim %d (supported: 64, 128, 256)", c->head_dim);
    if (c->keep < 1 || c->keep > c->head_dim)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": keep %d must be in 1..head_dim (%d)", c->keep, c->head_dim);
    if (!valid_bits(c->key_bits) || !valid_bits(c->value_bits))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": key_bits %d / value_bits %d must be 16, 8, 4 or 2",
                       c->key_bits, c->value_bits);
    if (c->capacity < 1 || c->capacity > INT32_MAX || c->window < 0 || c->sinks < 0 ||
        c->window > (1 << 20) || c->sinks > (1 << 20))
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT,
                       OP ": capacity must be in 1..2^31-1, window and sinks in 0..2^20 (got %lld, %d, %d)",
                       (long long)c->capacity, c->window, c->sinks);
    if (c->rotate_perm && c->rotate_group < 1)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": rotate_perm needs rotate_group >= 1");
    if (c->rotate_group < 0 ||
        (c->rotate_group > 0 &&
         (st = lk_hadamard_check(ctx, OP, c->rotate_group, c->kv_heads, c->head_dim, c->rotate_perm))))
        return c->rotate_group < 0 ? lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": rotate_group must be >= 0") : st;
    if (c->rope) {
        if ((st = lk_rope_check(ctx, OP, c->rope, c->head_dim, "positions follow the token index")) ||
            (st = lk_rope_check_positions(ctx, OP, "rope", NULL, c->batch, c->capacity, c->rope->position_offset)))
            return st;
    }
    return LK_OK;
}

static lk_status alloc_zeroed(lk_context *ctx, size_t bytes, lk_buffer **out)
{
    if (bytes == 0)
        return LK_OK;
    lk_status st = lk_buffer_alloc(ctx, bytes, out);
    void *zeros = st == LK_OK ? calloc(1, bytes) : NULL;
    if (st == LK_OK && !zeros)
        st = lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, OP ": host allocation failed");
    if (st == LK_OK)
        st = lk_buffer_write(ctx, *out, 0, zeros, bytes);
    free(zeros);
    return st;
}

static lk_status alloc_stream(lk_context *ctx, lk_kv_sparse_cache *c, int bits, lk_sp_bufs *s)
{
    int64_t H = c->heads, D = c->cfg.head_dim, tiles = H * c->nb_cap * D;
    s->bits = bits;
    s->block_words = lk_sp_block_words(c->cfg.keep, bits);
    s->head_words = s->block_words * c->nb_cap;
    lk_status st;
    if ((st = alloc_zeroed(ctx, sizeof(uint64_t) * (size_t)tiles, &s->bitmap)) ||
        (st = alloc_zeroed(ctx, bits < 16 ? sizeof(uint16_t) * 2 * (size_t)tiles : 0, &s->params)) ||
        (st = alloc_zeroed(ctx, sizeof(uint32_t) * (size_t)(H * s->head_words), &s->words)) ||
        (st = alloc_zeroed(ctx, sizeof(uint32_t) * (size_t)(H * (c->nb_cap + 1)), &s->offsets)) ||
        (st = alloc_zeroed(ctx, sizeof(uint16_t) * (size_t)(H * (c->cfg.sinks + c->ring) * D), &s->dense)))
        return st;
    return LK_OK;
}

static void free_stream(lk_sp_bufs *s)
{
    lk_buffer_free(s->bitmap);
    lk_buffer_free(s->params);
    lk_buffer_free(s->words);
    lk_buffer_free(s->offsets);
    lk_buffer_free(s->dense);
}

void lk_kv_sparse_destroy(lk_kv_sparse_cache *c)
{
    if (!c)
        return;
    free_stream(&c->k);
    free_stream(&c->v);
    lk_buffer_free(c->perm);
    lk_buffer_free(c->stage_k);
    lk_buffer_free(c->stage_v);
    lk_buffer_free(c->rotated);
    free(c);
}

lk_status lk_kv_sparse_create(lk_context *ctx, const lk_kv_sparse_config *config, lk_kv_sparse_cache **out)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    if (!config || !out)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP "_create: config and out must not be NULL");
    *out = NULL;
    lk_status st = check_config(ctx, config);
    if (st != LK_OK)
        return st;
    lk_kv_sparse_cache *c = calloc(1, sizeof *c);
    if (!c)
        return lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, OP "_create: host allocation failed");
    c->ctx = ctx;
    c->cfg = *config;
    c->cfg.rotate_perm = NULL;
    c->cfg.rope = NULL;
    if (config->rope) {
        c->rope = *config->rope;
        c->has_rope = 1;
    }
    c->heads = (int64_t)config->batch * config->kv_heads;
    int64_t after_sinks = config->capacity > config->sinks ? config->capacity - config->sinks : 0;
    c->nb_cap = (after_sinks + LK_SP_BLOCK - 1) / LK_SP_BLOCK;
    if (c->nb_cap < 1)
        c->nb_cap = 1;
    c->ring = ((config->window + LK_SP_BLOCK - 1) / LK_SP_BLOCK + 1) * LK_SP_BLOCK; /* > window + 63 */
    int bits = config->key_bits > config->value_bits ? config->key_bits : config->value_bits;
    if (c->nb_cap * lk_sp_block_words(config->keep, bits) > INT32_MAX) {
        st = lk_fail(ctx, LK_ERR_UNSUPPORTED, OP "_create: a head's packed words must stay below 2^31 (capacity %lld)",
                     (long long)config->capacity);
        goto fail;
    }
    if ((st = alloc_stream(ctx, c, config->key_bits, &c->k)) || (st = alloc_stream(ctx, c, config->value_bits, &c->v)))
        goto fail;
    if (config->rotate_perm) {
        size_t bytes = sizeof(int32_t) * (size_t)config->rotate_group * (size_t)config->head_dim;
        if ((st = lk_buffer_alloc(ctx, bytes, &c->perm)) || (st = lk_buffer_write(ctx, c->perm, 0, config->rotate_perm, bytes)))
            goto fail;
    }
    *out = c;
    lk_clear_error(ctx);
    return LK_OK;
fail:
    lk_kv_sparse_destroy(c);
    return st;
}

int64_t lk_kv_sparse_length(const lk_kv_sparse_cache *c)
{
    return c ? c->length : 0;
}

lk_status lk_kv_sparse_memory(const lk_kv_sparse_cache *c, lk_kv_sparse_bytes *out)
{
    if (!c || !out)
        return LK_ERR_NULL_POINTER;
    int64_t H = c->heads, D = c->cfg.head_dim, tiles = H * c->nb * D;
    memset(out, 0, sizeof *out);
    out->tokens = c->length;
    out->compressed_tokens = c->nb * LK_SP_BLOCK;
    const lk_sp_bufs *s[2] = {&c->k, &c->v};
    for (int i = 0; i < 2; i++)
        out->sparse_bytes += (size_t)(tiles * 8 + (s[i]->bits < 16 ? tiles * 4 : 0) + H * c->nb * s[i]->block_words * 4 +
                                      H * (c->nb + 1) * 4);
    out->dense_bytes = (size_t)(2 * H * (c->length - out->compressed_tokens) * D * 2);
    out->fp16_bytes = (size_t)(2 * H * c->length * D * 2);
    return LK_OK;
}

/* ---- append ----------------------------------------------------------------------------- */

static lk_status check_append(lk_context *ctx, const lk_kv_sparse_cache *c, const lk_tensor *k, const lk_tensor *v)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    lk_status st;
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP "_append: cache is NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP "_append: the cache belongs to another context");
    if ((st = lk_check_tensor(ctx, OP "_append", "k", k, 4)) || (st = lk_check_tensor(ctx, OP "_append", "v", v, 4)) ||
        (st = lk_check_dtype(ctx, OP "_append", "k", k, 2, floats)))
        return st;
    if (v->dtype != k->dtype)
        return lk_fail(ctx, LK_ERR_DTYPE, OP "_append: k and v must share one dtype");
    for (int i = 0; i < 4; i++)
        if (k->shape[i] != v->shape[i])
            return lk_fail(ctx, LK_ERR_SHAPE, OP "_append: k and v must have one shape");
    if (k->shape[0] != c->cfg.batch || k->shape[1] != c->cfg.kv_heads || k->shape[3] != c->cfg.head_dim)
        return lk_fail(ctx, LK_ERR_SHAPE, OP "_append: k and v must be [%d, %d, T, %d]", c->cfg.batch, c->cfg.kv_heads,
                       c->cfg.head_dim);
    if (k->shape[2] > c->cfg.capacity - c->length)
        return lk_fail(ctx, LK_ERR_CAPACITY, OP "_append: %lld + %lld tokens exceed the capacity %lld",
                       (long long)c->length, (long long)k->shape[2], (long long)c->cfg.capacity);
    if (c->corrupt)
        return lk_fail(ctx, LK_ERR_CORRUPT_DATA, OP "_append: the cache holds data that failed validation");
    return LK_OK;
}

/* A buffer of the cache grown to at least bytes. */
static lk_status grow(lk_context *ctx, lk_buffer **b, size_t bytes)
{
    if (*b && lk_buffer_size(*b) >= bytes)
        return LK_OK;
    lk_buffer_free(*b);
    *b = NULL;
    return lk_buffer_alloc(ctx, bytes, b);
}

static lk_status launch_flat(lk_context *ctx, const char *kernel, const lk_params *defs, int64_t total, lk_args *a)
{
    size_t local = 64;
    return lk_launch(ctx, "kv_sparse_compress", defs, kernel, (size_t)((total + 63) / 64), 1, local, a);
}

/* Moves one stream's tokens into place: staged ring tokens, then the new tokens. */
static lk_status place_stream(lk_context *ctx, lk_kv_sparse_cache *c, const lk_tensor *x, const lk_sp_bufs *s,
                              lk_buffer *stage, int64_t c0, int64_t c1)
{
    int64_t H = c->heads, D = c->cfg.head_dim, T = x->shape[2], L = c->length;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", x->dtype == LK_F16);
    lk_params_set(&defs, "D", (int)D);
    lk_status st;
    int64_t moved = (L < c1 ? L : c1) - c0;
    if (moved > 0) {
        lk_args a = {0};
        lk_args_buffer(&a, s->dense);
        lk_args_buffer(&a, stage);
        lk_args_int(&a, c->cfg.sinks);
        lk_args_int(&a, (int32_t)c->ring);
        lk_args_long(&a, c0);
        lk_args_long(&a, c1);
        lk_args_long(&a, moved);
        lk_args_long(&a, H * moved * D);
        if ((st = launch_flat(ctx, "kv_sparse_ring_to_stage", &defs, H * moved * D, &a)))
            return st;
    }
    lk_args a = {0};
    lk_args_tensor(&a, x, 4);
    lk_args_buffer(&a, s->dense);
    lk_args_buffer(&a, stage);
    lk_args_int(&a, c->cfg.kv_heads);
    lk_args_long(&a, T);
    lk_args_long(&a, L);
    lk_args_int(&a, c->cfg.sinks);
    lk_args_int(&a, (int32_t)c->ring);
    lk_args_long(&a, c0);
    lk_args_long(&a, c1);
    lk_args_long(&a, H * T * D);
    return launch_flat(ctx, "kv_sparse_place", &defs, H * T * D, &a);
}

static lk_status compress_stream(lk_context *ctx, lk_kv_sparse_cache *c, const lk_sp_bufs *s, lk_buffer *stage,
                                 int is_key, int64_t nb0, int64_t nb1)
{
    int D = c->cfg.head_dim;
    lk_params defs = {0};
    lk_params_set(&defs, "D", D);
    lk_params_set(&defs, "BITS", s->bits);
    lk_params_set(&defs, "IS_KEY", is_key);
    lk_params_set(&defs, "CWG", 256);
    lk_args a = {0};
    lk_args_buffer(&a, stage);
    lk_args_long(&a, (nb1 - nb0) * LK_SP_BLOCK);
    lk_args_buffer(&a, s->bitmap);
    lk_args_buffer(&a, s->params);
    lk_args_buffer(&a, s->words);
    lk_args_buffer(&a, s->offsets);
    lk_args_int(&a, (int32_t)c->nb_cap);
    lk_args_long(&a, s->head_words);
    lk_args_int(&a, (int32_t)nb0);
    lk_args_int(&a, c->cfg.keep);
    return lk_launch(ctx, "kv_sparse_compress", &defs, "kv_sparse_compress", (size_t)(nb1 - nb0), (size_t)c->heads,
                     256, &a);
}

lk_status lk_kv_sparse_append(lk_context *ctx, lk_kv_sparse_cache *c, const lk_tensor *k, const lk_tensor *v)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st = check_append(ctx, c, k, v);
    if (st != LK_OK)
        return st;
    int64_t T = k->shape[2], D = c->cfg.head_dim, nb1 = lk_sp_blocks_for(c, c->length + T);
    int64_t c0 = c->cfg.sinks + LK_SP_BLOCK * c->nb, c1 = c->cfg.sinks + LK_SP_BLOCK * nb1;
    lk_tensor keys = *k;
    if (c->cfg.rotate_group > 0) {
        size_t bytes = (size_t)(c->heads * T * D) * lk_dtype_size(k->dtype);
        if ((st = grow(ctx, &c->rotated, bytes)))
            return st;
        keys = lk_tensor_bhsd(c->rotated, k->dtype, c->cfg.batch, c->cfg.kv_heads, T, D);
        if ((st = lk_hadamard_launch(ctx, k, &keys, c->cfg.rotate_group, c->perm, 0)))
            return st;
    }
    size_t stage_bytes = sizeof(uint16_t) * (size_t)(c->heads * (c1 - c0) * D);
    if (c1 > c0 && ((st = grow(ctx, &c->stage_k, stage_bytes)) || (st = grow(ctx, &c->stage_v, stage_bytes))))
        return st;
    if ((st = place_stream(ctx, c, &keys, &c->k, c->stage_k, c0, c1)) ||
        (st = place_stream(ctx, c, v, &c->v, c->stage_v, c0, c1)))
        return st;
    if (c1 > c0 && ((st = compress_stream(ctx, c, &c->k, c->stage_k, 1, c->nb, nb1)) ||
                    (st = compress_stream(ctx, c, &c->v, c->stage_v, 0, c->nb, nb1))))
        return st;
    c->length += T;
    c->nb = nb1;
    lk_clear_error(ctx);
    return LK_OK;
}
