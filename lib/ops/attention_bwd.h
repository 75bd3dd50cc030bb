/* Internal entry points of the attention backward op, shared with the tuner and benchmarks:
 * they run the op with explicit parameters instead of the database's. */
#ifndef LK_ATTENTION_BWD_H
#define LK_ATTENTION_BWD_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* Built-in defaults for a device type (used when no database row applies). */
void lk_attention_bwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out);
/* Local memory the larger of the two main kernels needs for these parameters. */
size_t lk_attention_bwd_local_bytes(const lk_params *p, int head_dim);
/* LK_OK if p fits the device (work-group, local memory, ranges). */
lk_status lk_attention_bwd_check_params(lk_context *ctx, const lk_params *p, int head_dim);
/* The -D set of the program for these parameters and RoPE variant (-1: no RoPE): what the launch
 * builds, so a tuner can build and inspect the same program. */
void lk_attention_bwd_defines(lk_dtype dtype, int head_dim, const lk_params *tuned, int variant, lk_params *out);
/* The tuning key of a call (op "attention_bwd"). */
void lk_attention_bwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key);
/* Run with `tuned` (VARIANT, BLOCK_M, BLOCK_N). Arguments must be valid. */
lk_status lk_attention_bwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq,
                               lk_tensor *dk, lk_tensor *dv, const lk_attention_params *p, const lk_params *tuned);

#endif
