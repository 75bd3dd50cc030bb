/* kivi_direct.h: the score and p.V phases of kivi_decode.cl's DIRECT variant, which read a
 * KIVI cache (layout: kivi_quant.cl) straight from its packed words instead of dequantizing
 * tiles into local memory first (kivi_tiles.h). The softmax between them, the accumulators and
 * the partials are decode_split.h's. The includer defines KD (= D), BLOCK_N, WG and QG.
 *
 * Tile: tokens [j0, j0 + ntok), BLOCK_N at most; nk / nv: keys / values quantized (t < nk
 * codes, else the fp16 residual ring, slot t % R). nk is a multiple of R, hence of G.
 *
 * scores   unit (run u, slice z), u = unit % KIVI_NRUN, z = unit / KIVI_NRUN:
 *          the run's KIVI_TPI tokens t0 = j0 + u*TPI .. t0 + TPI against channels
 *          c = z, z + NZ, ... of the head; per channel ONE word and ONE (scale, min) pair:
 *
 *            k_codes[bh][c][t0 / CPW_K]  |code t0+TPI-1| ... |code t0+1|code t0|  (>> t0 % CPW_K)
 *
 *          (TPI divides CPW_K and G, so a run never straddles a word, a group or nk).
 *          s[i][h] = sum_c q[h][c] k[t0+i][c]  ->  sp[z][n][h], NZ partials per score.
 *          TPI: CPW_K, at most LK_DEC_RUN_MAX = 16 / QG (accumulators; ptxas sm_90, D 128,
 *          QG 4, 2-bit: 91 registers, against 122 with 32 / QG), at most BLOCK_N.
 * p.V      work-item (quad c, token group g) of decode_split.h: per token ONE word
 *          v_codes[bh][t][4c / CPW_V] (>> (4c % CPW_V) * BITS_V) holds the quad's 4 codes
 *          (CPW_V >= 4) and ONE (scale, min) pair serves them (G >= 4).
 */
#ifndef LK_KIVI_DIRECT_H
#define LK_KIVI_DIRECT_H

#include "kivi_cache.h"

#define KIVI_TPI_W (CPW_K < LK_DEC_RUN_MAX ? CPW_K : LK_DEC_RUN_MAX)
#define KIVI_TPI (BLOCK_N < KIVI_TPI_W ? BLOCK_N : KIVI_TPI_W)
#define KIVI_NRUN (BLOCK_N / KIVI_TPI)
#define KIVI_NZ LK_DEC_SLICES(KIVI_TPI)

/* Partial scores of the tile: sp[(z * BLOCK_N + n) * QG + h] for every slice z < NZ and token
 * n < BLOCK_N (0 past ntok). Ends with a barrier. */
LK_INLINE void kivi_direct_scores(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params,
                                  const LK_GLOBAL half *res, long cap, int bh, long j0, int ntok, long nk,
                                  const LK_LOCAL_PTR float *qs, LK_LOCAL_PTR float *sp)
{
    for (int unit0 = 0; unit0 < KIVI_NRUN * KIVI_NZ; unit0 += WG) {
        int unit = unit0 + (int)get_local_id(0), u = unit % KIVI_NRUN, z = unit / KIVI_NRUN;
        if (unit >= KIVI_NRUN * KIVI_NZ)
            continue;
        const long t0 = j0 + u * KIVI_TPI;
        float s[KIVI_TPI * QG];
        for (int i = 0; i < KIVI_TPI * QG; i++)
            s[i] = 0.0f;
        if (t0 < nk) {
            const int shift = (int)(t0 % CPW_K) * BITS_K;
            for (int c = z; c < KD; c += KIVI_NZ) {
                long row = (long)bh * KD + c, p = row * (cap / G) + t0 / G;
                uint w = codes[row * (cap / CPW_K) + t0 / CPW_K] >> shift;
                float scale = param_scale(params, p), mn = param_min(params, p);
                for (int i = 0; i < KIVI_TPI; i++, w >>= BITS_K)
                    lk_dec_run_fma(s, i, qs, c, lk_quant_dequant(w & (uint)lk_quant_levels(BITS_K), scale, mn));
            }
        } else {
            for (int c = z; c < KD; c += KIVI_NZ)
                for (int i = 0; i < KIVI_TPI; i++)
                    lk_dec_run_fma(s, i, qs, c,
                                   t0 + i < j0 + ntok ? lk_half_to_float(res, ((long)bh * R + (t0 + i) % R) * KD + c)
                                                      : 0.0f);
        }
        lk_dec_run_store(sp, z, u * KIVI_TPI, KIVI_TPI, s);
    }
    lk_barrier();
}

/* p.V of the tile (after lk_dec_softmax): acc += p v over its tokens. Ends with a barrier. */
LK_INLINE void kivi_direct_pv(const LK_GLOBAL uint *codes, const LK_GLOBAL half *params, const LK_GLOBAL half *res,
                              long cap, int bh, long j0, int ntok, long nv, LK_LOCAL_PTR float *sp,
                              LK_LOCAL_PTR float *st, float *acc)
{
    for (int k = 0; k < LK_DEC_QPT; k++) {
        int c, j;
        if (!lk_dec_pv_quad(st, k, acc, &c, &j))
            continue;
        const int shift = (4 * c % CPW_V) * BITS_V;
        for (int n = LK_DEC_TID / LK_DEC_NQUAD; n < ntok; n += LK_DEC_TG) {
            long t = j0 + n, row = (long)bh * cap + t;
            float v4[4];
            if (t < nv) {
                long p = row * (KD / G) + 4 * c / G;
                uint w = codes[row * (KD / CPW_V) + 4 * c / CPW_V] >> shift;
                float scale = param_scale(params, p), mn = param_min(params, p);
                for (int e = 0; e < 4; e++, w >>= BITS_V)
                    v4[e] = lk_quant_dequant(w & (uint)lk_quant_levels(BITS_V), scale, mn);
            } else {
                for (int e = 0; e < 4; e++)
                    v4[e] = lk_half_to_float(res, ((long)bh * R + t % R) * KD + 4 * c + e);
            }
            lk_dec_pv_add(sp, n, j, k, v4, acc);
        }
    }
    lk_barrier();
}

#endif
