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

#define KIVI_MMA_LOCALS LK_SHARED uint kmw[2 * KM_WORDS] __attribute__((aligned(16)))

/* The cache as the mma phases read it: the staged tile, the residual rings, the tile's place. */
typedef struct kivi_mma_src {
    const LK_LOCAL_PTR uint *kw, *kp, *vw, *vp;
    const LK_GLOBAL half *k_res, *v_res;
    int bh;
    long j0, nk, nv, len;
} kivi_mma_src;

/* The view of tile `tile` of a split's tiles [t0, t1) in kmw (two buffers): the first call
 * also stages the split's first tile; each call starts the next tile's copy into the other buffer
 * (after a barrier: every warp is done with the tile that buffer held), so that it runs while this
 * tile computes, then waits for this tile's words. Every work-item calls it, once per tile in
 * order; it ends with a barrier. */
LK_INLINE kivi_mma_src kivi_mma_tile(const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params,
                                     const LK_GLOBAL half *k_res, const LK_GLOBAL uint *v_codes,
                                     const LK_GLOBAL half *v_params, const LK_GLOBAL half *v_res, long cap, int bh,
                                     long n, long nk, long nv, int tile, int t0, int t1, LK_LOCAL_PTR uint *kmw)
{
    const long j0 = (long)tile * BLOCK_N;
    LK_LOCAL_PTR uint *buf = kmw + (tile - t0) % 2 * KM_WORDS;
    if (tile == t0)
        kivi_mma_stage(k_codes, k_params, v_codes, v_params, cap, bh, j0, nk, nv, buf);
    else
        lk_barrier();
    if (tile + 1 < t1) {
        kivi_mma_stage(k_codes, k_params, v_codes, v_params, cap, bh, j0 + BLOCK_N, nk, nv,
                       kmw + (tile + 1 - t0) % 2 * KM_WORDS);
        lk_cp_async_wait(1);
    } else {
        lk_cp_async_wait(0);
    }
    lk_barrier();
    kivi_mma_src src = {buf, buf + KM_OFF_KP, buf + KM_OFF_VW, buf + KM_OFF_VP, k_res, v_res, bh, j0, nk, nv, n};
    return src;
}

/* 1024 + the codes of slot s of word a (low half) and of slot s of word b (high half), or for
 * 16 codes per word slots s and s + 8 of word a (b unused). */
LK_INLINE uint kivi_mma_codes(uint a, uint b, int s, int bits)
{
    const uint levels = (uint)lk_quant_levels(bits);
    if (32 / bits >= 16)
        return ((a >> (bits * s)) & (levels | levels << 16)) | KM_MAGIC;
    return ((a >> (bits * s)) & levels) | (((b >> (bits * s)) & levels) << 16) | KM_MAGIC;
}

/* (k[n][c], k[n + 8][c]): rows n and n + 8 share their 16-token m-tile, so both are quantized
 * or neither. */
LK_INLINE uint dec_mma_key(const kivi_mma_src *s, int n, int c)
{
    const long t = s->j0 + n;
    if (t < s->nk) {
        const LK_LOCAL_PTR uint *row = s->kw + c * KM_KWT;
        uint x = kivi_mma_codes(row[n / CPW_K], row[(n + 8) / CPW_K], n % CPW_K, BITS_K);
        return lk_dequant_h2(x, s->kp[c * KM_KG + km_kgroup(s->j0, n)]);
    }
    return kivi_mma_residual(s->k_res, ((long)s->bh * R + t % R) * KD + c, (long)((t + 8) % R - t % R) * KD,
                             t < s->len, t + 8 < s->len);
}

/* (v[n][c], v[n][c + 8]). */
LK_INLINE uint dec_mma_value(const kivi_mma_src *s, int n, int c)
{
    const long t = s->j0 + n;
    if (t < s->nv) {
        const LK_LOCAL_PTR uint *row = s->vw + n * KM_VWT;
        uint x = kivi_mma_codes(row[c / CPW_V], row[(c + 8) / CPW_V], c % CPW_V, BITS_V);
        return lk_dequant_h2(x, s->vp[n * KM_VG + c / G]);
    }
    return kivi_mma_residual(s->v_res, ((long)s->bh * R + t % R) * KD + c, 8, t < s->len, t < s->len);
}

#define DEC_MMA_SRC kivi_mma_src
#include "decode_mma.h"

#endif
