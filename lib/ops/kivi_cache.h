/* The KIVI cache object (layout drawn in cl/kivi_quant.cl), shared by the KIVI decode op, the
 * low-rank latent cache (which keeps its latents in one) and the tests that read codes back. */
#ifndef LK_KIVI_CACHE_H
#define LK_KIVI_CACHE_H

#include "../core/internal.h"
#include "../core/params.h"

struct lk_kivi_cache {
    lk_context *ctx;
    lk_kivi_config cfg;
    int64_t length;   /* tokens per sequence */
    int64_t cap;      /* token slots: capacity rounded up to a multiple of R */
    lk_buffer *k_codes, *k_params, *v_codes, *v_params, *k_res, *v_res;
};

/* Quantized prefix lengths of a cache of n tokens: keys in whole R blocks, values all but the
 * last R tokens. */
int64_t lk_kivi_quantized_keys(const lk_kivi_config *cfg, int64_t n);
int64_t lk_kivi_quantized_values(const lk_kivi_config *cfg, int64_t n);

/* Words and parameter pairs of one sequence-head. */
int64_t lk_kivi_k_words(const lk_kivi_cache *c); /* D * cap / (32 / k_bits) */
int64_t lk_kivi_v_words(const lk_kivi_cache *c); /* cap * D / (32 / v_bits) */

/* -D defines of the cache's programs: D, G, R, BITS_K, BITS_V (+ LK_F16 of the tensors). */
void lk_kivi_defines(const lk_kivi_cache *c, lk_dtype dtype, lk_params *out);

/* The cache's kernel arguments, in the order every decode kernel reads them: k codes, k params,
 * k residual, v codes, v params, v residual, cap, length, quantized keys, quantized values. */
struct lk_args;
void lk_kivi_args_cache(struct lk_args *a, const lk_kivi_cache *c);

/* Checks a configuration; op names the calling API in messages. */
lk_status lk_kivi_check_config(lk_context *ctx, const char *op, const lk_kivi_config *cfg);

/* Appends after validation by the caller: k and v [batch, kv_heads, S, head_dim]. */
lk_status lk_kivi_append_checked(lk_context *ctx, lk_kivi_cache *c, const lk_tensor *k, const lk_tensor *v);

#endif
