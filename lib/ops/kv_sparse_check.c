/* Sparse KV cache: the validator of compressed data, and export / import of the raw arrays. */
#include <stdlib.h>
#include <string.h>

#include "kv_sparse.h"

#define OP "lk_kv_sparse"

static int popcount64(uint64_t x) { return __builtin_popcountll(x); }
/* fp16 bit patterns: finite (exponent not all ones), and not below zero (-0 is fine). */
static int f16_finite(uint16_t h) { return ((h >> 10) & 0x1f) != 0x1f; }
static int f16_negative(uint16_t h) { return (h & 0x8000) && (h & 0x7fff); }

static lk_status counts(const lk_kv_sparse_cache *c, const lk_sp_bufs *s, lk_kv_sparse_image_counts *o)
{
    int64_t H = c->heads, D = c->cfg.head_dim, tiles = H * c->nb_cap * D;
    o->bitmap = (size_t)tiles;
    o->params = s->bits < 16 ? (size_t)tiles * 2 : 0;
    o->words = (size_t)(H * s->head_words);
    o->offsets = (size_t)(H * (c->nb_cap + 1));
    o->dense = (size_t)(H * (c->cfg.sinks + c->ring) * D);
    return LK_OK;
}

lk_status lk_kv_sparse_image_counts_of(const lk_kv_sparse_cache *c, int key_stream, lk_kv_sparse_image_counts *out)
{
    if (!c || !out)
        return LK_ERR_NULL_POINTER;
    return counts(c, key_stream ? &c->k : &c->v, out);
}

/* Checks one stream's metadata for `nb` blocks (arrays laid out as on the device). */
static lk_status check_stream(lk_context *ctx, const lk_kv_sparse_cache *c, const char *name, int is_key,
                              int64_t nb, const lk_sp_bufs *s, const uint64_t *bitmap, const uint16_t *params,
                              const uint32_t *offsets)
{
    int64_t D = c->cfg.head_dim, keep = c->cfg.keep;
    for (int64_t h = 0; h < c->heads; h++) {
        const uint32_t *off = offsets + h * (c->nb_cap + 1);
        if (off[0] != 0)
            return lk_fail(ctx, LK_ERR_CORRUPT_DATA, OP ": %s head %lld: offsets[0] is %u, must be 0", name,
                           (long long)h, off[0]);
        for (int64_t i = 0; i < nb; i++) {
            const uint64_t *bm = bitmap + (h * c->nb_cap + i) * D;
            if (off[i + 1] < off[i] || (int64_t)off[i + 1] > s->head_words)
                return lk_fail(ctx, LK_ERR_CORRUPT_DATA,
                               OP ": %s head %lld block %lld: offsets %u -> %u decrease or pass the head's %lld words", name,
                               (long long)h, (long long)i, off[i], off[i + 1], (long long)s->head_words);
            int64_t nnz = 0;
            for (int64_t t = 0; t < D; t++)
                nnz += popcount64(bm[t]);
            int64_t need = (nnz * s->bits + 31) / 32;
            if ((int64_t)(off[i + 1] - off[i]) != need)
                return lk_fail(ctx, LK_ERR_CORRUPT_DATA,
                               OP ": %s head %lld block %lld: %u words stored, the bitmaps' %lld survivors need %lld",
                               name, (long long)h, (long long)i, off[i + 1] - off[i], (long long)nnz, (long long)need);
            for (int r = 0; r < LK_SP_BLOCK; r++) {
                int64_t row = 0;
                for (int64_t ch = 0; ch < D; ch++)
                    row += is_key ? (int64_t)((bm[ch] >> r) & 1) : (int64_t)((bm[r * (D / 64) + ch / 64] >> (ch % 64)) & 1);
                if (row != keep)
                    return lk_fail(ctx, LK_ERR_CORRUPT_DATA,
                                   OP ": %s head %lld block %lld token %d keeps %lld elements, the cache keeps %lld",
                                   name, (long long)h, (long long)i, r, (long long)row, (long long)keep);
            }
            for (int64_t t = 0; params && t < D; t++) {
                uint16_t mn = params[2 * ((h * c->nb_cap + i) * D + t)];
                uint16_t sc = params[2 * ((h * c->nb_cap + i) * D + t) + 1];
                if (!f16_finite(mn) || !f16_finite(sc) || f16_negative(sc))
                    return lk_fail(ctx, LK_ERR_CORRUPT_DATA,
                                   OP ": %s head %lld block %lld tile %lld: fp16 min 0x%04x, scale 0x%04x (must be "
                                   "finite, scale >= 0)", name, (long long)h, (long long)i, (long long)t, mn, sc);
            }
        }
    }
    return LK_OK;
}

static lk_status check_image(lk_context *ctx, const lk_kv_sparse_cache *c, const lk_kv_sparse_image *img)
{
    if (img->length < 0 || img->length > c->cfg.capacity)
        return lk_fail(ctx, LK_ERR_CORRUPT_DATA, OP ": length %lld outside 0..%lld", (long long)img->length,
                       (long long)c->cfg.capacity);
    int64_t nb = lk_sp_blocks_for(c, img->length);
    lk_status st = check_stream(ctx, c, "keys", 1, nb, &c->k, img->k.bitmap, c->k.bits < 16 ? img->k.params : NULL,
                                img->k.offsets);
    if (st == LK_OK)
        st = check_stream(ctx, c, "values", 0, nb, &c->v, img->v.bitmap, c->v.bits < 16 ? img->v.params : NULL,
                          img->v.offsets);
    return st;
}

typedef struct array { void *host; lk_buffer *dev; size_t bytes; } array;

/* The five arrays of a stream with their sizes (host pointers read by import, written by export). */
static void stream_arrays(const lk_kv_sparse_cache *c, const lk_sp_bufs *s, const lk_kv_sparse_stream_image *im,
                          array out[5])
{
    lk_kv_sparse_image_counts n;
    counts(c, s, &n);
    out[0] = (array){im->bitmap, s->bitmap, n.bitmap * 8};
    out[1] = (array){im->params, s->params, n.params * 2};
    out[2] = (array){im->words, s->words, n.words * 4};
    out[3] = (array){im->offsets, s->offsets, n.offsets * 4};
    out[4] = (array){im->dense, s->dense, n.dense * 2};
}

static lk_status check_image_pointers(lk_context *ctx, const lk_kv_sparse_cache *c, const lk_kv_sparse_image *img,
                                      const char *op)
{
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: the cache belongs to another context", op);
    if (!img)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: image is NULL", op);
    const lk_kv_sparse_stream_image *im[2] = {&img->k, &img->v};
    const lk_sp_bufs *s[2] = {&c->k, &c->v};
    for (int i = 0; i < 2; i++)
        if (!im[i]->bitmap || !im[i]->words || !im[i]->offsets || !im[i]->dense || (s[i]->bits < 16 && !im[i]->params))
            return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: the %s image lacks an array", op, i ? "value" : "key");
    return LK_OK;
}

lk_status lk_kv_sparse_export(lk_context *ctx, const lk_kv_sparse_cache *c, lk_kv_sparse_image *img)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP "_export: cache is NULL");
    lk_status st = check_image_pointers(ctx, c, img, OP "_export");
    if (st != LK_OK)
        return st;
    img->length = c->length;
    array a[10];
    stream_arrays(c, &c->k, &img->k, a);
    stream_arrays(c, &c->v, &img->v, a + 5);
    for (int i = 0; i < 10; i++)
        if (a[i].bytes && (st = lk_buffer_read(ctx, a[i].dev, 0, a[i].host, a[i].bytes)))
            return st;
    return LK_OK;
}

lk_status lk_kv_sparse_import(lk_context *ctx, lk_kv_sparse_cache *c, const lk_kv_sparse_image *img)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP "_import: cache is NULL");
    lk_status st = check_image_pointers(ctx, c, img, OP "_import");
    if (st != LK_OK || (st = check_image(ctx, c, img)) != LK_OK)
        return st;
    array a[10];
    stream_arrays(c, &c->k, &img->k, a);
    stream_arrays(c, &c->v, &img->v, a + 5);
    c->corrupt = 1; /* until every array is in */
    for (int i = 0; i < 10; i++)
        if (a[i].bytes && (st = lk_buffer_write(ctx, a[i].dev, 0, a[i].host, a[i].bytes)))
            return st;
    c->length = img->length;
    c->nb = lk_sp_blocks_for(c, img->length);
    c->corrupt = 0;
    lk_clear_error(ctx);
    return LK_OK;
}

lk_status lk_kv_sparse_validate(lk_context *ctx, const lk_kv_sparse_cache *c)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP "_validate: cache is NULL");
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP "_validate: the cache belongs to another context");
    lk_kv_sparse_image img;
    memset(&img, 0, sizeof img);
    lk_kv_sparse_stream_image *im[2] = {&img.k, &img.v};
    const lk_sp_bufs *s[2] = {&c->k, &c->v};
    lk_status st = LK_OK;
    for (int i = 0; i < 2 && st == LK_OK; i++) {
        lk_kv_sparse_image_counts n;
        counts(c, s[i], &n);
        im[i]->bitmap = malloc(n.bitmap * 8);
        im[i]->params = n.params ? malloc(n.params * 2) : NULL;
        im[i]->words = malloc(n.words * 4 + 4);
        im[i]->offsets = malloc(n.offsets * 4);
        im[i]->dense = malloc(n.dense * 2 + 2);
        if (!im[i]->bitmap || (n.params && !im[i]->params) || !im[i]->words || !im[i]->offsets || !im[i]->dense)
            st = lk_fail(ctx, LK_ERR_OUT_OF_MEMORY, OP "_validate: host allocation failed");
    }
    if (st == LK_OK && (st = lk_kv_sparse_export(ctx, c, &img)) == LK_OK && (st = check_image(ctx, c, &img)) == LK_OK)
        lk_clear_error(ctx);
    for (int i = 0; i < 2; i++) {
        free(im[i]->bitmap);
        free(im[i]->params);
        free(im[i]->words);
        free(im[i]->offsets);
        free(im[i]->dense);
    }
    return st;
}
