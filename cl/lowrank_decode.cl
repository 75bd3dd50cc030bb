/* lowrank_decode.cl: decode attention over a low-rank latent cache (Palu) whose latents are
 * KIVI-quantized (kivi_quant.cl layout, KD = RK channels); keys are rebuilt tile by tile with
 * RoPE inside the kernel, values stay latent. Splits are merged by decode_combine.cl; tile math
 * and partial layout: decode_split.h, with D = max(HD, RK):
 *
 *   q       [B, Hq, HD]       lk_t, strides (qsb, qsh, qsd), already rotated
 *   up_k    [Hkv, RK, HD]     lk_t, contiguous: key of kv head j = latent . up_k[j]
 *   latents sequence-head bh = b * groups + j / HPG of the latent cache
 *   part    partial records over D channels; channels < RK hold p . latent (the caller
 *           multiplies by up_v), the rest stay 0
 *
 *   grid: dim 0 = splits, dim 1 = B * Hkv; work-group = WG work-items, kv head j and its QG
 *   query heads. Three variants (DIRECT, tuned):
 *
 *   0  tiles, per tile of BLOCK_N tokens:
 *     1. vs[n][c]  <- key latent of token j0+n, channel c < RK   (kivi_tiles.h word loader)
 *     2. ks[n][d]  <- rope(sum_c vs[n][c] up_k[j][c][d]) for d < HD, 0 beyond  (a work-item
 *                     step rebuilds one RoPE pair (both elements) of LR_TB tokens, so each
 *                     up_k element it loads serves LR_TB tokens)
 *     3. vs[n][c]  <- value latent of token j0+n (c < RK, word loader), 0 beyond
 *     4. lk_dec_attend_tile: scores (q rows are 0 beyond HD), softmax, p . vs
 *   2  tensor cores (NVIDIA cc 8+, f16): the latent words staged as in the KIVI decode; each
 *      warp rebuilds its own 16-token m-tiles' keys, RoPE and q.k on mma.m16n8k16 fragments in
 *      registers (lowrank_mma.h), then decode_mma.h's online softmax and p . latent; the latent
 *      fragments built pair by pair from the words (kivi_direct_mma.h)
 *   3  the same, the latent fragments read by ldmatrix from f16 tiles (kivi_tiles_mma.h).
 */
#include "portable.h"
#include "rope_math.h"
#include "decode_split.h"
#ifndef RK
#define RK 64 /* latent rank */
#endif
#define KD RK
#include "kivi_tiles.h"

#ifndef HD
#define HD 128
#endif
#ifndef ROPE
#define ROPE 0
#endif
#define LR_TB (BLOCK_N < 4 ? BLOCK_N : 4) /* tokens per work-item in the key rebuild */
#ifndef DIRECT
#define DIRECT 0
#endif
#if DIRECT >= 2
#define DEC_MMA_DV RK
#if DIRECT == 2
#include "kivi_direct_mma.h"
#else
#include "kivi_tiles_mma.h"
#endif
#include "lowrank_mma.h"
#endif

LK_KERNEL LK_WG_SIZE(WG) void lowrank_decode(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qsd, const LK_GLOBAL lk_t *up_k, long upk_off,
    const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params, const LK_GLOBAL half *k_res,
    const LK_GLOBAL uint *v_codes, const LK_GLOBAL half *v_params, const LK_GLOBAL half *v_res,
    long cap, long n, long nk, long nv, const LK_GLOBAL float *freq, int layout, long pos_offset,
    LK_GLOBAL float *part, long nrec, int Hq, int Hkv, int HPG, float scale_log2)
{
#if DIRECT >= 2
    DEC_MMA_LOCALS;
    KIVI_MMA_LOCALS;
    LOWRANK_MMA_LOCALS;
#else
    LK_DEC_LOCALS;
#endif

    const int tid = get_local_id(0), split = get_group_id(0), splits = get_num_groups(0);
    const int b = get_group_id(1) / Hkv, j = get_group_id(1) % Hkv, hq0 = j * QG;
    const int bh = b * (Hkv / HPG) + j / HPG;
    const LK_GLOBAL lk_t *a = up_k + upk_off + (long)j * RK * HD;

    for (int t = tid; t < LK_DEC_NQ * D; t += WG) {
        int d = t % D;
        qs[t] = d < HD ? lk_ld(q, q_off + b * qsb + (long)(hq0 + t / D) * qsh + d * qsd) * scale_log2 : 0.0f;
    }
    const int ntiles = (int)((n + BLOCK_N - 1) / BLOCK_N);
    const int t0 = lk_dec_split_first(ntiles, splits, split), t1 = lk_dec_split_first(ntiles, splits, split + 1);
#if DIRECT >= 2
    lowrank_mma_begin(a, freq, ub, rf);
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
        DEC_MMA_FOR_MTILES(n0, ntok) {
            float c[4];
            lowrank_mma_scores(&src, ub, rf, &wp, layout, pos_offset + j0, n0, c);
            dec_mma_attend(&src, n0, ntok, c, &wp);
        }
#else
        kivi_load_keys(k_codes, k_params, k_res, cap, bh, j0, ntok, nk, vs, LK_DEC_VROW);
        lk_barrier();
        for (int e0 = 0; e0 < (ntok + LR_TB - 1) / LR_TB * (D - HD / 2); e0 += WG) {
            int e = e0 + tid, kn0 = e / (D - HD / 2) * LR_TB, i = e % (D - HD / 2);
            if (kn0 >= ntok)
                continue;
            if (i >= HD / 2) { /* channels past the head (only when RK > HD) */
                for (int u = 0; u < LR_TB; u++)
                    if (kn0 + u < ntok)
                        ks[(kn0 + u) * LK_DEC_KROW + i + HD / 2] = 0.0f;
                continue;
            }
            int d1 = lk_rope_first(layout, i, HD), d2 = lk_rope_second(layout, i, HD);
            float x1[LR_TB], x2[LR_TB];
            for (int u = 0; u < LR_TB; u++)
                x1[u] = x2[u] = 0.0f;
            for (int c = 0; c < RK; c++) {
                float a1 = lk_ld(a, (long)c * HD + d1), a2 = lk_ld(a, (long)c * HD + d2);
                for (int u = 0; u < LR_TB; u++) { /* rows past ntok hold stale latents: never stored */
                    float l = vs[(kn0 + u) * LK_DEC_VROW + c];
                    x1[u] = lk_fma(l, a1, x1[u]);
                    x2[u] = lk_fma(l, a2, x2[u]);
                }
            }
            for (int u = 0; u < LR_TB; u++) { /* a constant trip count: x1, x2 stay in registers */
                if (kn0 + u >= ntok)
                    continue;
#if ROPE
                float cs, sn;
                lk_rope_sincos((int)(pos_offset + j0 + kn0 + u), freq[2 * i], freq[2 * i + 1], &cs, &sn);
                lk_rope_rotate(&x1[u], &x2[u], cs, sn);
#endif
                ks[(kn0 + u) * LK_DEC_KROW + d1] = x1[u];
                ks[(kn0 + u) * LK_DEC_KROW + d2] = x2[u];
            }
        }
        lk_barrier();
        kivi_load_values(v_codes, v_params, v_res, cap, bh, j0, ntok, nv, vs, LK_DEC_VROW);
#if D > RK /* channels past the rank */
        for (int e = tid; e < ntok * (D - RK); e += WG)
            vs[e / (D - RK) * LK_DEC_VROW + RK + e % (D - RK)] = 0.0f;
#endif
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
