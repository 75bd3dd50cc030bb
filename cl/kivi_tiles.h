/* kivi_tiles.h: the decode kernels' tile loaders over a KIVI cache (layout drawn in
 * kivi_quant.cl): dequantized codes while a token is quantized, else the fp16 residual.
 * The includer defines KD (the cache's channels per token: head_dim, or the latent rank),
 * BLOCK_N and WG (decode_split.h). */
#ifndef LK_KIVI_TILES_H
#define LK_KIVI_TILES_H

#include "kivi_cache.h"

/* Tile loaders of the decode kernels (BLOCK_N, WG defined): the work-group dequantizes tokens
 * [j0, j0 + ntok) of sequence-head bh, j0 a multiple of BLOCK_N, into local rows
 * dst[n * row + c] (token j0 + n, channel c < KD). One work-item per packed word: one load
 * gives CPW codes and one (scale, min) pair serves them all (G is a multiple of the codes per
 * word, and the quantized prefixes nk, nv end on word boundaries). Tokens past the quantized
 * prefix come from the fp16 residual ring. The loops have a uniform trip count with the index
 * checked inside (the form PoCL 3.1 compiles correctly, see decode_split.h). */

/* Keys: a word holds KIVI_KSPAN consecutive tokens of one channel inside the tile (a whole word,
 * or the whole tile when BLOCK_N < CPW_K; both are powers of two). Adjacent work-items take
 * adjacent channels, so their local stores hit adjacent banks. */
#define KIVI_KSPAN (BLOCK_N < CPW_K ? BLOCK_N : CPW_K)

LK_INLINE void kivi_load_keys(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params, const LK_GLOBAL half *res,
                              long cap, int bh, long j0, int ntok, long nk, LK_LOCAL_PTR float *dst, int row)
{
    const int units = KD * (BLOCK_N / KIVI_KSPAN);
    for (int u0 = 0; u0 < units; u0 += WG) {
        int u = u0 + (int)get_local_id(0);
        if (u >= units)
            continue;
        int c = u % KD, n0 = (u / KD) * KIVI_KSPAN, m = ntok - n0 < KIVI_KSPAN ? ntok - n0 : KIVI_KSPAN;
        long t0 = j0 + n0, r = (long)bh * KD + c;
        if (t0 < nk) {
            uint w = codes[r * (cap / CPW_K) + t0 / CPW_K] >> ((int)(t0 % CPW_K) * BITS_K);
            long p = r * (cap / G) + t0 / G;
            float scale = param_scale(params, p), mn = param_min(params, p);
            for (int i = 0; i < m; i++, w >>= BITS_K)
                dst[(n0 + i) * row + c] = lk_quant_dequant(w & (uint)lk_quant_levels(BITS_K), scale, mn);
        } else {
            for (int i = 0; i < m; i++)
                dst[(n0 + i) * row + c] = lk_half_to_float(res, ((long)bh * R + (t0 + i) % R) * KD + c);
        }
    }
}

/* Values: a word holds CPW_V consecutive channels of one token; adjacent work-items take
 * adjacent words of a token (coalesced loads). Work-item u stores its codes starting at slot
 * u % CPW_V so that neighbours hit different banks. */
LK_INLINE void kivi_load_values(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params,
                                const LK_GLOBAL half *res, long cap, int bh, long j0, int ntok, long nv,
                                LK_LOCAL_PTR float *dst, int row)
{
    const int wpt = KD / CPW_V, units = ntok * wpt;
    for (int u0 = 0; u0 < BLOCK_N * wpt; u0 += WG) {
        int u = u0 + (int)get_local_id(0);
        if (u >= units)
            continue;
        int n = u / wpt, c0 = (u % wpt) * CPW_V;
        long t = j0 + n, r = (long)bh * cap + t;
        LK_LOCAL_PTR float *out = dst + n * row + c0;
        if (t < nv) {
            uint w = codes[r * wpt + u % wpt];
            long p = r * (KD / G) + c0 / G;
            float scale = param_scale(params, p), mn = param_min(params, p);
            for (int i0 = 0; i0 < CPW_V; i0++) {
                int i = (i0 + u) % CPW_V;
                out[i] = lk_quant_dequant(lk_quant_unpack(w, i, BITS_V), scale, mn);
            }
        } else {
            for (int i = 0; i < CPW_V; i++)
                out[i] = lk_half_to_float(res, ((long)bh * R + t % R) * KD + c0 + i);
        }
    }
}

#endif
