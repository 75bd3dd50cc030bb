/* kivi_direct_mma.h: kivi_decode.cl's DIRECT = 2 variant: the KIVI decode on tensor cores
 * (decode_mma.h; NVIDIA cc 8+), its A fragments built pair by pair from the staged words
 * (kivi_mma_stage.h, two buffers: the next tile's copy runs while this tile computes). Requires f16
 * q (LK_F16), QG <= 8, WG a multiple of 32 and what kivi_mma_stage.h requires. A key word holds
 * tokens g and g + 8 of one channel 16 bits apart (2-bit; 4 and 8 bits: two words), a value word
 * channels g and g + 8 of one token: one shift and mask give both codes.
 */
#ifndef LK_KIVI_DIRECT_MMA_H
#define LK_KIVI_DIRECT_MMA_H

#include "kivi_mma_stage.h"

/* (k[n][c], k[n + 8][c]): rows n and n + 8 share their 16-token m-tile, so both are quantized
 * or neither. */
LK_INLINE uint dec_mma_key(const kivi_mma_src *s, int n, int c)
{
    const long t = s->j0 + n;
    if (t < s->nk) {
        const LK_LOCAL_PTR uint *row = s->kw + c * KM_KWT;
        uint x = kivi_mma_codes(row[n / CPW_K], row[(n + 8) / CPW_K], n % CPW_K, BITS_K);
        return lk_dequant_h2(x, s->kp[c * KM_MT + n / 16]);
    }
    return kivi_mma_residual(s->k_res, ((long)s->bh * R + t % R) * KD + c, (long)((t + 8) % R - t % R) * KD,
                             t < s->len, t + 8 < s->len);
}

/* (v[n][c], v[n][c + 8]). */
LK_INLINE uint dec_mma_value(const kivi_mma_src *s, int n, int c)
{
    const long t = s->j0 + n;
    if (t < s->nv) {
        const LK_LOCAL_PTR uint *row = s->vw + n * (KD / CPW_V);
        uint x = kivi_mma_codes(row[c / CPW_V], row[(c + 8) / CPW_V], c % CPW_V, BITS_V);
        return lk_dequant_h2(x, s->vp[n * KM_CT + c / 16]);
    }
    return kivi_mma_residual(s->v_res, ((long)s->bh * R + t % R) * KD + c, 8, t < s->len, t < s->len);
}

#define DEC_MMA_SRC kivi_mma_src
#include "decode_mma.h"

#endif
