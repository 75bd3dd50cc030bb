/* Internal entry points of low-rank latent decode attention (lk_lowrank_attention), shared
 * with the tuner. Tunables: SPLITS, BLOCK_N, WG as KIVI decode, and DIRECT (0 tiles, 2 tensor
 * cores; no direct reads). */
#ifndef LK_LOWRANK_ATTENTION_H
#define LK_LOWRANK_ATTENTION_H

#include "lowrank_cache.h"
#include "../tunedb/tunedb.h"

/* LK_OK if the tunables p are in range and run here for a cache of configuration f (f->kivi: the
 * latents' KIVI configuration, as the cache holds it) and this query group: DIRECT 0 with BLOCK_N
 * dividing 64; DIRECT 2 (cl/lowrank_mma.h) with lk_kivi_mma_check, head_dim a multiple of 32,
 * BLOCK_N dividing 256, and its local memory (up_k staged as f16) fitting. */
lk_status lk_lowrank_attention_check_tunables(lk_context *ctx, const lk_params *p, const lk_lowrank_config *f,
                                              int query_group, lk_dtype dtype);
/* The tuning key: op "lowrank_decode", family "k<bits>v<bits>", flag rank, length = tokens. */
void lk_lowrank_attention_key(const lk_lowrank_cache *cache, lk_dtype dtype, lk_tune_key *key);
/* Checks the arguments, then runs with `tuned` (NULL: the database's parameters). */
lk_status lk_lowrank_attention_run(lk_context *ctx, const lk_lowrank_cache *cache, const lk_tensor *q,
                                   const lk_tensor *up_k, const lk_tensor *up_v, const lk_rope_params *rope,
                                   lk_tensor *o, const lk_decode_params *p, const lk_params *tuned);

#endif
