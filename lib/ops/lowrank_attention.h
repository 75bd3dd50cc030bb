/* Internal entry points of low-rank latent decode attention (lk_lowrank_attention), shared
 * with the tuner. Tunables as KIVI decode (SPLITS, BLOCK_N, WG). */
#ifndef LK_LOWRANK_ATTENTION_H
#define LK_LOWRANK_ATTENTION_H

#include "lowrank_cache.h"
#include "../tunedb/tunedb.h"

/* The tuning key: op "lowrank_decode", family "k<bits>v<bits>", flag rank, length = tokens. */
void lk_lowrank_attention_key(const lk_lowrank_cache *cache, lk_dtype dtype, lk_tune_key *key);
/* Checks the arguments, then runs with `tuned` (NULL: the database's parameters). */
lk_status lk_lowrank_attention_run(lk_context *ctx, const lk_lowrank_cache *cache, const lk_tensor *q,
                                   const lk_tensor *up_k, const lk_tensor *up_v, const lk_rope_params *rope,
                                   lk_tensor *o, const lk_decode_params *p, const lk_params *tuned);

#endif
