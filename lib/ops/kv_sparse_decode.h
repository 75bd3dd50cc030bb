/* Internal entry points of decode attention over the sparse KV cache, shared with the tuner. */
#ifndef LK_KV_SPARSE_DECODE_H
#define LK_KV_SPARSE_DECODE_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* Fused key path (one work-group rotates whole D*G vectors) or two-stage (keys rebuilt into
 * scratch by kv_sparse_unpack, then attention over them). Only rotated / RoPE caches differ. */
enum { LK_SPARSE_FUSED = 0, LK_SPARSE_TWO_STAGE = 1 };

/* Built-in VARIANT, SPLITS, BLOCK_N, WG, LOADER, DIRECT for a device; kv_group = heads per work-group (the
 * rotation group, else 1), query_group = Hq / Hkv. BLOCK_N is the largest that fits. */
void lk_kv_sparse_decode_defaults(const lk_device_info *dev, int head_dim, int kv_group, int query_group,
                                  lk_params *out);
/* op "kv_sparse", family "rotate" (rotation or RoPE in the key path) or "plain", q's dtype,
 * head_dim, flag 0 (the bit widths share tuned parameters), length = cache length. */
void lk_kv_sparse_decode_key(const lk_tensor *q, const lk_kv_sparse_cache *cache, lk_tune_key *key);
/* LK_OK if p's tiles fit the device for these group sizes and q's dtype (the tuner's
 * constraint); DIRECT 1 (plain caches: no rotation or RoPE) reads the cache in the score and p.V
 * phases, DIRECT 2 does so on tensor cores (NVIDIA cc 8+, f16 q, query group <= 8, BLOCK_N a
 * multiple of 16, WG of 32). */
lk_status lk_kv_sparse_decode_check_params(lk_context *ctx, const lk_params *p, int head_dim, int kv_group,
                                          int query_group, lk_dtype dtype);
/* lk_attention_decode_sparse with `tuned` parameters (NULL: the database's). */
lk_status lk_attention_decode_sparse_run(lk_context *ctx, const lk_tensor *q, const lk_kv_sparse_cache *cache,
                                         lk_tensor *o, lk_tensor *lse, const lk_decode_params *p,
                                         const lk_params *tuned);
/* Bytes of the compressed cache a decode reads (every stream array in use plus dense tokens). */
size_t lk_kv_sparse_read_bytes(const lk_kv_sparse_cache *cache);

#endif
