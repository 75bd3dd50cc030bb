/* lowrank_ref.h: the low-rank latent cache from its definitions (Palu): latents by a dense
 * fp64 GEMM, keys and values rebuilt from (dequantized) latents. */
#ifndef LK_LOWRANK_REF_H
#define LK_LOWRANK_REF_H

#include <stdint.h>
#include "longkern.h"

/* latents [B * groups, S, r] (group g = columns g*r .. (g+1)*r of x · w), x [B, S, hidden],
 * w [hidden, groups * r]; fp64 sums rounded to float. */
void ref_lowrank_project(const float *x, const float *w, int64_t B, int64_t S, int64_t hidden, int64_t groups,
                         int64_t r, float *latents);

/* out [B, Hkv, n, HD]: kv head j of batch b = latents[b * groups + j / hpg] · up[j] (up
 * [Hkv, r, HD]), rotated by rope at positions rope->position_offset + t when rope is not NULL. */
void ref_lowrank_rebuild(const float *latents, const float *up, int64_t B, int64_t Hkv, int64_t hpg, int64_t n,
                         int64_t r, int64_t HD, const lk_rope_params *rope, float *out);

#endif
