/* decode_mma.h: split decode attention on tensor cores (mma.m16n8k16, mma_nv.h; NVIDIA cc 8+):
 * the score and p.V phases of a decode kernel whose query heads (QG <= 8, KVH 1) are the 8
 * columns of the mma, so a head costs no FMA per element. The softmax between them and the
 * partial records are decode_split.h's. Shared by the compressed caches' DIRECT = 2 kernels
 * (kivi_direct_mma.h, kv_sparse_direct_mma.h), which define before including this file:
 *
 *   DEC_MMA_SRC                    their cache view (a struct type)
 *   dec_mma_key(src, n, c)         f16x2 (k[n][c], k[n + 8][c])  for tile rows n, n + 8, n % 16 < 8
 *   dec_mma_value(src, n, c)       f16x2 (v[n][c], v[n][c + 8])  for channels c, c + 8, c % 16 < 8
 *                                  (0 for tokens past the tile's end)
 *   DEC_MMA_DV (optional)          the value channels, D by default (the low-rank decode's
 *                                  latents: fewer than the D channels of its partial records,
 *                                  whose channels past DV are stored as 0)
 * D, DV and BLOCK_N multiples of 16, WG a multiple of 32; lane = 4 g + t, warp w of NW = WG / 32.
 * A kernel with its own score phase (lowrank_mma.h) stores its C fragments by dec_mma_put_scores.
 *
 * scores  S^T [16 tokens x 8 heads] += K [16 tokens x 16 channels] . Q^T [16 channels x 8 heads]
 *         unit (m-tile mt, slice z): k-steps ks = z, z + NZ, ... (NZ = NW / MT when the warps
 *         outnumber the MT = BLOCK_N / 16 m-tiles); per channel pair the lane's pairs
 *           y_c = (k[g][c], k[g+8][c])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(y_2t), hi(y_2t+1)
 *         Q^T fragments from qh (q as f16 pairs). C (tokens g, g+8; heads 2t, 2t+1) -> sp[z][n][h].
 * softmax lk_dec_softmax, dq = NZ.
 * p.V     O^T [16 channels x 8 heads] += V^T [16 channels x 16 tokens] . P^T [16 tokens x 8 heads]
 *         warp w owns the channel m-tiles w, w + NW, ... of DV (accumulators o, rescaled by alpha):
 *           y_n = (v[n][g], v[n][g+8])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(y_2t), hi(y_2t+1)
 *         warp 0 also sums p into l (st[NQ + h]).
 */
#ifndef LK_DECODE_MMA_H
#define LK_DECODE_MMA_H

#include "mma_nv.h"

#define DM_NW (WG / 32)
#define DM_MT (BLOCK_N / 16)
#define DM_NZ (DM_NW >= DM_MT ? DM_NW / DM_MT : 1)
#define DM_KS (D / 16)
#ifndef DEC_MMA_DV
#define DEC_MMA_DV D
#endif
#define DM_VT (DEC_MMA_DV / 16)              /* value channel m-tiles */
#define DM_OPW ((DM_VT + DM_NW - 1) / DM_NW) /* channel m-tiles per warp in p.V */

#define DEC_MMA_LOCALS LK_SHARED uint qh[8 * (D / 2)]

/* q as f16 pairs, qh[h][c / 2] = (q[h][c], q[h][c + 1]) for 8 heads (0 past QG): lane (g, t)
 * reads its Q^T fragment of k-step ks at qh[g][8 ks + t] and qh[g][8 ks + t + 4]. Zeroes o.
 * Ends with a barrier. */
LK_INLINE void dec_mma_begin(const LK_LOCAL_PTR float *qs, LK_LOCAL_PTR uint *qh, float (*o)[4])
{
    for (int e = LK_DEC_TID; e < 8 * (D / 2); e += WG) {
        int h = e / (D / 2), c = 2 * (e % (D / 2));
        qh[e] = h < QG ? lk_pack_half2(qs[h * D + c], qs[h * D + c + 1]) : 0u;
    }
#pragma unroll
    for (int m = 0; m < DM_OPW; m++)
        o[m][0] = o[m][1] = o[m][2] = o[m][3] = 0.0f;
    lk_barrier();
}

/* The A fragment of four f16x2 pairs y (rows or columns 2t, 2t+1, 2t+8, 2t+9 of the k-step,
 * each pairing element g with element g + 8). */
LK_INLINE void dec_mma_regroup(const uint *y, uint *a)
{
    a[0] = lk_prmt(y[0], y[1], 0x5410);
    a[1] = lk_prmt(y[0], y[1], 0x7632);
    a[2] = lk_prmt(y[2], y[3], 0x5410);
    a[3] = lk_prmt(y[2], y[3], 0x7632);
}

/* Slice z's C fragment c of the m-tile at token n0 (tokens g, g + 8; heads 2t, 2t + 1) into
 * sp[(z * BLOCK_N + n) * QG + h] for h < QG. */
LK_INLINE void dec_mma_put_scores(LK_LOCAL_PTR float *sp, int z, int n0, const float *c)
{
    const int g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int e = 0; e < 4; e++) {
        int h = 2 * t + (e & 1), n = n0 + g + 8 * (e >> 1);
        if (h < QG)
            sp[(z * BLOCK_N + n) * QG + h] = c[e];
    }
}

/* Partial scores of the tile: sp[(z * BLOCK_N + n) * QG + h] for every slice z < NZ, token n and
 * head h < QG. Ends with a barrier. */
LK_INLINE void dec_mma_scores(const DEC_MMA_SRC *src, const LK_LOCAL_PTR uint *qh, LK_LOCAL_PTR float *sp)
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int u = w; u < DM_MT * DM_NZ; u += DM_NW) {
        const int n0 = (u % DM_MT) * 16, z = u / DM_MT;
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int ks = z; ks < DM_KS; ks += DM_NZ) {
            uint y[4], a[4];
            for (int i = 0; i < 4; i++)
                y[i] = dec_mma_key(src, n0 + g, 16 * ks + 2 * t + (i & 1) + 8 * (i >> 1));
            dec_mma_regroup(y, a);
            lk_mma16816(c, a, qh[g * (D / 2) + 8 * ks + t], qh[g * (D / 2) + 8 * ks + t + 4]);
        }
        dec_mma_put_scores(sp, z, n0, c);
    }
    lk_barrier();
}

/* p.V of the tile (after lk_dec_softmax): o = o * alpha + V^T P^T over the warp's channel
 * m-tiles; warp 0 adds the tile's sum of p to l. Ends with a barrier. */
LK_INLINE void dec_mma_pv(const DEC_MMA_SRC *src, const LK_LOCAL_PTR float *sp, LK_LOCAL_PTR float *st, float (*o)[4])
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    const float alpha0 = 2 * t < QG ? st[2 * QG + 2 * t] : 0.0f, alpha1 = 2 * t + 1 < QG ? st[2 * QG + 2 * t + 1] : 0.0f;
#pragma unroll
    for (int m = 0; m < DM_OPW; m++) {
        o[m][0] *= alpha0;
        o[m][1] *= alpha1;
        o[m][2] *= alpha0;
        o[m][3] *= alpha1;
    }
    float psum = 0.0f;
    for (int ks = 0; ks < DM_MT; ks++) {
        const int n = 16 * ks + 2 * t;
        float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (g < QG) {
            p[0] = sp[n * QG + g];
            p[1] = sp[(n + 1) * QG + g];
            p[2] = sp[(n + 8) * QG + g];
            p[3] = sp[(n + 9) * QG + g];
        }
        psum += (p[0] + p[1]) + (p[2] + p[3]);
        const uint b0 = lk_pack_half2(p[0], p[1]), b1 = lk_pack_half2(p[2], p[3]);
#pragma unroll
        for (int m = 0; m < DM_OPW; m++) { /* unrolled: o stays in registers */
            const int mc = w + m * DM_NW;
            if (mc < DM_VT) {
                uint y[4], a[4];
                for (int i = 0; i < 4; i++)
                    y[i] = dec_mma_value(src, n + (i & 1) + 8 * (i >> 1), 16 * mc + g);
                dec_mma_regroup(y, a);
                lk_mma16816(o[m], a, b0, b1);
            }
        }
    }
    psum += lk_shfl_xor(psum, 1);
    psum += lk_shfl_xor(psum, 2);
    if (w == 0 && t == 0 && g < QG)
        st[QG + g] = st[QG + g] * st[2 * QG + g] + psum;
    lk_barrier();
}

/* The split's partial records (decode_split.h layout) from o and st; channels past DV are 0. */
LK_INLINE void dec_mma_store(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits, int split,
                             const LK_LOCAL_PTR float *st, float (*o)[4])
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
#pragma unroll
    for (int m = 0; m < DM_OPW; m++) {
        const int mc = w + m * DM_NW;
        for (int e = 0; e < 4; e++) {
            int h = 2 * t + (e & 1), c = 16 * mc + g + 8 * (e >> 1);
            if (mc < DM_VT && h < QG)
                part[(((long)b * Hq + hq0 + h) * splits + split) * D + c] = o[m][e];
        }
    }
#if DEC_MMA_DV < D
    for (int e = LK_DEC_TID; e < QG * (D - DEC_MMA_DV); e += WG)
        part[(((long)b * Hq + hq0 + e / (D - DEC_MMA_DV)) * splits + split) * D + DEC_MMA_DV + e % (D - DEC_MMA_DV)] = 0.0f;
#endif
    lk_dec_store_ml(part, nrec, Hq, b, hq0, splits, split, st);
}

#endif
