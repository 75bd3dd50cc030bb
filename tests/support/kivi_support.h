/* Test helpers of the quantized caches: random K/V with constant groups and rounding ties,
 * appends in a schedule of pieces, the exact comparison of a cache with ref/kivi_ref, and the
 * decode tunables a test case names. */
#ifndef LK_TEST_KIVI_SUPPORT_H
#define LK_TEST_KIVI_SUPPORT_H

#include "harness.h"
#include "kivi_ref.h"
#include "core/params.h"

/* [BH, n, D] values in [-1, 1], with channel 1 of every key group constant, token 2 of the
 * values constant, and every seventh value a multiple of 1/8 (rounding ties). */
void kvt_fill(lkt_rng *rng, float *x, int64_t BH, int64_t n, int64_t D, int is_key);

/* Appends tokens [0, n) of k and v (host [B*H, n, D]) in pieces: piece lengths from `pieces`
 * (0-terminated, repeated from its last entry), uploaded with `layout` as dtype. */
void kvt_append(lk_context *ctx, lk_kivi_cache *cache, int64_t B, int64_t H, int64_t n, int64_t D, const float *k,
                const float *v, lk_dtype dtype, lkt_layout layout, const int *pieces);

/* The ref shape of a cache. */
ref_kivi_shape kvt_shape(const lk_kivi_cache *cache);

/* Asserts that the cache holds exactly what ref_kivi_quantize gives for k, v (codes, fp16
 * parameters, residual tokens), reading its buffers back. */
void kvt_expect_state(lk_context *ctx, const lk_kivi_cache *cache, const float *k, const float *v);

/* The tunables SPLITS, BLOCK_N, WG and DIRECT of a decode call over a quantized cache. */
lk_params kvt_decode_tunables(int splits, int block_n, int wg, int direct);

/* Expects the last launch to name DIRECT=direct (the variant that ran). */
void kvt_expect_direct(lk_context *ctx, int direct);

#endif
