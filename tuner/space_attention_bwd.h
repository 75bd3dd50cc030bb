/* The search space of attention_bwd and its check after building (see space.h).
 *   VARIANT {0 fused, 1 pre-pass, 2 unfused}        family rope only
 *   BLOCK_N1, BLOCK_M1   dK/dV kernel: keys per work-group, query rows per local tile
 *   BLOCK_M2, BLOCK_N2   dQ kernel: query rows per work-group, keys per local tile
 *                        (smaller lists on CPU devices)
 *   on NVIDIA cc 8+ for f16, head_dim 64/128, the tensor-core kernel instead (MMA 1):
 *   WARPS {4, 8}, BLOCK_N {64, 128, 256} keys per work-group (16 or 32 per warp), BLOCK_M
 *   {16, 32, 64} query rows per tile, STAGES {1, 2, 3} Q/dO tiles in flight
 * Constraints before compiling: the op's parameter check (work-group, tile shapes, local memory:
 * the opt-in shared memory for MMA 1 in CUDA, 48 KB in NVIDIA OpenCL), tile sizes that spill
 * registers (mma_registers), and work-group tiles <= the key's length. */
#ifndef LK_TUNER_SPACE_ATTENTION_BWD_H
#define LK_TUNER_SPACE_ATTENTION_BWD_H

#include "op.h"

/* u must outlive s (the predicates read it). */
void attn_bwd_space(const tune_space_user *u, space *s);
/* After building p's program: 1 when both main kernels fit the device (work-group size, local
 * memory), else 0 with the reason in why. Builds the program if it is not cached. */
int attn_bwd_fits_built(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n);

#endif
