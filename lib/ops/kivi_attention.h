/* Internal entry points of KIVI decode attention (lk_kivi_attention), shared with the tuner. */
#ifndef LK_KIVI_ATTENTION_H
#define LK_KIVI_ATTENTION_H

#include "kivi_cache.h"
#include "../tunedb/tunedb.h"

/* Built-in SPLITS, BLOCK_N, WG for a device and head_dim (shared with the low-rank decode);
 * DIRECT is left out: 0, the dequantized tiles, until a device is tuned. */
void lk_kivi_attention_defaults(const lk_device_info *dev, int head_dim, lk_params *out);
/* LK_OK if the tunables p (DIRECT 0 tiles / 1 direct / 2 tensor cores / 3 tensor cores from f16
 * tiles, SPLITS, BLOCK_N dividing 64 for tiles or 256 else, WG) are in range, the variant runs
 * here (DIRECT 2, 3: NVIDIA cc 8+, f16 q, QG <= 8, head_dim, G and BLOCK_N multiples of 16, WG of
 * 32) and the decode kernel's local memory (cl/kivi_decode.cl) fits, for a cache of this
 * configuration and query group. */
lk_status lk_kivi_attention_check_tunables(lk_context *ctx, const lk_params *p, const lk_kivi_config *cfg,
                                           int query_group, lk_dtype dtype);
/* Local memory of the tensor-core staging (cl/kivi_mma_stage.h), for a cache of cfg's channels
 * (head_dim; the latent rank of a low-rank cache): DIRECT 2, two buffers of a tile's words and
 * parameters; DIRECT 3 (cl/kivi_tiles_mma.h), kbuf buffers and the tile's f16 keys and values. */
size_t lk_kivi_mma_stage_bytes(const lk_kivi_config *cfg, int block_n, int direct, int kbuf);
/* LK_OK if p can run a tensor-core decode over a cache of cfg (KIVI, or the latents of the
 * low-rank decode): KBUF 1 or 2, lk_decode_mma_check for partial records of record_dim channels
 * with the staging and `local` more bytes, the cache's channels and G multiples of 16. */
lk_status lk_kivi_mma_check(lk_context *ctx, const char *op, const lk_params *p, const lk_kivi_config *cfg,
                            int record_dim, int query_group, lk_dtype dtype, size_t local);
/* The kernel's DIRECT define from tuned, and with DIRECT 3 its KBUF (word buffers, default 1). */
void lk_kivi_direct_defines(const lk_params *tuned, lk_params *defs);
/* The tuning key: op "kivi_decode", family "k<bits>v<bits>", flag G, dtype of q, length = tokens. */
void lk_kivi_attention_key(const lk_kivi_cache *cache, lk_dtype dtype, lk_tune_key *key);
/* Checks the arguments, then runs with `tuned` (NULL: the database's parameters). */
lk_status lk_kivi_attention_run(lk_context *ctx, const lk_kivi_cache *cache, const lk_tensor *q, lk_tensor *o,
                                lk_tensor *lse, const lk_decode_params *p, const lk_params *tuned);

#endif
