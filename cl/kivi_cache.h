/* kivi_cache.h: reading one element of a KIVI cache (layout drawn in kivi_quant.cl) in a
 * decode kernel: the dequantized code while the token is quantized, else the fp16 residual.
 * The includer defines KD, the cache's channels per token (head_dim, or the latent rank). */
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

LK_INLINE float kivi_key(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params, const LK_GLOBAL half *res,
                         long cap, int bh, long t, int d, long nk)
{
    if (t >= nk)
        return lk_half_to_float(res, ((long)bh * R + t % R) * KD + d);
    long row = (long)bh * KD + d;
    uint code = lk_quant_unpack(codes[row * (cap / CPW_K) + t / CPW_K], (int)(t % CPW_K), BITS_K);
    long p = row * (cap / G) + t / G;
    return lk_quant_dequant(code, param_scale(params, p), param_min(params, p));
}

LK_INLINE float kivi_value(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params, const LK_GLOBAL half *res,
                           long cap, int bh, long t, int d, long nv)
{
    if (t >= nv)
        return lk_half_to_float(res, ((long)bh * R + t % R) * KD + d);
    long row = (long)bh * cap + t;
    uint code = lk_quant_unpack(codes[row * (KD / CPW_V) + d / CPW_V], d % CPW_V, BITS_V);
    long p = row * (KD / G) + d / G;
    return lk_quant_dequant(code, param_scale(params, p), param_min(params, p));
}

#endif
