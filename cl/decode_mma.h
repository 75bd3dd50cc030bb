/* decode_mma.h: split decode attention on tensor cores (mma.m16n8k16, mma_nv.h; NVIDIA cc 8+),
 * warp by warp. The query heads of one kv head (QG <= 8, KVH 1) are the 8 columns of the mma, so a
 * head costs no FMA per element. Each warp owns the 16-token m-tiles w, w + NW, ... of every tile
 * of its split and keeps its own online softmax in registers: a tile needs no barrier between its
 * scores and its p.V and no scores in local memory; the NW warps merge once per split
 * (dec_mma_store). Shared by the compressed caches' DIRECT = 2 kernels (kivi_direct_mma.h,
 * kv_sparse_direct_mma.h, lowrank_mma.h), which define before including this file:
 *
 *   DEC_MMA_SRC                    their cache view (a struct type)
 *   dec_mma_key(src, n, c)         f16x2 (k[n][c], k[n + 8][c])  for tile rows n, n + 8, n % 16 < 8
 *   dec_mma_value(src, n, c)       f16x2 (v[n][c], v[n][c + 8])  for channels c, c + 8, c % 16 < 8
 *                                  (0 for tokens past the tile's end)
 *   or DEC_MMA_FRAGMENTS and whole A fragments: dec_mma_key_frag(src, n0, ks, a) of K (tile rows
 *                                  n0.., channels 16 ks..), dec_mma_value_frag(src, n0, mc, a) of
 *                                  V^T (channels 16 mc.., tile rows n0..)
 *   DEC_MMA_DV (optional)          the value channels, D by default (the low-rank decode's
 *                                  latents: fewer than the D channels of its partial records,
 *                                  whose channels past DV are stored as 0)
 * D, DV and BLOCK_N multiples of 16, WG a multiple of 32; lane = 4 g + t, warp w of NW = WG / 32.
 *
 * One m-tile (tile rows n0 .. n0 + 15) of one warp (DEC_MMA_FOR_MTILES):
 *   scores  S^T [16 tokens x 8 heads] = K [16 tokens x D] . Q^T [D x 8 heads], D / 16 k-steps:
 *             y_c = (k[g][c], k[g+8][c])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(y_2t), hi(y_2t+1)
 *           (a2, a3 the same at c + 8); B = qf, q as f16 pairs in registers. C: s[g][2t],
 *           s[g][2t+1], s[g+8][2t], s[g+8][2t+1]. (A kernel with its own score phase,
 *           lowrank_mma.h, hands its C fragment to dec_mma_attend.)
 *   softmax lane (g, t) keeps heads 2t, 2t + 1: the m-tile's max over its 16 tokens (shuffles
 *           over g), the running max m, alpha = 2^(m_old - m), p = 2^(s - m); l, the sum of p,
 *           per lane (its own tokens), summed over g at the merge. Rows past the tile's end: -inf.
 *   P^T     the B fragment of p.V, b0 = (p[2t][g], p[2t+1][g]), b1 = (p[2t+8][g], p[2t+9][g]):
 *           p as f16 pairs (lo: token g, hi: token g + 8; heads 2t, 2t + 1), four shuffles from
 *           lanes 8t + g/2 and 8t + 4 + g/2, the head's half picked by one prmt per register
 *   p.V     O^T [16 channels x 8 heads] += V^T [16 channels x 16 tokens] . P^T for each of the
 *           DV / 16 channel m-tiles mc, after o *= alpha:
 *             y_n = (v[n][16mc+g], v[n][16mc+g+8])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(...)
 *           o[mc]: channels 16mc + g, + 8 of heads 2t, 2t + 1
 * merge   (m, l) of every warp through dm_ml [NW][m of 8 heads, l of 8 heads]; o scaled by
 *         2^(m_w - M) and summed warp by warp into qs (free after dec_mma_begin); the records.
 */
#ifndef LK_DECODE_MMA_H
#define LK_DECODE_MMA_H

#include "mma_nv.h"

#define DM_NW (WG / 32)
#define DM_KS (D / 16)
#ifndef DEC_MMA_DV
#define DEC_MMA_DV D
#endif
#define DM_VT (DEC_MMA_DV / 16) /* value channel m-tiles */

/* q, scaled by scale * log2(e) (the kernel fills it), later the merged o; the warps' (m, l). */
#define DEC_MMA_LOCALS                                                                                                 \
    LK_SHARED float qs[QG * D] __attribute__((aligned(16)));                                                           \
    LK_SHARED float dm_ml[DM_NW * 16]

/* This warp's m-tiles n0 of a tile of ntok tokens. */
#define DEC_MMA_FOR_MTILES(n0, ntok) for (int n0 = 16 * (LK_DEC_TID / 32); n0 < (ntok); n0 += 16 * DM_NW)

/* A lane's share of its warp's running state, for heads 2t and 2t + 1. */
typedef struct dec_mma_warp {
    float m[2];            /* running max of the warp's tokens (exp2 domain) */
    float l[2];            /* sum of p over this lane's tokens */
    float o[DM_VT][4];     /* O^T C fragments */
    uint qf[DM_KS][2];     /* Q^T B fragments: (q[g][16ks+2t], +1), (q[g][16ks+2t+8], +9) */
} dec_mma_warp;

/* The state before the first tile, q from qs (filled, then a barrier; heads past QG are 0). */
LK_INLINE void dec_mma_begin(const LK_LOCAL_PTR float *qs, dec_mma_warp *wp)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
#pragma unroll
    for (int ks = 0; ks < DM_KS; ks++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int c = 16 * ks + 2 * t + 8 * r;
            wp->qf[ks][r] = g < QG ? lk_pack_half2(qs[g * D + c], qs[g * D + c + 1]) : 0u;
        }
#pragma unroll
    for (int h = 0; h < 2; h++) {
        wp->m[h] = -INFINITY;
        wp->l[h] = 0.0f;
    }
#pragma unroll
    for (int mc = 0; mc < DM_VT; mc++)
        wp->o[mc][0] = wp->o[mc][1] = wp->o[mc][2] = wp->o[mc][3] = 0.0f;
}

#ifndef DEC_MMA_FRAGMENTS
/* The A fragment of four f16x2 pairs y (rows or columns 2t, 2t+1, 2t+8, 2t+9 of the k-step,
 * each pairing element g with element g + 8). */
LK_INLINE void dec_mma_regroup(const uint *y, uint *a)
{
    a[0] = lk_prmt(y[0], y[1], 0x5410);
    a[1] = lk_prmt(y[0], y[1], 0x7632);
    a[2] = lk_prmt(y[2], y[3], 0x5410);
    a[3] = lk_prmt(y[2], y[3], 0x7632);
}

/* The A fragment of K (rows: tile rows n0.., columns: channels 16 ks..) from dec_mma_key. */
LK_INLINE void dec_mma_key_frag(const DEC_MMA_SRC *src, int n0, int ks, uint *a)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    uint y[4];
    for (int i = 0; i < 4; i++)
        y[i] = dec_mma_key(src, n0 + g, 16 * ks + 2 * t + (i & 1) + 8 * (i >> 1));
    dec_mma_regroup(y, a);
}

/* The A fragment of V^T (rows: channels 16 mc.., columns: tile rows n0..) from dec_mma_value. */
LK_INLINE void dec_mma_value_frag(const DEC_MMA_SRC *src, int n0, int mc, uint *a)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    uint y[4];
    for (int i = 0; i < 4; i++)
        y[i] = dec_mma_value(src, n0 + 2 * t + (i & 1) + 8 * (i >> 1), 16 * mc + g);
    dec_mma_regroup(y, a);
}
#endif

/* Scores of the m-tile at n0: c = (s[g][2t], s[g][2t+1], s[g+8][2t], s[g+8][2t+1]). */
LK_INLINE void dec_mma_key_scores(const DEC_MMA_SRC *src, int n0, const dec_mma_warp *wp, float *c)
{
    c[0] = c[1] = c[2] = c[3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < DM_KS; ks++) {
        uint a[4];
        dec_mma_key_frag(src, n0, ks, a);
        lk_mma16816(c, a, wp->qf[ks][0], wp->qf[ks][1]);
    }
}

/* The online softmax and p.V of the m-tile at n0 (n0 < ntok) with scores c. */
LK_INLINE void dec_mma_attend(const DEC_MMA_SRC *src, int n0, int ntok, float *c, dec_mma_warp *wp)
{
    const int lane = LK_DEC_TID % 32, g = lane / 4, t = lane % 4;
    if (n0 + g >= ntok)
        c[0] = c[1] = -INFINITY;
    if (n0 + g + 8 >= ntok)
        c[2] = c[3] = -INFINITY;
    float alpha[2], p[4];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float mx = lk_fmax(c[h], c[h + 2]);
        mx = lk_fmax(mx, lk_shfl_xor(mx, 4));
        mx = lk_fmax(mx, lk_shfl_xor(mx, 8));
        mx = lk_fmax(mx, lk_shfl_xor(mx, 16));
        const float m = lk_fmax(wp->m[h], mx); /* finite: row n0 is a token */
        alpha[h] = lk_exp2_approx(wp->m[h] - m); /* m_old = -inf: 0 */
        wp->m[h] = m;
        p[h] = lk_exp2_approx(c[h] - m);
        p[h + 2] = lk_exp2_approx(c[h + 2] - m);
        wp->l[h] = wp->l[h] * alpha[h] + (p[h] + p[h + 2]);
    }
#pragma unroll
    for (int mc = 0; mc < DM_VT; mc++) {
        wp->o[mc][0] *= alpha[0];
        wp->o[mc][1] *= alpha[1];
        wp->o[mc][2] *= alpha[0];
        wp->o[mc][3] *= alpha[1];
    }
    const uint lo = lk_pack_half2(p[0], p[1]), hi = lk_pack_half2(p[2], p[3]);
    const int from = 8 * t + g / 2;
    const uint sel = g % 2 ? 0x7632u : 0x5410u;
    const uint b0 = lk_prmt(lk_shfl_idx(lo, from), lk_shfl_idx(lo, from + 4), sel);
    const uint b1 = lk_prmt(lk_shfl_idx(hi, from), lk_shfl_idx(hi, from + 4), sel);
#pragma unroll
    for (int mc = 0; mc < DM_VT; mc++) {
        uint a[4];
        dec_mma_value_frag(src, n0, mc, a);
        lk_mma16816(wp->o[mc], a, b0, b1);
    }
}

/* This warp's m-tiles of a tile of ntok tokens, scored from the key fragments. */
LK_INLINE void dec_mma_attend_tile(const DEC_MMA_SRC *src, int ntok, dec_mma_warp *wp)
{
    DEC_MMA_FOR_MTILES(n0, ntok) {
        float c[4];
        dec_mma_key_scores(src, n0, wp, c);
        dec_mma_attend(src, n0, ntok, c, wp);
    }
}

/* Merges the warps' states and writes the split's partial records (decode_split.h layout;
 * channels past DV are 0). Every work-item calls it after its last tile. */
LK_INLINE void dec_mma_store(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits, int split,
                             LK_LOCAL_PTR float *qs, LK_LOCAL_PTR float *ml, dec_mma_warp *wp)
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        wp->l[h] += lk_shfl_xor(wp->l[h], 4);
        wp->l[h] += lk_shfl_xor(wp->l[h], 8);
        wp->l[h] += lk_shfl_xor(wp->l[h], 16);
        if (g == 0) {
            ml[w * 16 + 2 * t + h] = wp->m[h];
            ml[w * 16 + 8 + 2 * t + h] = wp->l[h];
        }
    }
    lk_barrier();
    float f[2]; /* 2^(m_w - M): this warp's share of head 2t + h */
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float M = -INFINITY;
        for (int v = 0; v < DM_NW; v++)
            M = lk_fmax(M, ml[v * 16 + 2 * t + h]);
        f[h] = wp->m[h] == -INFINITY ? 0.0f : lk_exp2_approx(wp->m[h] - M);
    }
    for (int v = 0; v < DM_NW; v++) {
        if (w == v) {
#pragma unroll
            for (int mc = 0; mc < DM_VT; mc++)
                for (int e = 0; e < 4; e++) {
                    const int h = 2 * t + (e & 1), ch = 16 * mc + g + 8 * (e >> 1);
                    if (h < QG)
                        qs[h * D + ch] = (v ? qs[h * D + ch] : 0.0f) + wp->o[mc][e] * f[e & 1];
                }
        }
        lk_barrier();
    }
    const long row0 = (long)b * Hq + hq0;
    for (int e = LK_DEC_TID; e < QG * D; e += WG)
        part[((row0 + e / D) * splits + split) * D + e % D] = e % D < DEC_MMA_DV ? qs[e] : 0.0f;
    for (int h = LK_DEC_TID; h < QG; h += WG) {
        float M = -INFINITY, L = 0.0f;
        for (int v = 0; v < DM_NW; v++)
            M = lk_fmax(M, ml[v * 16 + h]);
        for (int v = 0; v < DM_NW; v++)
            if (ml[v * 16 + h] != -INFINITY)
                L += ml[v * 16 + 8 + h] * lk_exp2_approx(ml[v * 16 + h] - M);
        const long rec = (row0 + h) * splits + split;
        part[nrec * D + 2 * rec] = M;
        part[nrec * D + 2 * rec + 1] = L;
    }
}

#endif
