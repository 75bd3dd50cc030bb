/* kivi_mma_stage.h: the KIVI decode's tiles of quantized words in local memory, staged for the
 * tensor-core variants (kivi_direct_mma.h: DIRECT 2; kivi_tiles_mma.h: DIRECT 3; both also for
 * the low-rank decode's latents). Each variant header defines KIVI_MMA_LOCALS and
 * kivi_mma_tile(...), which stages a split's tiles in order and returns its DEC_MMA_SRC. Requires KD (the cache's channels: D, or the latent rank of lowrank_mma.h) and
 * BLOCK_N multiples of 16, G a multiple of 16 (a 16-token or 16-channel run of a word shares one
 * (scale, min); R, a multiple of G, never splits one).
 *
 * Per tile of BLOCK_N tokens [j0, j0 + BLOCK_N), copied by every work-item with cp.async into a
 * buffer of KM_WORDS words, in this order:
 *   kw [KD][KM_KWT]        the tile's key words of each channel (0 past nk)
 *   kp [KD][KM_KG]         (scale, min) of each channel and each group the tile touches, from
 *                          group j0 / G on (km_kgroup: a token's)
 *   vw [BLOCK_N][KD / CPW_V]  the tile's value words of each token (0 past nv)
 *   vp [BLOCK_N][KD / G]   (scale, min) of each token and G-channel group
 * Each is a run of rows that lie apart in the cache (kw, kp: one a channel) or one contiguous run
 * (vw, vp: the tokens' rows follow each other), copied KM_*_VEC words at a time: as many of 4, 2, 1
 * as the rows' lengths and starts allow (the starts: the capacity is a multiple of R), so a 2-bit
 * tile of 64 tokens and 128 channels takes 3.5 copies a work-item of WG 128 instead of 16 copies
 * of one word with (scale, min) repeated per 16-token m-tile. A copy's words past the quantized
 * prefix read nothing (cp.async's src-size) and land as 0.
 * Tokens past the quantized prefix come from the fp16 residual (k_res, v_res), past n are 0.
 * Codes are packed LSB-first (kivi_quant.cl): a key word holds CPW_K consecutive tokens of one
 * channel, a value word CPW_V consecutive channels of one token. Codes become f16 two at a time:
 * the bits 0x6400 | code are 1024 + code, then (x - 1024) * scale + min in f16x2 (lk_dequant_h2).
 */
#ifndef LK_KIVI_MMA_STAGE_H
#define LK_KIVI_MMA_STAGE_H

#include "mma_nv.h"

#define KM_KWT (BLOCK_N / CPW_K)
#define KM_VWT (KD / CPW_V)
#define KM_VG (KD / G)
#if BLOCK_N % G == 0
#define KM_KG (BLOCK_N / G)
#elif G % BLOCK_N == 0
#define KM_KG 1
#else /* a tile starting 16 tokens before a group's end */
#define KM_KG ((G - 16 + BLOCK_N + G - 1) / G)
#endif
#define KM_MAGIC 0x64006400u

/* words a copy: 4, 2 or 1, dividing both a and b */
#define KM_VEC(a, b) ((a) % 4 == 0 && (b) % 4 == 0 ? 4 : (a) % 2 == 0 && (b) % 2 == 0 ? 2 : 1)
#define KM_KW_VEC KM_VEC(KM_KWT, R / CPW_K)
#define KM_KP_VEC (BLOCK_N % G == 0 ? KM_VEC(KM_KG, R / G) : 1)
#define KM_VW_VEC KM_VEC(KM_VWT, KM_VWT)
#define KM_VP_VEC KM_VEC(KM_VG, KM_VG)

#define KM_OFF_KP (KD * KM_KWT)
#define KM_OFF_VW (KM_OFF_KP + KD * KM_KG)
#define KM_OFF_VP (KM_OFF_VW + BLOCK_N * KM_VWT)
#define KM_WORDS (KM_OFF_VP + BLOCK_N * KM_VG) /* one buffer */

/* Token n's group among the tile's key parameters (kp's column). */
#if BLOCK_N % G == 0
#define km_kgroup(j0, n) ((n) / G)
#else
#define km_kgroup(j0, n) ((int)((j0) % G + (n)) / G)
#endif

/* x clamped to [0, hi]. */
LK_INLINE int km_clamp(long x, int hi)
{
    return x <= 0 ? 0 : x >= hi ? hi : (int)x;
}

/* One cp.async of vec (4, 2 or 1, a constant after inlining) words, the first `valid` of them
 * read (clamped to [0, vec]), the rest 0. */
LK_INLINE void km_copy(LK_LOCAL_PTR uint *dst, const LK_GLOBAL uint *src, int vec, int valid)
{
    const int bytes = 4 * km_clamp(valid, vec);
    const ulong from = LK_GLOBAL_ADDR(src);
    if (vec == 4)
        lk_cp_async16(LK_SMEM_ADDR(dst), from, bytes);
    else if (vec == 2)
        lk_cp_async8(LK_SMEM_ADDR(dst), from, bytes);
    else
        lk_cp_async4(LK_SMEM_ADDR(dst), from, bytes);
}

/* Chunk i of a section of rows of `words` words: row r = i / (words / vec) from src + r * stride
 * into dst + r * words, of which the first `valid` words of each row are read (the rest 0). */
LK_INLINE void km_copy_chunk(LK_LOCAL_PTR uint *dst, const LK_GLOBAL uint *src, long stride, int words, int valid,
                             int vec, int i)
{
    const int r = i / (words / vec), w = i % (words / vec) * vec;
    km_copy(dst + r * words + w, src + r * stride + w, vec, valid - w);
}

/* copies of each section (kw, kp: a row a channel; vw, vp: one run of the tile's tokens) */
#define KM_C_KW (KD * KM_KWT / KM_KW_VEC)
#define KM_C_KP (KD * KM_KG / KM_KP_VEC)
#define KM_C_VW (BLOCK_N * KM_VWT / KM_VW_VEC)
#define KM_C_VP (BLOCK_N * KM_VG / KM_VP_VEC)

/* Starts copying the words of the tile at j0 into buf (KM_WORDS; 0 past the quantized
 * prefixes) and commits them as one cp.async group. One loop over the copies of all four
 * sections (its bound not a multiple of WG: a few registers, where a loop a section unrolled
 * kept every section's addresses live through the products). */
LK_INLINE void kivi_mma_stage(const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params,
                              const LK_GLOBAL uint *v_codes, const LK_GLOBAL half *v_params, long cap, int bh,
                              long j0, long nk, long nv, LK_LOCAL_PTR uint *buf)
{
    const LK_GLOBAL uint *kpar = (const LK_GLOBAL uint *)k_params, *vpar = (const LK_GLOBAL uint *)v_params;
    const long g0 = j0 / G; /* nk is a multiple of R */
    const int kwords = km_clamp((nk - j0) / CPW_K, KM_KWT), kgroups = km_clamp(nk / G - g0, KM_KG);
    const int vtokens = km_clamp(nv - j0, BLOCK_N);
#pragma unroll 1
    for (int e = LK_DEC_TID; e < KM_C_KW + KM_C_KP + KM_C_VW + KM_C_VP; e += WG) {
        if (e < KM_C_KW)
            km_copy_chunk(buf, k_codes + (long)bh * KD * (cap / CPW_K) + j0 / CPW_K, cap / CPW_K, KM_KWT, kwords,
                          KM_KW_VEC, e);
        else if (e < KM_C_KW + KM_C_KP)
            km_copy_chunk(buf + KM_OFF_KP, kpar + (long)bh * KD * (cap / G) + g0, cap / G, KM_KG, kgroups,
                          KM_KP_VEC, e - KM_C_KW);
        else if (e < KM_C_KW + KM_C_KP + KM_C_VW)
            km_copy_chunk(buf + KM_OFF_VW, v_codes + ((long)bh * cap + j0) * KM_VWT, 0, BLOCK_N * KM_VWT,
                          vtokens * KM_VWT, KM_VW_VEC, e - KM_C_KW - KM_C_KP);
        else
            km_copy_chunk(buf + KM_OFF_VP, vpar + ((long)bh * cap + j0) * KM_VG, 0, BLOCK_N * KM_VG, vtokens * KM_VG,
                          KM_VP_VEC, e - KM_C_KW - KM_C_KP - KM_C_VW);
    }
    lk_cp_async_commit();
}

/* f16x2 of residual elements i and i + step of res (0 where the token is past n). */
LK_INLINE uint kivi_mma_residual(const LK_GLOBAL half *res, long i, long step, int lo_ok, int hi_ok)
{
    return lk_pack_half2(lo_ok ? lk_half_to_float(res, i) : 0.0f, hi_ok ? lk_half_to_float(res, i + step) : 0.0f);
}

#endif
