/* Internal entry points of the attention forward op, shared with the tuner and benchmarks:
 * they run the op with explicit parameters instead of the database's. */
#ifndef LK_ATTENTION_FWD_H
#define LK_ATTENTION_FWD_H

#include "../core/internal.h"
#include "../core/params.h"
#include "../tunedb/tunedb.h"

/* 1 when the device runs the tensor-core kernel (NVIDIA compute capability 8+) for head_dim. */
int lk_attention_fwd_has_mma(const lk_device_info *dev, int head_dim);
/* 1 when it also runs the Hopper warpgroup-MMA kernel (MMA=2: the CUDA build on compute
 * capability 9.0, whose sm_90a code runs on no other GPU). */
int lk_attention_fwd_has_wgmma(const lk_device_info *dev, int head_dim);
/* Built-in defaults for a device type (used when no database row applies): MMA=1 with its
 * tiles where lk_attention_fwd_has_mma (f16 calls; f32 calls fall back to the generic tiles). */
void lk_attention_fwd_defaults(const lk_device_info *dev, int head_dim, lk_params *out);
/* Local memory the kernel (generic, MMA=1 or MMA=2) needs for these parameters. */
size_t lk_attention_fwd_local_bytes(const lk_params *p, int head_dim);
/* The part of it a launch passes as dynamic local memory: the tensor-core kernels' K/V ring and
 * Q tile (their LK_DYN_SHARED array), 0 for the generic kernel. */
size_t lk_attention_fwd_dyn_local(const lk_params *p, int head_dim);
/* Most local memory one work-group of the kernel may use on dev: local_mem_optin_bytes for the
 * tensor-core kernel (above 48 KB on CUDA only), local_mem_bytes for the generic one. */
size_t lk_attention_fwd_local_limit(const lk_device_info *dev, const lk_params *p);
/* The kernel one launch with `tuned` runs (generic or tensor-core), its compile-time defines in
 * launch order (one program-cache entry for the op and the tuner's compile check) and its
 * work-group size. */
const char *lk_attention_fwd_kernel(int f16, int head_dim, const lk_params *tuned, int rope_q, int rope_k, int table,
                                   lk_params *defs, size_t *local);
/* LK_OK if p fits the device (work-group, local memory, ranges). */
lk_status lk_attention_fwd_check_params(lk_context *ctx, const lk_params *p, int head_dim);
/* The tuning key of a call. */
void lk_attention_fwd_key(const lk_tensor *q, const lk_tensor *k, const lk_attention_params *p, lk_tune_key *key);
/* Run with `tuned` (VARIANT, BLOCK_M, BLOCK_N, STAGES, ROPE_TABLE; MMA, WARPS, QSMEM, OVERLAP, PRODUCER). Arguments must be
 * valid. MMA=1 or 2 on tensors the tensor-core kernels cannot read (not f16, strided rows,
 * unaligned) runs the generic kernel with its default tiles. */
lk_status lk_attention_fwd_run(lk_context *ctx, const lk_tensor *q, const lk_tensor *k, const lk_tensor *v,
                               lk_tensor *o, lk_tensor *lse, const lk_attention_params *p, const lk_params *tuned);

#endif
