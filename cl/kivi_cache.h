/* kivi_cache.h: the defaults of the KIVI cache layout drawn in kivi_quant.cl (group, residual,
 * bits, codes per word) and the readers of its parameters, shared by the append kernels and the
 * decode kernels' readers (kivi_tiles.h, kivi_direct.h). */
#ifndef LK_KIVI_CACHE_H
#define LK_KIVI_CACHE_H

#include "quant.h"

#ifndef G
#define G 32
#endif
#ifndef R
#define R 128
#endif
#ifndef BITS_K
#define BITS_K 2
#endif
#ifndef BITS_V
#define BITS_V 2
#endif
#define CPW_K (32 / BITS_K)
#define CPW_V (32 / BITS_V)

/* Stored (scale, min) pair i of a parameter array. */
LK_INLINE float param_scale(const LK_GLOBAL half *p, long i) { return lk_half_to_float(p, 2 * i); }
LK_INLINE float param_min(const LK_GLOBAL half *p, long i) { return lk_half_to_float(p, 2 * i + 1); }

#endif
