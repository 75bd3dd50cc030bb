/* longkern_kivi.h: quantized KV caches for decoding (included by longkern.h).
 *
 * KIVI (Liu et al., ICML 2024): keys quantized per channel over groups of G tokens, values per
 * token over groups of G channels; 2, 4 or 8 bits, codes packed LSB-first in uint32 with an fp16
 * scale and minimum per group (cl/quant.h); the most recent tokens stay in fp16:
 *   keys    a tail of n mod R tokens (R a multiple of G); when it reaches R tokens the block is
 *           quantized and joins the quantized part;
 *   values  a sliding window of the last min(n, R) tokens; each token leaving it is quantized.
 * Every value entering the cache is first rounded to fp16 (the cache's precision), so the
 * quantized state does not depend on how the tokens were split across appends.
 *
 * Low-rank latent cache (Palu, ICLR 2025): per group of KV heads the cache holds latents
 * h = x · B (rank r per group) instead of K and V, with KIVI on the latents (key latents per
 * channel, value latents per token). Keys are rebuilt tile by tile inside the decode kernel
 * (latent · A_k, then RoPE, then q·k); the value side computes p · latent and one up projection.
 *
 * All sequences of a batch have the same length. Appending past the capacity is an error
 * (LK_ERR_CAPACITY) and leaves the cache unchanged. */
#ifndef LONGKERN_KIVI_H
#define LONGKERN_KIVI_H

#include "longkern.h"
#include "longkern_kvcache.h" /* lk_decode_params */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lk_kivi_config {
    int64_t batch, kv_heads, head_dim;
    int k_bits, v_bits;  /* 2, 4 or 8 */
    int group;           /* G: tokens per key group, channels per value group; a multiple of
                            32 / min(k_bits, v_bits) dividing head_dim */
    int residual;        /* R: fp16 tokens, a positive multiple of G */
    int64_t capacity;    /* most tokens per sequence */
} lk_kivi_config;

/* KIVI defaults of the paper's examples: 2-bit K and V, G = 32, R = 128. */
lk_kivi_config lk_kivi_config_default(int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity);

typedef struct lk_kivi_cache lk_kivi_cache;

/* Device memory of a cache. bits_per_element counts everything the stored tokens occupy: codes,
 * fp16 scales and minimums, and the fp16 residual buffers (R tokens of K and of V, allocated in
 * full), over 2 * batch * kv_heads * length * head_dim elements; fp16_bytes is the same K and V
 * in plain fp16. allocated_bytes is what create reserved for the whole capacity. */
typedef struct lk_kivi_memory {
    int64_t length;              /* tokens per sequence */
    int64_t quantized_keys;      /* of which keys quantized */
    int64_t quantized_values;    /* and values quantized */
    size_t code_bytes, param_bytes, residual_bytes;
    size_t allocated_bytes, fp16_bytes;
    double bits_per_element;
    double key_bits, value_bits; /* the same for K alone and V alone (codes, parameters, residual) */
    /* codes and parameters over the quantized elements alone, 0 when none (bits + 32 / G): what
     * a cache without a residual would hold */
    double quantized_key_bits, quantized_value_bits;
} lk_kivi_memory;

lk_status lk_kivi_cache_create(lk_context *ctx, const lk_kivi_config *config, lk_kivi_cache **out);
void lk_kivi_cache_destroy(lk_kivi_cache *cache); /* NULL is a no-op */
int64_t lk_kivi_cache_length(const lk_kivi_cache *cache);
lk_status lk_kivi_cache_memory(const lk_kivi_cache *cache, lk_kivi_memory *out);

/* Appends S >= 1 tokens to every sequence: k and v [batch, kv_heads, S, head_dim], F32 or F16,
 * any strides. A prefill is one append of the prompt; a decode step is an append with S = 1. */
lk_status lk_kivi_cache_append(lk_context *ctx, lk_kivi_cache *cache, const lk_tensor *k, const lk_tensor *v);

/* One decode step: o = softmax(scale · q · K̂ᵀ) · V̂ over every cached token, K̂ and V̂ the
 * dequantized cache, split over tokens like lk_attention_decode. q and o [batch, Hq, head_dim]
 * or [batch, Hq, 1, head_dim], F32 or F16 (the same), Hq a multiple of kv_heads (GQA, at most
 * 16 query heads per kv head); lse optional as in lk_attention_decode. Keys are used as stored
 * (apply RoPE before appending). The cache must hold at least one token. Split count, tile
 * and work-group size come from the tuning database (op "kivi_decode", by context length). */
lk_status lk_kivi_attention(lk_context *ctx, const lk_kivi_cache *cache, const lk_tensor *q, lk_tensor *o,
                            lk_tensor *lse, const lk_decode_params *params);

/* ---- low-rank latent cache (Palu) with KIVI on the latents ---------------------------------- */

typedef struct lk_lowrank_config {
    int64_t batch, kv_heads, head_dim;
    int64_t hidden;           /* model width: the rows of the down projections */
    int64_t heads_per_group;  /* kv heads that share one latent (Palu: 4); divides kv_heads */
    int64_t rank;             /* r: latent channels per group, a multiple of kivi.group */
    /* KIVI on the latents: bits, group and residual as in lk_kivi_config; kivi.batch,
     * kivi.kv_heads and kivi.head_dim are ignored (batch, kv_heads / heads_per_group, rank). */
    lk_kivi_config kivi;
} lk_lowrank_config;

typedef struct lk_lowrank_cache lk_lowrank_cache;

lk_status lk_lowrank_cache_create(lk_context *ctx, const lk_lowrank_config *config, lk_lowrank_cache **out);
void lk_lowrank_cache_destroy(lk_lowrank_cache *cache); /* NULL is a no-op */
int64_t lk_lowrank_cache_length(const lk_lowrank_cache *cache);
/* The latent cache's memory; fp16_bytes and every bits field are against full fp16 K and V
 * (per element of batch * kv_heads * length * head_dim keys, and as many values). */
lk_status lk_lowrank_cache_memory(const lk_lowrank_cache *cache, lk_kivi_memory *out);

/* Appends S tokens: x [batch, S, hidden] (rows contiguous: stride 1 on the last dimension, rows
 * at least hidden apart) and the down projections down_k, down_v [hidden, groups * rank]
 * (row-major, stride 1 on the columns, rows at least groups * rank apart), all F32
 * or F16 (the same). Latents h = x · down (one GEMM each, clBLAST / cuBLAS, stored as
 * [batch, S, groups, rank]; group g's latent is columns g*rank .. (g+1)*rank) are quantized
 * into the cache like lk_kivi_cache_append's K and V. Latents are pre-RoPE. */
lk_status lk_lowrank_cache_append(lk_context *ctx, lk_lowrank_cache *cache, const lk_tensor *x,
                                  const lk_tensor *down_k, const lk_tensor *down_v);

/* One decode step with keys rebuilt in the kernel: for token t and kv head j (group j /
 * heads_per_group), k_t = rope(ĥk_t · up_k[j], position rope->position_offset + t), scores
 * q·k_t, softmax, then a = p · ĥv (latent) per query head and o = a · up_v[j] (one batched GEMM,
 * clBLAST / cuBLAS). q (already rotated) and o [batch, Hq, head_dim] or [batch, Hq, 1, head_dim],
 * o contiguous; up_k, up_v [kv_heads, rank, head_dim] contiguous; all F32 or F16. rope NULL:
 * no rotation. head_dim 64, 128 or 256 (rank at most 256). */
lk_status lk_lowrank_attention(lk_context *ctx, const lk_lowrank_cache *cache, const lk_tensor *q,
                               const lk_tensor *up_k, const lk_tensor *up_v, const lk_rope_params *rope,
                               lk_tensor *o, const lk_decode_params *params);

#ifdef __cplusplus
}
#endif
#endif
