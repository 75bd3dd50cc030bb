/* Internal entry points of the attention backward op, shared with the tuner and benchmarks:
 * they run the op with explicit parameters instead of the database's. */
#ifndef LK_ATTENTION_BWD_H
#define LK_ATTENTION_BWD_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* 1 when the device can run the tensor-core kernels (NVIDIA cc 8+, head_dim 64 or 128); f16 only. */
int lk_attention_bwd_has_mma(const lk_device_info *dev, int head_dim);
/* Built-in defaults for a device type (used when no database row applies): MMA=1 with the tensor-
 * core tiles where the device has them (plus the generic tiles, for f32 or strided calls). */
void lk_attention_bwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out);
/* Local memory the larger of the two main kernels needs for these parameters (MMA=1: the tensor-
 * core kernel's dynamic shared memory), and the device's limit for it (MMA=1: the opt-in limit). */
size_t lk_attention_bwd_local_bytes(const lk_params *p, int head_dim);
size_t lk_attention_bwd_mma_local_bytes(const lk_params *p, int head_dim);
size_t lk_attention_bwd_local_limit(const lk_device_info *dev, const lk_params *p);
/* LK_OK if p fits the device (work-group, local memory, ranges). */
lk_status lk_attention_bwd_check_params(lk_context *ctx, const lk_params *p, int head_dim);
/* The -D set of the program for these parameters and RoPE variant (-1: no RoPE): what the launch
 * builds, so a tuner can build and inspect the same program. */
void lk_attention_bwd_defines(lk_dtype dtype, int head_dim, const lk_params *tuned, int variant, lk_params *out);
/* The program (cl/<name>.cl) of these parameters: attention_bwd_mma with MMA=1, else attention_bwd. */
const char *lk_attention_bwd_program(const lk_params *tuned);
/* The tuning key of a call (op "attention_bwd"). */
void lk_attention_bwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key);
/* Run with `tuned` (VARIANT and the tiles; MMA=1 on tensors the tensor-core kernels cannot read
 * falls back to the generic kernels). Arguments must be valid. */
lk_status lk_attention_bwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               const lk_tensor *o, const lk_tensor *lse, const lk_tensor *dout, lk_tensor *dq,
                               lk_tensor *dk, lk_tensor *dv, const lk_attention_params *p, const lk_params *tuned);

#endif
