/* kivi_decode.cl: decode attention over a KIVI cache, split over tokens; the splits are merged
 * by decode_combine.cl. Cache layout: kivi_quant.cl. Tile math and partial layout: decode_split.h.
 *
 *   q     [B, Hq, D]   storage lk_t, element strides (qsb, qsh, qsd)
 *   part  partial records (decode_split.h), nrec = B * Hq * splits
 *   n tokens per sequence; keys t < nk come from k_codes/k_params, later ones from the fp16 tail
 *   k_res; values t < nv from v_codes/v_params, later ones from the fp16 window v_res.
 *
 *   grid: dim 0 = splits, dim 1 = B * Hkv; work-group = WG work-items, one kv head and its QG
 *   query heads, over tiles of BLOCK_N tokens. Four variants (DIRECT, tuned):
 *
 *   0  tiles: each tile is dequantized into fp32 local memory by the word loaders of
 *      kivi_tiles.h (one packed word per work-item),
 *        ks[n][d]  key of token j0+n, channel d   a word: up to 32/BITS_K tokens of one channel
 *        vs[n][d]  value of token j0+n            a word: 32/BITS_V channels of one token
 *      then lk_dec_attend_tile does q.k, the online softmax and p.v for the QG heads.
 *   1  direct: the score and p.V phases read the words themselves (kivi_direct.h), with
 *      lk_dec_softmax between them; no K or V tile in local memory.
 *   2  tensor cores (NVIDIA cc 8+, f16 q): the tile's words staged in local memory, each warp
 *      its own 16-token m-tiles on mma.m16n8k16 with the QG heads as the 8 columns and its own
 *      online softmax (decode_mma.h), its fragments built pair by pair from the words
 *      (kivi_direct_mma.h)
 *   3  the same products, their fragments read by ldmatrix from f16 tiles that every work-item
 *      fills from whole words first (kivi_tiles_mma.h).
 */
#include "portable.h"
#include "decode_split.h"
#define KD D /* the cache's channels are the head_dim */
#include "kivi_tiles.h"
#include "kivi_direct.h"

#ifndef DIRECT
#define DIRECT 0
#endif
#if DIRECT == 2
#include "kivi_direct_mma.h"
#elif DIRECT == 3
#include "kivi_tiles_mma.h"
#endif

LK_KERNEL LK_WG_SIZE(WG) void kivi_decode(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qsd,
    const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params, const LK_GLOBAL half *k_res,
    const LK_GLOBAL uint *v_codes, const LK_GLOBAL half *v_params, const LK_GLOBAL half *v_res,
    long cap, long n, long nk, long nv, LK_GLOBAL float *part, long nrec, int Hq, int Hkv, float scale_log2)
{
#if DIRECT >= 2
    DEC_MMA_LOCALS;
    KIVI_MMA_LOCALS;
#elif DIRECT
    LK_DEC_SOFTMAX_LOCALS(KIVI_NZ);
#else
    LK_DEC_LOCALS;
#endif

    const int tid = get_local_id(0), split = get_group_id(0), splits = get_num_groups(0);
    const int bh = get_group_id(1), b = bh / Hkv, hq0 = (bh % Hkv) * QG;

    for (int t = tid; t < LK_DEC_NQ * D; t += WG)
        qs[t] = lk_ld(q, q_off + b * qsb + (long)(hq0 + t / D) * qsh + (t % D) * qsd) * scale_log2;
    const int ntiles = (int)((n + BLOCK_N - 1) / BLOCK_N);
    const int t0 = lk_dec_split_first(ntiles, splits, split), t1 = lk_dec_split_first(ntiles, splits, split + 1);
#if DIRECT >= 2
    lk_barrier();
    dec_mma_warp wp;
    dec_mma_begin(qs, &wp);
#else
    float acc[LK_DEC_NACC];
    lk_dec_begin(st, acc);
    lk_barrier();
#endif

    for (int tile = t0; tile < t1; tile++) {
        long j0 = (long)tile * BLOCK_N;
        int ntok = n - j0 < BLOCK_N ? (int)(n - j0) : BLOCK_N;
#if DIRECT >= 2
        DEC_MMA_SRC src = kivi_mma_tile(k_codes, k_params, k_res, v_codes, v_params, v_res, cap, bh, n, nk, nv, tile, t0,
                                        t1, kmw);
        dec_mma_attend_tile(&src, ntok, &wp);
#elif DIRECT
        kivi_direct_scores(k_codes, k_params, k_res, cap, bh, j0, ntok, nk, qs, sp);
        lk_dec_softmax(sc, sp, st, ntok, KIVI_NZ, acc);
        kivi_direct_pv(v_codes, v_params, v_res, cap, bh, j0, ntok, nv, sp, st, acc);
#else
        kivi_load_keys(k_codes, k_params, k_res, cap, bh, j0, ntok, nk, ks, LK_DEC_KROW);
        kivi_load_values(v_codes, v_params, v_res, cap, bh, j0, ntok, nv, vs, LK_DEC_VROW);
        lk_barrier();
        lk_dec_attend_tile(qs, ks, vs, sc, sp, st, ntok, acc);
#endif
    }
#if DIRECT >= 2
    dec_mma_store(part, nrec, Hq, b, hq0, splits, split, qs, dm_ml, &wp);
#else
    lk_dec_store_partial(part, nrec, Hq, b, hq0, splits, split, qs, st, acc);
#endif
}
