/* Sparse KV cache: decompression and decode attention (cl/kv_sparse_decode.cl), split over
 * tokens with the shared combine (decode_split.c). */
#include <math.h>
#include <string.h>

#include "kv_sparse.h"
#include "kv_sparse_decode.h"
#include "decode_split.h"
#include "op_params.h"
#include "op_params_check.h"
#include "rope_host.h"
#include "../core/scratch.h"
#include "../core/tensor.h"

#define OP "lk_attention_decode_sparse"

/* The block's key bitmaps and tile starts with their scan (cl/kv_sparse_tiles.h bm and
 * LK_SP_PRE_INTS) for kvh heads of D channels. */
static size_t prefix_local(int D, int kvh)
{
    size_t tiles = (size_t)kvh * (size_t)D;
    return tiles * 8 + (2 * tiles + tiles / 16) * 4;
}

/* Local memory of the decode kernel's tile arrays beyond lk_decode_local_bytes (the prefix on
 * the fused path only). */
static size_t decode_local(int D, int qg, int kvh, int bn, int fused)
{
    return lk_decode_local_bytes(D, qg, kvh, bn) + (fused ? prefix_local(D, kvh) : 0);
}

static size_t unpack_local(int D, int kvh, int bn)
{
    return sizeof(float) * (size_t)bn * ((size_t)kvh * D + 1) + prefix_local(D, kvh);
}

/* start, halved while the arrays do not fit `limit` bytes (divisors of 64 stay divisors). */
static int fit_block_n(int start, size_t limit, int D, int qg, int kvh, int fused)
{
    int bn = start;
    while (bn > 1 && bn % 2 == 0 && decode_local(D, qg, kvh, bn, fused) > limit)
        bn /= 2;
    return bn;
}

void lk_kv_sparse_decode_defaults(const lk_device_info *dev, int head_dim, int kv_group, int query_group,
                                  lk_params *out)
{
    memset(out, 0, sizeof *out);
    int gpu = dev->type == LK_DEVICE_GPU;
    lk_params_set(out, "VARIANT", LK_SPARSE_FUSED);
    lk_params_set(out, "SPLITS", 0); /* from the grid (lk_decode_splits) */
    lk_params_set(out, "BLOCK_N", fit_block_n(gpu ? 32 : 16, dev->local_mem_bytes, head_dim, query_group, kv_group, 1));
    lk_params_set(out, "WG", gpu ? 128 : 64);
    lk_params_set(out, "LOADER", 0);
    lk_params_set(out, "DIRECT", 0);
}

/* Checks the DIRECT 1 / 2 / 3 tunables (cl/kv_sparse_direct.h, kv_sparse_direct_mma.h,
 * decode_mma_tiles.h) for query group qg and q's dtype, local memory included: the softmax arrays
 * (DIRECT 2 and 3: decode_mma.h's q and warp states; 2: the value rows' bitmaps and first codes;
 * 3: the fp32 tiles) and the block's key prefix. */
static lk_status check_direct(lk_context *ctx, const lk_params *p, int direct, int D, int qg, lk_dtype dtype)
{
    int bn = lk_params_get(p, "BLOCK_N", 16), wg = lk_params_get(p, "WG", 64);
    if (direct == 1)
        return lk_decode_check_tunables(ctx, OP, p, LK_DEC_TILE_BLOCK_N_MAX,
                                        lk_decode_direct_local_bytes(D, qg, bn, wg, LK_SP_BLOCK) + prefix_local(D, 1));
    size_t rows = (size_t)bn * (size_t)(D / 64); /* the value rows' bitmaps and first codes */
    size_t tiles = sizeof(float) * (size_t)bn * (size_t)(2 * D + 4);
    return lk_decode_mma_check(ctx, OP, p, dtype, D, qg, LK_DEC_TILE_BLOCK_N_MAX,
                               (direct == 3 ? tiles : rows * 12) + prefix_local(D, 1));
}

void lk_kv_sparse_decode_key(const lk_tensor *q, const lk_kv_sparse_cache *c, lk_tune_key *key)
{
    memset(key, 0, sizeof *key);
    snprintf(key->op, sizeof key->op, "kv_sparse");
    snprintf(key->family, sizeof key->family, "%s", c->cfg.rotate_group > 0 || c->has_rope ? "rotate" : "plain");
    key->dtype = q->dtype;
    key->head_dim = c->cfg.head_dim;
    key->length = c->length;
}

size_t lk_kv_sparse_read_bytes(const lk_kv_sparse_cache *c)
{
    lk_kv_sparse_bytes b;
    lk_kv_sparse_memory(c, &b);
    return b.sparse_bytes + b.dense_bytes;
}

/* Tiles of BLOCK_N tokens over the cache (cl/kv_sparse_tiles.h's lk_sp_ntiles). */
static int64_t ntiles(const lk_kv_sparse_cache *c, int bn)
{
    int64_t ns = c->length < c->cfg.sinks ? c->length : c->cfg.sinks;
    int64_t win = c->length - ns - LK_SP_BLOCK * c->nb;
    return (ns + bn - 1) / bn + c->nb * (LK_SP_BLOCK / bn) + (win + bn - 1) / bn;
}

static void cache_defines(lk_params *defs, const lk_kv_sparse_cache *c, int kvh, int bn, int loader)
{
    lk_params_set(defs, "LOADER", loader);
    lk_params_set(defs, "D", c->cfg.head_dim);
    lk_params_set(defs, "KVH", kvh);
    lk_params_set(defs, "BLOCK_N", bn);
    lk_params_set(defs, "KBITS", c->k.bits);
    lk_params_set(defs, "VBITS", c->v.bits);
}

static void rope_args(lk_args *a, const lk_kv_sparse_cache *c, lk_buffer *freq, const lk_buffer *perm)
{
    lk_args_buffer(a, perm);
    lk_args_buffer(a, freq);
    lk_args_int(a, c->has_rope ? (int)c->rope.layout : 0);
    lk_args_long(a, c->has_rope ? c->rope.position_offset : 0);
}

/* Rebuilds one stream into out [B, Hkv, L, D]: keys optionally rotated back (rot) and RoPE'd;
 * loader: cl/kv_sparse_tiles.h's LOADER. */
static lk_status unpack(lk_context *ctx, const lk_kv_sparse_cache *c, int keys, int rot, lk_buffer *freq, int loader,
                        const lk_tensor *out)
{
    int D = c->cfg.head_dim, kvh = rot ? c->cfg.rotate_group : 1, bn = 16;
    while (bn > 1 && unpack_local(D, kvh, bn) > ctx->info.local_mem_bytes)
        bn /= 2;
    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", out->dtype == LK_F16);
    cache_defines(&defs, c, kvh, bn, loader);
    lk_params_set(&defs, "STREAM_K", keys);
    lk_params_set(&defs, "ROT", rot);
    lk_params_set(&defs, "ROPE", keys && freq != NULL);
    lk_args a = {0};
    lk_sp_args_stream(&a, keys ? &c->k : &c->v);
    lk_sp_args_geometry(&a, c);
    rope_args(&a, c, freq, rot ? c->perm : NULL);
    lk_args_tensor(&a, out, 4);
    lk_args_float(&a, rot ? (float)(1.0 / sqrt((double)kvh * D)) : 1.0f);
    size_t local = 64 < ctx->info.max_work_group ? 64 : ctx->info.max_work_group;
    return lk_launch(ctx, "kv_sparse_unpack", &defs, "kv_sparse_unpack", (size_t)ntiles(c, bn),
                     (size_t)(c->heads / kvh), local, &a);
}

static lk_status check_cache(lk_context *ctx, const char *op, const lk_kv_sparse_cache *c)
{
    if (!c)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, "%s: cache is NULL", op);
    if (c->ctx != ctx)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: the cache belongs to another context", op);
    if (c->corrupt)
        return lk_fail(ctx, LK_ERR_CORRUPT_DATA, "%s: the cache holds data that failed validation", op);
    if (c->length < 1)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, "%s: the cache is empty", op);
    return LK_OK;
}

lk_status lk_kv_sparse_decompress(lk_context *ctx, const lk_kv_sparse_cache *c, lk_tensor *k, lk_tensor *v)
{
    static const lk_dtype floats[] = {LK_F32, LK_F16};
    const char *op = "lk_kv_sparse_decompress";
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_status st;
    if ((st = check_cache(ctx, op, c)) || (st = lk_check_output(ctx, op, "k", k, 4)) ||
        (st = lk_check_output(ctx, op, "v", v, 4)) || (st = lk_check_dtype(ctx, op, "k", k, 2, floats)) ||
        (st = lk_check_dtype(ctx, op, "v", v, 2, floats)))
        return st;
    int64_t want[4] = {c->cfg.batch, c->cfg.kv_heads, c->length, c->cfg.head_dim};
    for (int i = 0; i < 4; i++)
        if (k->shape[i] != want[i] || v->shape[i] != want[i])
            return lk_fail(ctx, LK_ERR_SHAPE, "%s: k and v must be [%lld, %lld, %lld, %lld]", op, (long long)want[0],
                           (long long)want[1], (long long)want[2], (long long)want[3]);
    if (lk_tensors_overlap(k, v))
        return lk_fail(ctx, LK_ERR_ALIAS, "%s: k and v overlap", op);
    if ((st = unpack(ctx, c, 1, 0, NULL, 0, k)) || (st = unpack(ctx, c, 0, 0, NULL, 0, v)))
        return st;
    lk_clear_error(ctx);
    return LK_OK;
}

static lk_status check_args(lk_context *ctx, const lk_tensor *q, const lk_kv_sparse_cache *c, const lk_tensor *o,
                            const lk_tensor *lse, const lk_decode_params *p, lk_tensor *q3, lk_tensor *o3,
                            lk_tensor *lse2)
{
    lk_status st;
    if (!p)
        return lk_fail(ctx, LK_ERR_NULL_POINTER, OP ": params are NULL");
    if ((st = check_cache(ctx, OP, c)) || (st = lk_decode_check_outputs(ctx, OP, q, o, lse, q3, o3, lse2)) ||
        (st = lk_decode_check_scale(ctx, OP, p->scale)))
        return st;
    int64_t B = q3->shape[0], Hq = q3->shape[1], D = q3->shape[2], Hkv = c->cfg.kv_heads;
    if (B != c->cfg.batch || D != c->cfg.head_dim)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": q must be [%d, Hq, %d] for this cache", c->cfg.batch, c->cfg.head_dim);
    if (Hq % Hkv || Hq / Hkv > 16)
        return lk_fail(ctx, LK_ERR_SHAPE, OP ": Hq (%lld) must be a multiple of kv_heads (%lld), at most 16 times it",
                       (long long)Hq, (long long)Hkv);
    return LK_OK;
}

static lk_status launch(lk_context *ctx, const lk_tensor *q3, const lk_kv_sparse_cache *c, const lk_tensor *o3,
                        const lk_tensor *lse2, double scale, const lk_params *tuned)
{
    int D = c->cfg.head_dim, Hq = (int)q3->shape[1], qg = Hq / c->cfg.kv_heads, G = c->cfg.rotate_group;
    int keyed = G > 0 || c->has_rope;
    int variant = keyed ? lk_params_get(tuned, "VARIANT", LK_SPARSE_FUSED) : LK_SPARSE_FUSED;
    if (variant != LK_SPARSE_FUSED && variant != LK_SPARSE_TWO_STAGE)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": VARIANT %d (0 fused, 1 two-stage)", variant);
    int fused = variant == LK_SPARSE_FUSED, kvh = fused && G > 0 ? G : 1;
    int wg = lk_params_get(tuned, "WG", 64), loader = lk_params_get(tuned, "LOADER", 0);
    int direct = lk_params_get(tuned, "DIRECT", 0);
    if (loader != 0 && loader != 1)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": LOADER %d (0 walk, 1 rank)", loader);
    lk_status st = lk_decode_check_direct(ctx, OP, direct, 1);
    if (st != LK_OK)
        return st;
    if (direct && keyed)
        return lk_fail(ctx, LK_ERR_INVALID_ARGUMENT, OP ": DIRECT %d needs a cache without key rotation or RoPE",
                       direct);
    direct = lk_decode_direct_for_group(direct, qg, 1);
    /* BLOCK_N is an upper bound for the tiles: a group too large for it (more query heads than
     * tuned) runs with the largest tile that fits local memory */
    int bn = lk_params_get(tuned, "BLOCK_N", 16);
    if (!direct)
        bn = fit_block_n(bn, ctx->info.local_mem_bytes, D, qg, kvh, fused);
    lk_params fitted = *tuned;
    lk_params_set(&fitted, "BLOCK_N", bn);
    st = direct ? check_direct(ctx, &fitted, direct, D, qg, q3->dtype)
                : lk_decode_check_tunables(ctx, OP, &fitted, LK_DEC_TILE_BLOCK_N_MAX,
                                           decode_local(D, qg, kvh, bn, fused));
    if (st != LK_OK)
        return st;
    lk_buffer *freq = NULL, *keys = NULL, *part;
    if (c->has_rope && (st = lk_rope_freq_buffer(ctx, &c->rope, D, &freq)))
        return st;
    if (!fused) {
        size_t bytes = sizeof(float) * (size_t)(c->heads * c->length * D);
        if ((st = lk_scratch_get(ctx, LK_SCRATCH_DECODE_KEYS, bytes, &keys)))
            return st;
        lk_tensor kt = lk_tensor_bhsd(keys, LK_F32, c->cfg.batch, c->cfg.kv_heads, c->length, D);
        if ((st = unpack(ctx, c, 1, G > 0, freq, loader, &kt)))
            return st;
    }
    int splits = lk_decode_splits(ctx, lk_params_get(tuned, "SPLITS", 0), ntiles(c, bn), c->heads / kvh);
    int64_t nrec;
    if ((st = lk_decode_partials(ctx, q3->shape[0] * Hq, splits, D, &part, &nrec)))
        return st;
    double rot_scale = fused && G > 0 ? 1.0 / sqrt((double)G * D) : 1.0;

    lk_params defs = {0};
    lk_params_set(&defs, "LK_F16", q3->dtype == LK_F16);
    cache_defines(&defs, c, kvh, bn, loader);
    lk_params_set(&defs, "QG", qg);
    lk_params_set(&defs, "WG", wg);
    lk_params_set(&defs, "ROT", fused && G > 0);
    lk_params_set(&defs, "ROPE", c->has_rope);
    lk_params_set(&defs, "K_DENSE", !fused);
    lk_params_set(&defs, "DIRECT", direct);
    lk_args a = {0};
    lk_args_tensor(&a, q3, 3);
    lk_sp_args_stream(&a, &c->k);
    lk_sp_args_stream(&a, &c->v);
    lk_args_buffer(&a, keys);
    lk_sp_args_geometry(&a, c);
    rope_args(&a, c, freq, fused && G > 0 ? c->perm : NULL);
    lk_args_buffer(&a, part);
    lk_args_long(&a, nrec);
    lk_args_int(&a, Hq);
    lk_args_float(&a, (float)(scale * rot_scale * 1.4426950408889634));
    if ((st = lk_launch(ctx, "kv_sparse_decode", &defs, "attention_decode_sparse", (size_t)splits,
                        (size_t)(c->heads / kvh), (size_t)wg, &a)))
        return st;
    size_t n = strlen(ctx->last_launch);
    snprintf(ctx->last_launch + n, sizeof ctx->last_launch - n, " SPLITS=%d VARIANT=%d", splits, variant);
    return lk_decode_combine(ctx, part, nrec, splits, o3, lse2);
}

lk_status lk_kv_sparse_decode_check_params(lk_context *ctx, const lk_params *p, int head_dim, int kv_group,
                                          int query_group, lk_dtype dtype)
{
    int fused = lk_params_get(p, "VARIANT", LK_SPARSE_FUSED) == LK_SPARSE_FUSED, direct = lk_params_get(p, "DIRECT", 0);
    if (direct)
        return check_direct(ctx, p, direct, head_dim, query_group, dtype);
    return lk_decode_check_tunables(ctx, OP, p, LK_DEC_TILE_BLOCK_N_MAX,
                                    decode_local(head_dim, query_group, fused ? kv_group : 1,
                                                 lk_params_get(p, "BLOCK_N", 16), fused));
}

lk_status lk_attention_decode_sparse_run(lk_context *ctx, const lk_tensor *q, const lk_kv_sparse_cache *c,
                                         lk_tensor *o, lk_tensor *lse, const lk_decode_params *p,
                                         const lk_params *tuned)
{
    if (!ctx)
        return LK_ERR_NULL_POINTER;
    ctx->last_launch[0] = '\0';
    lk_tensor q3, o3, lse2;
    lk_status st = check_args(ctx, q, c, o, lse, p, &q3, &o3, &lse2);
    if (st != LK_OK)
        return st;
    int D = c->cfg.head_dim;
    double scale = p->scale > 0.0 ? p->scale : 1.0 / sqrt((double)D);
    lk_tune_key key;
    lk_params defaults;
    lk_op_params how;
    lk_kv_sparse_decode_key(q, c, &key);
    int G = c->cfg.rotate_group;
    lk_kv_sparse_decode_defaults(&ctx->info, D, G > 0 ? G : 1, (int)(q3.shape[1] / c->cfg.kv_heads), &defaults);
    tuned = lk_op_params_choose(ctx, tuned, &key, &defaults, &how);
    st = launch(ctx, &q3, c, &o3, lse ? &lse2 : NULL, scale, tuned);
    if (lk_op_params_fall_back(ctx, &how, &defaults, st, &tuned))
        st = launch(ctx, &q3, c, &o3, lse ? &lse2 : NULL, scale, tuned);
    return lk_op_params_finish(ctx, &how, st);
}

lk_status lk_attention_decode_sparse(lk_context *ctx, const lk_tensor *q, const lk_kv_sparse_cache *cache,
                                     lk_tensor *o, lk_tensor *lse, const lk_decode_params *params)
{
    return lk_attention_decode_sparse_run(ctx, q, cache, o, lse, params, NULL);
}
