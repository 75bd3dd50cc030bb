/* The search space of attention_fwd and its checks after building (see space.h).
 *   VARIANT {0 fused, 1 K pre-pass, 2 unfused}   family rope only
 *   ROPE_TABLE {0, 1}                            only with VARIANT 0
 *   BLOCK_M, BLOCK_N, STAGES                     smaller lists on CPU devices
 *   MMA {1}, WARPS {4, 8}, BLOCK_M {64, 128}, BLOCK_N {32, 64, 128}, STAGES {1..4}
 *                                                instead, for f16 keys on NVIDIA cc 8+ (tensor cores)
 * Constraints before compiling: the op's parameter check (work-group, local memory) and
 * BLOCK_M <= the key's length. */
#ifndef LK_TUNER_SPACE_ATTENTION_H
#define LK_TUNER_SPACE_ATTENTION_H

#include "op.h"

/* u must outlive s (the predicates read it). */
void attn_space(const tune_space_user *u, space *s);
/* After building p's kernel: 1 when the compiled kernel fits the device (work-group size,
 * local memory), else 0 with the reason in why. Builds the program if it is not cached. */
int attn_fits_built(lk_context *ctx, const lk_tune_key *key, const lk_params *p, char *why, size_t n);

#endif
