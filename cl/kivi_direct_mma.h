/* kivi_direct_mma.h: kivi_decode.cl's DIRECT = 2 variant: the KIVI decode on tensor cores
 * (mma.m16n8k16, mma_nv.h; NVIDIA cc 8+). The QG query heads of a kv head are the 8 columns of
 * the mma, so a head costs no FMA per element; codes become f16 two at a time (the bits
 * 0x6400 | code are 1024 + code, then (x - 1024) * scale + min in f16x2, lk_dequant_h2).
 * Requires f16 q (LK_F16), QG <= 8, D and BLOCK_N multiples of 16, WG a multiple of 32, G >= 16
 * (a 16-token or 16-channel m-tile shares one (scale, min) per lane row; R is a multiple of G).
 *
 * Per tile of BLOCK_N tokens [j0, j0 + BLOCK_N), staged in local memory by every work-item:
 *   kw [D][BLOCK_N / CPW_K]   the tile's key words of each channel (0 past nk)
 *   kp [D][BLOCK_N / 16]      (scale, min) of each channel and 16-token m-tile
 *   vw [BLOCK_N][D / CPW_V]   the tile's value words of each token (0 past nv)
 *   vp [BLOCK_N][D / 16]      (scale, min) of each token and 16-channel m-tile
 * Tokens past the quantized prefix come from the fp16 residual (k_res, v_res), past n are 0.
 *
 * lane = 4 g + t, warp w of NW = WG / 32:
 * scores  S^T [16 tokens x 8 heads] += K [16 tokens x 16 channels] . Q^T [16 channels x 8 heads]
 *         unit (m-tile mt, slice z): k-steps ks = z, z + NZ, ... (NZ = NW / MT when the warps
 *         outnumber the MT = BLOCK_N / 16 m-tiles); a key word gives a lane rows g and g + 8 of
 *         one channel as one f16x2 (2-bit: slots g and g + 8 of one word, 16 bits apart):
 *           y_c = (k[g][c], k[g+8][c])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(y_2t), hi(y_2t+1)
 *         Q^T fragments from qh (q as f16 pairs). C (tokens g, g+8; heads 2t, 2t+1) -> sp[z][n][h].
 * softmax lk_dec_softmax (decode_split.h), dq = NZ.
 * p.V     O^T [16 channels x 8 heads] += V^T [16 channels x 16 tokens] . P^T [16 tokens x 8 heads]
 *         warp w owns the channel m-tiles w, w + NW, ... (accumulators o, rescaled by alpha);
 *         a value word gives a lane channels g and g + 8 of one token as one f16x2:
 *           y_n = (v[n][g], v[n][g+8])   a0 = lo(y_2t), lo(y_2t+1)   a1 = hi(y_2t), hi(y_2t+1)
 *         warp 0 also sums p into l (st[NQ + h]).
 */
#ifndef LK_KIVI_DIRECT_MMA_H
#define LK_KIVI_DIRECT_MMA_H

#include "mma_nv.h"

#define KM_NW (WG / 32)
#define KM_MT (BLOCK_N / 16)
#define KM_NZ (KM_NW >= KM_MT ? KM_NW / KM_MT : 1)
#define KM_KS (D / 16)
#define KM_OPW ((KM_KS + KM_NW - 1) / KM_NW) /* channel m-tiles per warp in p.V */
#define KM_KWT (BLOCK_N / CPW_K)
#define KM_MAGIC 0x64006400u

#define KIVI_MMA_LOCALS                                                 \
    LK_SHARED uint qh[8 * (D / 2)];                                     \
    LK_SHARED uint kw[D * KM_KWT];                                      \
    LK_SHARED uint kp[D * KM_MT];                                       \
    LK_SHARED uint vw[BLOCK_N * (D / CPW_V)];                           \
    LK_SHARED uint vp[BLOCK_N * KM_KS]

/* The tile's words and parameters into local memory (ends with a barrier). */
LK_INLINE void kivi_mma_stage(const LK_GLOBAL uint *k_codes, const LK_GLOBAL half *k_params,
                              const LK_GLOBAL uint *v_codes, const LK_GLOBAL half *v_params, long cap, int bh,
                              long j0, long nk, long nv, LK_LOCAL_PTR uint *kw, LK_LOCAL_PTR uint *kp,
                              LK_LOCAL_PTR uint *vw, LK_LOCAL_PTR uint *vp)
{
    const LK_GLOBAL uint *kpar = (const LK_GLOBAL uint *)k_params, *vpar = (const LK_GLOBAL uint *)v_params;
    for (int e = LK_DEC_TID; e < D * KM_KWT; e += WG) {
        long t = j0 + (e % KM_KWT) * CPW_K;
        kw[e] = t < nk ? k_codes[((long)bh * D + e / KM_KWT) * (cap / CPW_K) + t / CPW_K] : 0u;
    }
    for (int e = LK_DEC_TID; e < D * KM_MT; e += WG) {
        long t = j0 + (e % KM_MT) * 16;
        kp[e] = t < nk ? kpar[((long)bh * D + e / KM_MT) * (cap / G) + t / G] : 0u;
    }
    for (int e = LK_DEC_TID; e < BLOCK_N * (D / CPW_V); e += WG) {
        long t = j0 + e / (D / CPW_V);
        vw[e] = t < nv ? v_codes[((long)bh * cap + t) * (D / CPW_V) + e % (D / CPW_V)] : 0u;
    }
    for (int e = LK_DEC_TID; e < BLOCK_N * KM_KS; e += WG) {
        long t = j0 + e / KM_KS;
        vp[e] = t < nv ? vpar[((long)bh * cap + t) * (D / G) + (e % KM_KS) * 16 / G] : 0u;
    }
    lk_barrier();
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

/* f16x2 of residual elements i and i + step of res (0 where the token is past n). */
LK_INLINE uint kivi_mma_residual(const LK_GLOBAL half *res, long i, long step, int lo_ok, int hi_ok)
{
    return lk_pack_half2(lo_ok ? lk_half_to_float(res, i) : 0.0f, hi_ok ? lk_half_to_float(res, i + step) : 0.0f);
}

/* (k[n][c], k[n + 8][c]) for tile rows n, n + 8 (n % 16 < 8) of channel c. */
LK_INLINE uint kivi_mma_keys(const LK_LOCAL_PTR uint *kw, const LK_LOCAL_PTR uint *kp, const LK_GLOBAL half *k_res,
                             int bh, long j0, int n, int c, long nk, long len)
{
    const long t = j0 + n;
    if (t < nk) { /* rows n and n + 8 share the 16-token m-tile, so both are quantized */
        const LK_LOCAL_PTR uint *row = kw + c * KM_KWT;
        uint x = kivi_mma_codes(row[n / CPW_K], row[(n + 8) / CPW_K], n % CPW_K, BITS_K);
        return lk_dequant_h2(x, kp[c * KM_MT + n / 16]);
    }
    return kivi_mma_residual(k_res, ((long)bh * R + t % R) * D + c, (long)((t + 8) % R - t % R) * D, t < len,
                             t + 8 < len);
}

/* (v[n][c], v[n][c + 8]) for tile row n, channels c, c + 8 (c % 16 < 8). */
LK_INLINE uint kivi_mma_values(const LK_LOCAL_PTR uint *vw, const LK_LOCAL_PTR uint *vp, const LK_GLOBAL half *v_res,
                               int bh, long j0, int n, int c, long nv, long len)
{
    const long t = j0 + n;
    if (t < nv) {
        const LK_LOCAL_PTR uint *row = vw + n * (D / CPW_V);
        uint x = kivi_mma_codes(row[c / CPW_V], row[(c + 8) / CPW_V], c % CPW_V, BITS_V);
        return lk_dequant_h2(x, vp[n * KM_KS + c / 16]);
    }
    return kivi_mma_residual(v_res, ((long)bh * R + t % R) * D + c, 8, t < len, t < len);
}

/* q as f16 pairs, qh[h][c / 2] = (q[h][c], q[h][c + 1]) for 8 heads (0 past QG): lane (g, t)
 * reads its Q^T fragment of k-step ks at qh[g][8 ks + t] and qh[g][8 ks + t + 4]. Ends with a
 * barrier. */
LK_INLINE void kivi_mma_query(const LK_LOCAL_PTR float *qs, LK_LOCAL_PTR uint *qh)
{
    for (int e = LK_DEC_TID; e < 8 * (D / 2); e += WG) {
        int h = e / (D / 2), c = 2 * (e % (D / 2));
        qh[e] = h < QG ? lk_pack_half2(qs[h * D + c], qs[h * D + c + 1]) : 0u;
    }
    lk_barrier();
}

/* Partial scores of the tile: sp[(z * BLOCK_N + n) * QG + h] for every slice z < NZ, token n and
 * head h < QG. Ends with a barrier. */
LK_INLINE void kivi_mma_scores(const LK_LOCAL_PTR uint *kw, const LK_LOCAL_PTR uint *kp, const LK_GLOBAL half *k_res,
                               int bh, long j0, long nk, long len, const LK_LOCAL_PTR uint *qh, LK_LOCAL_PTR float *sp)
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int u = w; u < KM_MT * KM_NZ; u += KM_NW) {
        const int n0 = (u % KM_MT) * 16, z = u / KM_MT;
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int ks = z; ks < KM_KS; ks += KM_NZ) {
            uint y[4], a[4];
            for (int i = 0; i < 4; i++)
                y[i] = kivi_mma_keys(kw, kp, k_res, bh, j0, n0 + g, 16 * ks + 2 * t + (i & 1) + 8 * (i >> 1), nk, len);
            a[0] = lk_prmt(y[0], y[1], 0x5410);
            a[1] = lk_prmt(y[0], y[1], 0x7632);
            a[2] = lk_prmt(y[2], y[3], 0x5410);
            a[3] = lk_prmt(y[2], y[3], 0x7632);
            lk_mma16816(c, a, qh[g * (D / 2) + 8 * ks + t], qh[g * (D / 2) + 8 * ks + t + 4]);
        }
        for (int e = 0; e < 4; e++) {
            int h = 2 * t + (e & 1), n = n0 + g + 8 * (e >> 1);
            if (h < QG)
                sp[(z * BLOCK_N + n) * QG + h] = c[e];
        }
    }
    lk_barrier();
}

/* p.V of the tile (after lk_dec_softmax): o = o * alpha + V^T P^T over the warp's channel
 * m-tiles; warp 0 adds the tile's sum of p to l. Ends with a barrier. */
LK_INLINE void kivi_mma_pv(const LK_LOCAL_PTR uint *vw, const LK_LOCAL_PTR uint *vp, const LK_GLOBAL half *v_res,
                           int bh, long j0, long nv, long len, const LK_LOCAL_PTR float *sp, LK_LOCAL_PTR float *st,
                           float (*o)[4])
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    const float alpha0 = 2 * t < QG ? st[2 * QG + 2 * t] : 0.0f, alpha1 = 2 * t + 1 < QG ? st[2 * QG + 2 * t + 1] : 0.0f;
    for (int m = 0; m < KM_OPW; m++) {
        o[m][0] *= alpha0;
        o[m][1] *= alpha1;
        o[m][2] *= alpha0;
        o[m][3] *= alpha1;
    }
    float psum = 0.0f;
    for (int ks = 0; ks < KM_MT; ks++) {
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
        for (int m = 0; m < KM_OPW; m++) {
            const int mc = w + m * KM_NW;
            if (mc >= KM_KS)
                break;
            uint y[4], a[4];
            for (int i = 0; i < 4; i++)
                y[i] = kivi_mma_values(vw, vp, v_res, bh, j0, n + (i & 1) + 8 * (i >> 1), 16 * mc + g, nv, len);
            a[0] = lk_prmt(y[0], y[1], 0x5410);
            a[1] = lk_prmt(y[0], y[1], 0x7632);
            a[2] = lk_prmt(y[2], y[3], 0x5410);
            a[3] = lk_prmt(y[2], y[3], 0x7632);
            lk_mma16816(o[m], a, b0, b1);
        }
    }
    psum += lk_shfl_xor(psum, 1);
    psum += lk_shfl_xor(psum, 2);
    if (w == 0 && t == 0 && g < QG)
        st[QG + g] = st[QG + g] * st[2 * QG + g] + psum;
    lk_barrier();
}

/* The split's partial results (decode_split.h layout) from o and st. */
LK_INLINE void kivi_mma_store(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits, int split,
                              const LK_LOCAL_PTR float *st, float (*o)[4])
{
    const int w = LK_DEC_TID / 32, g = LK_DEC_TID % 32 / 4, t = LK_DEC_TID % 4;
    for (int m = 0; m < KM_OPW; m++) {
        const int mc = w + m * KM_NW;
        if (mc >= KM_KS)
            break;
        for (int e = 0; e < 4; e++) {
            int h = 2 * t + (e & 1), c = 16 * mc + g + 8 * (e >> 1);
            if (h < QG)
                part[(((long)b * Hq + hq0 + h) * splits + split) * D + c] = o[m][e];
        }
    }
    lk_dec_store_ml(part, nrec, Hq, b, hq0, splits, split, st);
}

#endif
