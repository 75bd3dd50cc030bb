/* kivi_mma_stage.h: the KIVI decode's tiles of quantized words in local memory, staged for the
 * tensor-core variants (kivi_direct_mma.h: DIRECT 2; kivi_tiles_mma.h: DIRECT 3; both also for
 * the low-rank decode's latents). Each variant header defines KIVI_MMA_LOCALS and
 * kivi_mma_tile(...), which stages a split's tiles in order and returns its DEC_MMA_SRC. Requires KD (the cache's channels: D, or the latent rank of lowrank_mma.h) and
 * BLOCK_N multiples of 16, G a multiple of 16 (a 16-token or 16-channel run of a word shares one
 * (scale, min); R, a multiple of G, never splits one).
 *
 * Per tile of BLOCK_N tokens [j0, j0 + BLOCK_N), copied by every work-item with cp.async (4 bytes
 * a word) into a buffer of KM_WORDS words, in this order:
 *   kw [KD][BLOCK_N / CPW_K]  the tile's key words of each channel (0 past nk)
 *   kp [KD][BLOCK_N / 16]     (scale, min) of each channel and 16-token m-tile
 *   vw [BLOCK_N][KD / CPW_V]  the tile's value words of each token (0 past nv)
 *   vp [BLOCK_N][KD / 16]     (scale, min) of each token and 16-channel m-tile
 * Tokens past the quantized prefix come from the fp16 residual (k_res, v_res), past n are 0.
 * Codes are packed LSB-first (kivi_quant.cl): a key word holds CPW_K consecutive tokens of one
 * channel, a value word CPW_V consecutive channels of one token. Codes become f16 two at a time:
 * the bits 0x6400 | code are 1024 + code, then (x - 1024) * scale + min in f16x2 (lk_dequant_h2).
 */
#ifndef LK_KIVI_MMA_STAGE_H
#define LK_KIVI_MMA_STAGE_H

#include "mma_nv.h"

#define KM_KWT (BLOCK_N / CPW_K)
#define KM_MT (BLOCK_N / 16)
#define KM_CT (KD / 16)
#define KM_MAGIC 0x64006400u

#define KM_OFF_KP (KD * KM_KWT)
#define KM_OFF_VW (KM_OFF_KP + KD * KM_MT)
#define KM_OFF_VP (KM_OFF_VW + BLOCK_N * (KD / CPW_V))
#define KM_WORDS (KM_OFF_VP + BLOCK_N * KM_CT) /* one buffer */

/* Starts copying the words of the tile at j0 into buf (KM_WORDS; 0 past the quantized
 * prefixes) and commits them as one cp.async group. */
LK_INLINE void kivi_mma_stage(const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params,
                              const LK_GLOBAL uint *v_codes, const LK_GLOBAL half *v_params, long cap, int bh,
                              long j0, long nk, long nv, LK_LOCAL_PTR uint *buf)
{
    const LK_GLOBAL uint *kpar = (const LK_GLOBAL uint *)k_params, *vpar = (const LK_GLOBAL uint *)v_params;
    for (int e = LK_DEC_TID; e < KM_WORDS; e += WG) {
        const LK_GLOBAL uint *src = k_codes;
        int ok = 0;
        if (e < KM_OFF_KP) { /* kw [KD][KWT] */
            long t = j0 + (e % KM_KWT) * CPW_K;
            ok = t < nk;
            src = k_codes + ((long)bh * KD + e / KM_KWT) * (cap / CPW_K) + t / CPW_K;
        } else if (e < KM_OFF_VW) { /* kp [KD][MT] */
            int i = e - KM_OFF_KP;
            long t = j0 + (i % KM_MT) * 16;
            ok = t < nk;
            src = kpar + ((long)bh * KD + i / KM_MT) * (cap / G) + t / G;
        } else if (e < KM_OFF_VP) { /* vw [BLOCK_N][KD / CPW_V] */
            int i = e - KM_OFF_VW;
            long t = j0 + i / (KD / CPW_V);
            ok = t < nv;
            src = v_codes + ((long)bh * cap + t) * (KD / CPW_V) + i % (KD / CPW_V);
        } else { /* vp [BLOCK_N][CT] */
            int i = e - KM_OFF_VP;
            long t = j0 + i / KM_CT;
            ok = t < nv;
            src = vpar + ((long)bh * cap + t) * (KD / G) + (i % KM_CT) * 16 / G;
        }
        lk_cp_async4(LK_SMEM_ADDR(buf + e), LK_GLOBAL_ADDR(ok ? src : k_codes), ok ? 4 : 0);
    }
    lk_cp_async_commit();
}

/* f16x2 of residual elements i and i + step of res (0 where the token is past n). */
LK_INLINE uint kivi_mma_residual(const LK_GLOBAL half *res, long i, long step, int lo_ok, int hi_ok)
{
    return lk_pack_half2(lo_ok ? lk_half_to_float(res, i) : 0.0f, hi_ok ? lk_half_to_float(res, i + step) : 0.0f);
}

#endif
