/* longkern_kvcache.h: decode attention and the Mustafar/RotateKV sparse KV cache.
 * Included by longkern.h; the KIVI cache has its own header, longkern_kivi.h.
 *
 * Decode attention takes one query token per sequence: q [B, Hq, D] (or [B, Hq, 1, D]), the
 * output o has q's shape, lse (optional, F32 [B, Hq] or [B, Hq, 1]) gets the natural-log
 * logsumexp of the scaled scores. The work is split over tokens (flash-decoding) and the
 * partial results are merged by one shared combine kernel; the split count, tile size and
 * work-group size come from the tuning database, keyed by context length. */
#ifndef LONGKERN_KVCACHE_H
#define LONGKERN_KVCACHE_H

#include "longkern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lk_decode_params {
    double scale; /* 0: 1/sqrt(D) */
} lk_decode_params;

lk_decode_params lk_decode_params_default(void);

/* Dense decode: o = softmax(scale · q · kᵀ) · v over all S cached tokens.
 * q [B, Hq, D] or [B, Hq, 1, D]; k, v [B, Hkv, S, D] with Hq a multiple of Hkv; F32 or F16
 * (all the same); D in {64, 128, 256}; any strides. */
lk_status lk_attention_decode(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                              lk_tensor *o, lk_tensor *lse, const lk_decode_params *params);

/* ---- Mustafar sparse KV cache ----------------------------------------------------------------
 *
 * Per-token magnitude pruning of K and V: every token row of D channels keeps exactly `keep`
 * elements, those of largest |x| (ties: the lower channel index wins; lk_kv_sparse_keep gives
 * keep = D - floor(sparsity * D), one fewer than Mustafar's kthvalue rule, which keeps
 * D - floor(sparsity * D) + 1). Blocks of 64 tokens are stored as 64-element tiles with a
 * uint64 bitmap (key tiles run down the 64 tokens of one channel, value tiles along 64 channels
 * of one token) and the survivors either as fp16 (bits 16) or quantized per tile to 8, 4 or 2
 * bits (fp16 min and scale, round half to even; cl/quant.h) packed LSB-first in uint32 words.
 * docs/kv_sparse.md draws the layout.
 *
 * Tokens enter as fp16 (F32 input is rounded once). The first `sinks` tokens stay dense; after
 * them, whole 64-token blocks are compressed as soon as `window` newer tokens exist, so the dense
 * recent window holds between window and window + 63 tokens. RotateKV: with rotate_group G > 0
 * keys are stored rotated (lk_hadamard, forward, groups of G kv heads, optional reorder) and
 * the decode undoes it; with rope set, keys are stored before RoPE and the decode applies it
 * at token positions rope->position_offset + p (the query at position_offset + length - 1). */

typedef struct lk_kv_sparse_cache lk_kv_sparse_cache;

typedef struct lk_kv_sparse_config {
    int batch, kv_heads, head_dim; /* head_dim 64, 128 or 256 */
    int keep;                      /* survivors per token row, 1..head_dim */
    int key_bits, value_bits;      /* 16 (fp16 survivors), 8, 4 or 2 */
    int64_t capacity;              /* most tokens the cache holds */
    int window;                    /* recent tokens kept dense (>= 0) */
    int sinks;                     /* first tokens kept dense (>= 0) */
    int rotate_group;              /* RotateKV group G (kv heads; divides kv_heads), 0 = no rotation */
    const int32_t *rotate_perm;    /* G*head_dim channel reorder (copied), NULL = none; needs G > 0 */
    const lk_rope_params *rope;    /* copied; NULL: keys are used as stored. position_ids must be NULL */
} lk_kv_sparse_config;

/* batch 1, kv_heads 1, head_dim 128, keep 128 - 89 (70% sparsity), fp16 values, capacity 4096,
 * window 64, no sinks, no rotation, no RoPE. */
lk_kv_sparse_config lk_kv_sparse_config_default(void);
/* head_dim - floor(sparsity * head_dim), at least 1: the survivors per row at that sparsity. */
int lk_kv_sparse_keep(double sparsity, int head_dim);

lk_status lk_kv_sparse_create(lk_context *ctx, const lk_kv_sparse_config *config, lk_kv_sparse_cache **out);
void lk_kv_sparse_destroy(lk_kv_sparse_cache *cache); /* NULL is a no-op */
/* Appends T tokens: k, v [batch, kv_heads, T, head_dim], F32 or F16 (both the same), any
 * strides. More than the capacity is LK_ERR_CAPACITY and changes nothing. */
lk_status lk_kv_sparse_append(lk_context *ctx, lk_kv_sparse_cache *cache, const lk_tensor *k, const lk_tensor *v);
int64_t lk_kv_sparse_length(const lk_kv_sparse_cache *cache);

typedef struct lk_kv_sparse_bytes {
    int64_t tokens, compressed_tokens;
    size_t sparse_bytes; /* bitmaps, parameters, packed words, offsets of the compressed blocks */
    size_t dense_bytes;  /* sinks and window tokens in fp16 */
    size_t fp16_bytes;   /* a dense fp16 K/V cache of the same tokens */
} lk_kv_sparse_bytes;
lk_status lk_kv_sparse_memory(const lk_kv_sparse_cache *cache, lk_kv_sparse_bytes *out);

/* Every stored token as dense [batch, kv_heads, length, head_dim] (F32/F16, any strides): the
 * pruned (and dequantized) values; keys as stored (rotated and before RoPE when so configured). */
lk_status lk_kv_sparse_decompress(lk_context *ctx, const lk_kv_sparse_cache *cache, lk_tensor *k, lk_tensor *v);

/* The raw arrays of a cache, for compressed data that comes from (or goes) outside. Counts in
 * elements over the whole capacity (lk_kv_sparse_image_counts); layout in docs/kv_sparse.md. */
typedef struct lk_kv_sparse_stream_image {
    uint64_t *bitmap;  /* [h][blocks][D] */
    uint16_t *params;  /* [h][blocks][D][2] fp16 (min, scale); quantized streams only, else NULL */
    uint32_t *words;   /* [h][head_words] */
    uint32_t *offsets; /* [h][blocks + 1] */
    uint16_t *dense;   /* [h][sinks + ring][D] fp16 */
} lk_kv_sparse_stream_image;

typedef struct lk_kv_sparse_image {
    int64_t length;
    lk_kv_sparse_stream_image k, v;
} lk_kv_sparse_image;

typedef struct lk_kv_sparse_image_counts {
    size_t bitmap, params, words, offsets, dense; /* per stream; params 0 for fp16 streams */
} lk_kv_sparse_image_counts;

lk_status lk_kv_sparse_image_counts_of(const lk_kv_sparse_cache *cache, int key_stream, lk_kv_sparse_image_counts *out);
/* Copies the cache's arrays into caller-allocated ones (sizes from lk_kv_sparse_image_counts_of). */
lk_status lk_kv_sparse_export(lk_context *ctx, const lk_kv_sparse_cache *cache, lk_kv_sparse_image *image);
/* Validates image (LK_ERR_CORRUPT_DATA with the reason; the cache is left unchanged), then loads it. */
lk_status lk_kv_sparse_import(lk_context *ctx, lk_kv_sparse_cache *cache, const lk_kv_sparse_image *image);
/* Reads the cache's metadata back and checks it: offsets start at 0, grow monotonically, stay in
 * range and match the words the bitmaps' popcounts need; every token row keeps exactly `keep`;
 * quantization parameters finite with scale >= 0. LK_ERR_CORRUPT_DATA with the reason. */
lk_status lk_kv_sparse_validate(lk_context *ctx, const lk_kv_sparse_cache *cache);

/* Decode attention over the cache: o = softmax(scale · q · Kᵀ) · V over all `length` tokens
 * (sinks, compressed blocks, window), keys rotated back and RoPE'd when the cache says so.
 * q [batch, Hq, D] or [batch, Hq, 1, D] with Hq a multiple of kv_heads (GQA), F32 or F16; o
 * like q; lse optional as for lk_attention_decode. The tuning database picks split count, tile,
 * work-group and, for rotated/RoPE caches, the fused or the two-stage key path per length. */
lk_status lk_attention_decode_sparse(lk_context *ctx, const lk_tensor *q, const lk_kv_sparse_cache *cache,
                                     lk_tensor *o, lk_tensor *lse, const lk_decode_params *params);

/* ---- Hadamard rotation (RotateKV) ---------------------------------------------------------- */

typedef struct lk_hadamard_params {
    int group;            /* G heads per rotation group; n = G*D must be a power of two, <= 4096 */
    const int32_t *perm;  /* host array of n channel indices (a permutation, copied), or NULL */
    int inverse;          /* 0: rotate then reorder; 1: undo that */
} lk_hadamard_params;

lk_hadamard_params lk_hadamard_params_default(void); /* G = 1, no permutation, forward */

/* Grouped-head Hadamard rotation of x [B, H, S, D] (F32/F16, any strides) into out (same shape
 * and dtype; may be x itself). For each token and group of G consecutive heads, the n = G*D
 * vector v (channel c = head-in-group * D + d) becomes  forward: y[c] = (H v / sqrt(n))[perm[c]],
 * inverse: z[perm[c]] = y[c], v = H z / sqrt(n);  H in Sylvester order (as scipy.linalg.hadamard
 * and fast_hadamard_transform), so the inverse undoes the forward exactly up to rounding. */
lk_status lk_hadamard(lk_context *ctx, const lk_tensor *x, lk_tensor *out, const lk_hadamard_params *params);

#ifdef __cplusplus
}
#endif
#endif
