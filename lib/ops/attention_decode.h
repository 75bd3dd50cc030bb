/* Internal entry points of dense decode attention (lk_attention_decode), shared with the tuner
 * and the benchmarks of the compressed caches (their "dense decode" baseline). */
#ifndef LK_ATTENTION_DECODE_H
#define LK_ATTENTION_DECODE_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* Built-in SPLITS, BLOCK_N, WG for a device and head_dim. */
void lk_attention_decode_defaults(const lk_device_info *dev, int head_dim, lk_params *out);
/* The tuning key: op "attention_decode", dtype, head_dim, length = S. */
void lk_attention_decode_key(const lk_tensor *q, const lk_tensor *k, lk_tune_key *key);
/* Checks the arguments, then runs with `tuned` (NULL: the database's parameters). */
lk_status lk_attention_decode_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                                  lk_tensor *o, lk_tensor *lse, const lk_decode_params *p, const lk_params *tuned);

#endif
