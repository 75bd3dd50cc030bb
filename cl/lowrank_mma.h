/* lowrank_mma.h: lowrank_decode.cl's DIRECT = 2 and 3 variants: the low-rank decode on tensor
 * cores (NVIDIA cc 8+, f16 q and up_k). The latent tiles are staged and dequantized as in the KIVI
 * decode (KD = RK, DEC_MMA_DV = RK; the includer includes kivi_direct_mma.h for DIRECT 2 or
 * kivi_tiles_mma.h for DIRECT 3 first, which bring decode_mma.h); each 16-token m-tile's keys are rebuilt by
 * mma.m16n8k16, rotated on the accumulator fragments and multiplied by Q^T, all in registers;
 * p . latent is decode_mma.h's p.V over DV = RK channels. Requires HD a multiple of 32, RK of 16,
 * and what kivi_direct_mma.h requires.
 *
 * Staged once per work-group:
 *   ub [RK / 16][HD / 8][2][32 lanes]  up_k of the kv head as B fragments: lane (g, t) of k-step
 *        kc and n-tile nt holds r = 0: (up[c][d], up[c + 1][d]) and r = 1: (up[c + 8][d],
 *        up[c + 9][d]), c = 16 kc + 2 t, d = 8 nt + g (a warp reads 32 consecutive words)
 *   rf [HD / 2][4]  per RoPE pair: its turns per position (hi, lo; rope_math.h), then the cosine
 *        and sine of 8 positions' angle, so that row g + 8's rotation follows from row g's by
 *        angle addition: one sin/cos pair per two rows
 *
 * scores of one warp's m-tile (decode_mma.h), over the channel blocks ib of HD / 32. Block ib is
 * the score k-steps ib and ib + HD / 32 (channels 16 ib.. and HD / 2 + 16 ib..), rebuilt as the
 * n-tiles 2 ib, 2 ib + 1, HD / 16 + 2 ib, HD / 16 + 2 ib + 1 (x[0..3]):
 *   la[kc]  A fragments of the m-tile's key latents (dec_mma_key_frag), once per m-tile
 *   x[i]    = sum_kc la[kc] . ub[kc][nt_i]          keys of tokens g, g + 8 (f32 C fragments)
 *   RoPE    half-split pair (d, d + HD / 2): element e of x[i] and of x[i + 2] (same lane);
 *           interleaved pair (2p, 2p + 1): elements 0, 1 (row g) or 2, 3 (row g + 8) of one x[i]
 *   c       += (x[0] | x[1]) . Q^T and (x[2] | x[3]) . Q^T: the C fragments of two adjacent
 *           n-tiles, rounded to f16, are the A fragment of one k-step (Q^T: the warp's qf)
 * then decode_mma.h's softmax and p . latent (DV = RK channels).
 */
#ifndef LK_LOWRANK_MMA_H
#define LK_LOWRANK_MMA_H

#define LM_KC (RK / 16) /* rebuild k-steps */
#define LM_NT (HD / 8)  /* rebuild n-tiles */
#define LM_NB (HD / 32) /* channel blocks */

#define LOWRANK_MMA_LOCALS                                                                                             \
    LK_SHARED uint ub[RK * HD / 2];                                                                                    \
    LK_SHARED float rf[2 * HD]

/* Stages ub from up_k of the kv head (a) and rf from freq. Ends with a barrier. */
LK_INLINE void lowrank_mma_begin(const LK_GLOBAL lk_t *a, const LK_GLOBAL float *freq, LK_LOCAL_PTR uint *ub,
                                 LK_LOCAL_PTR float *rf)
{
    for (int e = LK_DEC_TID; e < RK * HD / 2; e += WG) {
        const int lane = e % 32, r = e / 32 % 2, nt = e / 64 % LM_NT, kc = e / 64 / LM_NT;
        const int c = 16 * kc + 2 * (lane % 4) + 8 * r, d = 8 * nt + lane / 4;
        ub[e] = lk_pack_half2(lk_ld(a, (long)c * HD + d), lk_ld(a, (long)(c + 1) * HD + d));
    }
#if ROPE
    for (int i = LK_DEC_TID; i < HD / 2; i += WG) {
        float c8, s8;
        lk_sincos_approx(lk_rope_angle(8, freq[2 * i], freq[2 * i + 1]), &s8, &c8);
        rf[4 * i] = freq[2 * i];
        rf[4 * i + 1] = freq[2 * i + 1];
        rf[4 * i + 2] = c8;
        rf[4 * i + 3] = s8;
    }
#endif
    lk_barrier();
}

/* Rotates pair i of the row at position pos, (*x1, *x2), and of the row at pos + 8, (*y1, *y2). */
LK_INLINE void lowrank_mma_rotate(float *x1, float *x2, float *y1, float *y2, int i, long pos,
                                  const LK_LOCAL_PTR float *rf)
{
    float c, s;
    lk_sincos_approx(lk_rope_angle((int)pos, rf[4 * i], rf[4 * i + 1]), &s, &c);
    lk_rope_rotate(x1, x2, c, s);
    const float c8 = rf[4 * i + 2], s8 = rf[4 * i + 3];
    lk_rope_rotate(y1, y2, c * c8 - s * s8, s * c8 + c * s8);
}

/* RoPE on block ib's rebuilt keys x (rows g at position pos, g + 8 at pos + 8). */
LK_INLINE void lowrank_mma_rope(float (*x)[4], int ib, int layout, long pos, const LK_LOCAL_PTR float *rf)
{
    const int t = LK_DEC_TID % 4;
    if (layout == 0) {
#pragma unroll
        for (int k = 0; k < 4; k++) { /* x[k / 2] holds pair d = 16 ib + 8 (k / 2) + 2 t + k % 2 */
            const int h = k / 2, e = k % 2;
            lowrank_mma_rotate(&x[h][e], &x[h + 2][e], &x[h][e + 2], &x[h + 2][e + 2], 16 * ib + 8 * h + 2 * t + e,
                               pos, rf);
        }
    } else {
#pragma unroll
        for (int k = 0; k < 4; k++) { /* n-tile nt holds pair 4 nt + t */
            const int nt = (k / 2) * (HD / 16) + 2 * ib + k % 2;
            lowrank_mma_rotate(&x[k][0], &x[k][1], &x[k][2], &x[k][3], 4 * nt + t, pos, rf);
        }
    }
}

/* Scores of the m-tile at n0 (decode_mma.h's C fragment c; rows g at position pos0 + n0 + g). */
LK_INLINE void lowrank_mma_scores(const DEC_MMA_SRC *src, const LK_LOCAL_PTR uint *ub, const LK_LOCAL_PTR float *rf,
                                  const dec_mma_warp *wp, int layout, long pos0, int n0, float *c)
{
    const int lane = LK_DEC_TID % 32;
    uint la[LM_KC][4];
#pragma unroll
    for (int kc = 0; kc < LM_KC; kc++)
        dec_mma_key_frag(src, n0, kc, la[kc]);
    c[0] = c[1] = c[2] = c[3] = 0.0f;
#pragma unroll
    for (int ib = 0; ib < LM_NB; ib++) {
        float x[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int nt = (i / 2) * (HD / 16) + 2 * ib + i % 2;
            x[i][0] = x[i][1] = x[i][2] = x[i][3] = 0.0f;
#pragma unroll
            for (int kc = 0; kc < LM_KC; kc++)
                lk_mma16816(x[i], la[kc], ub[(kc * LM_NT + nt) * 64 + lane], ub[(kc * LM_NT + nt) * 64 + 32 + lane]);
        }
#if ROPE
        lowrank_mma_rope(x, ib, layout, pos0 + n0 + lane / 4, rf);
#endif
#pragma unroll
        for (int h = 0; h < 2; h++) { /* k-steps ib and ib + HD / 32 */
            const int ks = ib + h * (HD / 32);
            uint a[4] = {lk_pack_half2(x[2 * h][0], x[2 * h][1]), lk_pack_half2(x[2 * h][2], x[2 * h][3]),
                         lk_pack_half2(x[2 * h + 1][0], x[2 * h + 1][1]),
                         lk_pack_half2(x[2 * h + 1][2], x[2 * h + 1][3])};
            lk_mma16816(c, a, wp->qf[ks][0], wp->qf[ks][1]);
        }
    }
}

#endif
