/* Test support of the sparse KV cache: token data with the awkward patterns the format must
 * survive, streaming appends in chunks, and the reference restoration of a whole cache. */
#ifndef LK_TEST_KV_SPARSE_SUPPORT_H
#define LK_TEST_KV_SPARSE_SUPPORT_H

#include "harness.h"

/* x [H][L][D] random in [-1, 1], rounded to fp16, with: every 37th token a constant row, channel 5
 * tiny (1e-4, so its key tiles are usually empty), every 5th token's channels 0..7 tied in
 * magnitude (0.75 with alternating signs). */
void kvs_tokens(lkt_rng *r, float *x, int64_t H, int64_t L, int64_t D);

/* Appends tokens [from, to) of k, v ([H][L][D] host, H = batch * kv_heads) as one call, dtype dt. */
void kvs_append(lk_context *ctx, lk_kv_sparse_cache *c, const lk_kv_sparse_config *cfg, const float *k,
                const float *v, int64_t L, int64_t from, int64_t to, lk_dtype dt);
/* Appends all L tokens in chunks of sizes chunk[0], chunk[1], ... (0-terminated, the last repeats). */
void kvs_append_chunks(lk_context *ctx, lk_kv_sparse_cache *c, const lk_kv_sparse_config *cfg, const float *k,
                       const float *v, int64_t L, const int *chunk, lk_dtype dt);

/* Compressed blocks of a cache holding L tokens. */
int64_t kvs_blocks(const lk_kv_sparse_config *cfg, int64_t L);
/* What the cache restores of stream x ([H][L][D], fp16 values): sinks and window as is,
 * compressed blocks pruned and dequantized (ref_sparse_block). */
void kvs_restored(const lk_kv_sparse_config *cfg, const float *x, int64_t L, int is_key, float *out);

#endif
