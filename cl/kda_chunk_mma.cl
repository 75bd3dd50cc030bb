/* kda_chunk_mma.cl: kda_chunk.cl with its products on tensor cores (NVIDIA compute capability 8+,
 * f16 tensors; the host picks it with the tuned CMMA = 1 and falls back to kda_chunk.cl elsewhere).
 * Same kernel arguments, same scratch outputs (kda_common.h): W, U, qg, kg (f16), Aqk and
 * 2^gc_last of every chunk, in parallel over chunks. Sub-chunks are 16 rows (SUB and KT are not used).
 *
 *   grid as kda_chunk.cl; work-group: NW = CHUNK / 16 warps (CHUNK 16, 32 or 64); warp w owns
 *   chunk rows 16 w .. 16 w + 15 (sub-chunk w).
 *
 *     local (fp32)  buf: phase 1  tq, tk, tg [CHUNK][TS]   one K tile of 32 columns: fq q, fk k
 *                                                          and the log2-decay, then gc (cumsum)
 *                         phase 2  sblk [NW - 1][16][16]    S_IJ of the inverse's block recurrence
 *                         phase 3  sa [CHUNK][CHUNK + 8]    T = (I + L)^-1 (f16)   -> ldmatrix
 *                                  sb [CHUNK][CT + 8]       a column tile of X or beta v (f16)
 *                   amat [CHUNK][CHUNK + 1]  Aqk_ij (j <= i) at [i][j], then T_ij there;
 *                                            L_ij = beta_i A_ij (j < i) at [j][i + 1]
 *                   betas, fq, fk [CHUNK]; segtot [NW][32] (column sums of each sub-chunk)
 *
 *   0. fq_i = scale / |q_i|, fk_i = 1 / |k_i| (L2NORM; else scale and 1): one warp per row.
 *   1. per K tile: load, gc = cumulative log2-decay per column (one sub-chunk per warp, then the
 *      earlier sub-chunks' sums added), store qg = tq 2^gc, kg = tk 2^(gc_last - gc),
 *      X = beta tk 2^gc (into W's slot) and 2^gc_last; then accumulate A and Aqk:
 *        pairs in sub-chunks I > J (mma): reference row r = 16 I, the first of I:
 *          A_IJ += (tk_i 2^(gc_i - gc_r)) (tk_j 2^(gc_r - gc_j))^T, Aqk_IJ alike with tq_i;
 *          both exponents <= 0, so k 2^-gc (which overflows for strong decay) is never formed;
 *        pairs in one sub-chunk (j <= i, elementwise, 2^(gc_i - gc_j) each): lane (p, quarter)
 *          takes rows p and 15 - p (17 pairs, no idle lanes) over 8 of the tile's columns.
 *   2. Aqk to scratch; T = (I + L)^-1 in fp32 by blocks: T_II by forward substitution (one column
 *      per lane), then T_IJ = -T_II S_IJ with S_IJ = sum_{K=J..I-1} L_IK T_KJ, I = 1 .. NW - 1.
 *   3. W = T X and U = T (beta v) (mma, T and the operands rounded to f16 as fla does), column
 *      tiles of CT = 64; X is read back from W's slot, then overwritten.
 */
#include "kda_common.h"
#include "mma_nv.h"

#define NW (CHUNK / 16)
#define CWG (NW * 32)
#define KTM 32                  /* K tile columns */
#define TS (KTM + 4)            /* row stride of the K tiles (padded by 4 floats) */
#define NKTM ((DK + KTM - 1) / KTM)
#define CP (CHUNK + 1)
#define CT 64                   /* column tile of phase 3 */
#define SAP (CHUNK + 8)         /* halves per row of sa */
#define SBP (CT + 8)            /* halves per row of sb */
#define NTOFF (NW > 1 ? 2 * (NW - 1) : 1) /* n8 tiles of the longest off-diagonal block row */
#define BUF_FLOATS (3 * CHUNK * TS)
#define QKV (CHUNK * (KTM / LK_VEC) / CWG) /* 16-byte chunks of q (and of k) a work-item loads per K tile */
#define GV (CHUNK * (KTM / 4) / CWG)       /* and of g */
#define CTV (CHUNK * (CT / 8) / CWG)       /* 16-byte chunks (8 halves) of a phase-3 column tile */

/* Eight floats rounded to f16, as 16 bytes. */
LK_INLINE uint4 chunk_pack8(const float *v)
{
    uint4 u;
    u.x = lk_pack_half2(v[0], v[1]);
    u.y = lk_pack_half2(v[2], v[3]);
    u.z = lk_pack_half2(v[4], v[5]);
    u.w = lk_pack_half2(v[6], v[7]);
    return u;
}

/* Elements x .. x + 7 of an f16 scratch row (those at or past DK left alone): one 16-byte store
 * where K is a multiple of 8 (rows and x then 16-byte aligned). */
LK_INLINE void chunk_store8(LK_GLOBAL scr_t *row, int x, const float *v)
{
#if DK % 8 == 0
    if (x < DK)
        *(LK_GLOBAL uint4 *)(row + x) = chunk_pack8(v);
#else
#pragma unroll
    for (int u = 0; u < 8; u++)
        if (x + u < DK)
            scr_st(row, x + u, v[u]);
#endif
}

/* The off-diagonal blocks of warp I >= 1 (rows 16 I.., columns 0 .. 16 I - 1) over one K tile,
 * added to amat (Aqk, and beta_i A as L): A frags X = t 2^(gc_i - gc_r) built in registers, B frags
 * Y = tk_j 2^(gc_r - gc_j). */
LK_INLINE void chunk_offdiag(LK_LOCAL_PTR const float *tq, LK_LOCAL_PTR const float *tk, LK_LOCAL_PTR const float *tg,
                             LK_LOCAL_PTR float *amat, LK_LOCAL_PTR const float *betas, int I, int lane, int first)
{
    const int g = lane / 4, t4 = lane % 4, r = 16 * I;
    float accA[NTOFF][4], accQ[NTOFF][4];
#pragma unroll
    for (int nt = 0; nt < NTOFF; nt++)
        accA[nt][0] = accA[nt][1] = accA[nt][2] = accA[nt][3] = accQ[nt][0] = accQ[nt][1] = accQ[nt][2] = accQ[nt][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < KTM / 16; kc++) {
        uint ak[4], aq[4];
#pragma unroll
        for (int f = 0; f < 4; f++) { /* a0 (g, c) a1 (g + 8, c) a2 (g, c + 8) a3 (g + 8, c + 8) */
            int i = r + g + (f & 1) * 8, c = kc * 16 + 2 * t4 + (f >> 1) * 8;
            float e0 = lk_exp2_approx(tg[i * TS + c] - tg[r * TS + c]), e1 = lk_exp2_approx(tg[i * TS + c + 1] - tg[r * TS + c + 1]);
            ak[f] = lk_pack_half2(tk[i * TS + c] * e0, tk[i * TS + c + 1] * e1);
            aq[f] = lk_pack_half2(tq[i * TS + c] * e0, tq[i * TS + c + 1] * e1);
        }
#pragma unroll
        for (int nt = 0; nt < NTOFF; nt++) {
            if (nt >= 2 * I)
                break;
            uint b[2];
            int j = nt * 8 + g;
#pragma unroll
            for (int f = 0; f < 2; f++) { /* b0 (k c, c + 1; n j), b1 (k c + 8, c + 9; n j) */
                int c = kc * 16 + 2 * t4 + f * 8;
                float e0 = lk_exp2_approx(tg[r * TS + c] - tg[j * TS + c]), e1 = lk_exp2_approx(tg[r * TS + c + 1] - tg[j * TS + c + 1]);
                b[f] = lk_pack_half2(tk[j * TS + c] * e0, tk[j * TS + c + 1] * e1);
            }
            lk_mma16816(accA[nt], ak, b[0], b[1]);
            lk_mma16816(accQ[nt], aq, b[0], b[1]);
        }
    }
#pragma unroll
    for (int nt = 0; nt < NTOFF; nt++) {
        if (nt >= 2 * I)
            break;
#pragma unroll
        for (int f = 0; f < 4; f++) { /* c0 c1 (row g, cols 2t, 2t + 1), c2 c3 (row g + 8) */
            int i = r + g + (f >> 1) * 8, j = nt * 8 + 2 * t4 + (f & 1);
            accumulate(&amat[i * CP + j], accQ[nt][f], first);
            accumulate(&amat[j * CP + i + 1], betas[i] * accA[nt][f], first);
        }
    }
}

/* Eight floats of a K tile row at local p (16-byte aligned: TS and the lane's column are
 * multiples of 4) by two 16-byte reads. */
LK_INLINE void chunk_lds8(LK_LOCAL_PTR const float *p, float *v)
{
    const float4 a = lk_lds4(p), b = lk_lds4(p + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

/* The in-sub-chunk pairs (j <= i) of warp I over one K tile, added to amat: lane (p, quarter)
 * sums 8 of the tile's columns for rows p and 15 - p, pair m being (p, m) for m <= p, else
 * (15 - p, m - p - 1): 17 pairs per lane, none idle; the four quarters are summed by shuffles,
 * and of four pairs' sums each lane of the quad adds one to amat (one local-memory update a lane
 * per four pairs). 2^x by ex2.approx, as everywhere in this kernel. */
LK_INLINE void chunk_diag(LK_LOCAL_PTR const float *tq, LK_LOCAL_PTR const float *tk, LK_LOCAL_PTR const float *tg,
                          LK_LOCAL_PTR float *amat, LK_LOCAL_PTR const float *betas, int I, int lane, int first)
{
    const int p = lane / 4, c0 = (lane % 4) * 8, ia = 16 * I + p, ib = 16 * I + 15 - p;
    float ka[8], qa[8], ga[8], kb[8], qb[8], gb[8];
    chunk_lds8(tk + ia * TS + c0, ka), chunk_lds8(tq + ia * TS + c0, qa), chunk_lds8(tg + ia * TS + c0, ga);
    chunk_lds8(tk + ib * TS + c0, kb), chunk_lds8(tq + ib * TS + c0, qb), chunk_lds8(tg + ib * TS + c0, gb);
    for (int m0 = 0; m0 < 17; m0 += 4) { /* four pairs, then each lane of a quad adds one */
        float keep_a = 0.0f, keep_q = 0.0f;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int m = m0 + u, low = m <= p, j = 16 * I + (low ? m : m - p - 1);
            if (m >= 17)
                break;
            float sa = 0.0f, sq = 0.0f, kj[8], gj[8];
            chunk_lds8(tk + j * TS + c0, kj), chunk_lds8(tg + j * TS + c0, gj);
#pragma unroll
            for (int x = 0; x < 8; x++) {
                float kje = kj[x] * lk_exp2_approx((low ? ga[x] : gb[x]) - gj[x]);
                sa = lk_fma(low ? ka[x] : kb[x], kje, sa);
                sq = lk_fma(low ? qa[x] : qb[x], kje, sq);
            }
            sa += lk_shfl_xor(sa, 1);
            sa += lk_shfl_xor(sa, 2);
            sq += lk_shfl_xor(sq, 1);
            sq += lk_shfl_xor(sq, 2);
            if (lane % 4 == u)
                keep_a = sa, keep_q = sq;
        }
        const int m = m0 + lane % 4, low = m <= p, i = low ? ia : ib, j = 16 * I + (low ? m : m - p - 1);
        if (m < 17) {
            accumulate(&amat[i * CP + j], keep_q, first);
            if (j < i)
                accumulate(&amat[j * CP + i + 1], betas[i] * keep_a, first);
        }
    }
}

LK_KERNEL LK_WG_SIZE(CWG) void kda_chunk_mma(
    KDA_CHUNK_ARGS)
{
    LK_SHARED float buf[BUF_FLOATS] __attribute__((aligned(16)));
    LK_SHARED float amat[CHUNK * CP];
    LK_SHARED float betas[CHUNK], fq[CHUNK], fk[CHUNK], segtot[NW * 32];
    LK_LOCAL_PTR float *tq = buf, *tk = buf + CHUNK * TS, *tg = buf + 2 * CHUNK * TS;

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32;
    KDA_CHUNK_PLACE;

    /* ---- 0. beta and the row norms ---- */
    for (int i = tid; i < CHUNK; i += CWG)
        betas[i] = i < len ? beta[bb + (long)i * bst] : 0.0f;
    /* 16-byte loads where q and k rows allow (and g's for the K tiles below), else one element
     * at a time; either way a work-item issues its loads of a step together */
    const int vqk = DK % LK_VEC == 0 && lk_rows_vectors_of(LK_VEC, qsd, q_off, qsb, qsh, qst) &&
                    lk_rows_vectors_of(LK_VEC, ksd, k_off, ksb, ksh, kst);
    const int vg = DK % 4 == 0 && lk_rows_vectors_of(4, gsd, g_off, gsb, gsh, gst);
#if L2NORM && DK % LK_VEC == 0 && 32 % (DK / LK_VEC) == 0
    const int norms_by_rows = !vqk;
    if (vqk) { /* work-item e: row e / NCR, chunk e % NCR of q and k; a row's chunks are NCR adjacent lanes */
#define NCR (DK / LK_VEC)
        for (int m0 = 0; m0 < CHUNK * NCR; m0 += 4 * CWG) {
            uint4 uq[4], uk[4];
#pragma unroll
            for (int b = 0; b < 4; b++) {
                const int e = m0 + b * CWG + tid, i = e / NCR, c = e % NCR * LK_VEC, ok = e < CHUNK * NCR && i < len;
                uq[b] = lk_ld16_or_zero(q + qb + (long)i * qst + c, ok);
                uk[b] = lk_ld16_or_zero(k + kb + (long)i * kst + c, ok);
            }
#pragma unroll
            for (int b = 0; b < 4; b++) {
                const int e = m0 + b * CWG + tid, i = e / NCR;
                float x[LK_VEC], y[LK_VEC], sq = 0.0f, sk = 0.0f;
                lk_unpack16(uq[b], x);
                lk_unpack16(uk[b], y);
#pragma unroll
                for (int u = 0; u < LK_VEC; u++) {
                    sq = lk_fma(x[u], x[u], sq);
                    sk = lk_fma(y[u], y[u], sk);
                }
#pragma unroll
                for (int o = NCR / 2; o > 0; o /= 2) {
                    sq += lk_shfl_xor(sq, o);
                    sk += lk_shfl_xor(sk, o);
                }
                if (e % NCR == 0 && i < CHUNK) {
                    fq[i] = scale / lk_sqrt(sq + L2_EPS);
                    fk[i] = 1.0f / lk_sqrt(sk + L2_EPS);
                }
            }
        }
#undef NCR
    }
#else
    const int norms_by_rows = 1; /* one warp per row, element loads (and without L2NORM: fq, fk) */
#endif
    for (int i = warp; i < CHUNK && norms_by_rows; i += NW) {
#if L2NORM
        float sq = 0.0f, sk = 0.0f;
        for (int d = lane; d < DK && i < len; d += 32) {
            float x = lk_ld(q, qb + (long)i * qst + d * qsd), y = lk_ld(k, kb + (long)i * kst + d * ksd);
            sq = lk_fma(x, x, sq);
            sk = lk_fma(y, y, sk);
        }
#pragma unroll
        for (int o = 16; o > 0; o /= 2) {
            sq += lk_shfl_xor(sq, o);
            sk += lk_shfl_xor(sk, o);
        }
        if (lane == 0) {
            fq[i] = scale / lk_sqrt(sq + L2_EPS);
            fk[i] = 1.0f / lk_sqrt(sk + L2_EPS);
        }
#else
        if (lane == 0) {
            fq[i] = scale;
            fk[i] = 1.0f;
        }
#endif
    }
    lk_barrier();

    /* ---- 1. per K tile: gc, qg, kg, X, 2^gc_last; A and Aqk ---- */
    for (int t = 0; t < NKTM; t++) {
        const int d0 = t * KTM;
        if (vqk) {
            uint4 uq[QKV], uk[QKV];
#pragma unroll
            for (int m = 0; m < QKV; m++) {
                const int e = m * CWG + tid, i = e / (KTM / LK_VEC), dl = e % (KTM / LK_VEC) * LK_VEC;
                const int ok = i < len && d0 + dl < DK;
                uq[m] = lk_ld16_or_zero(q + qb + (long)i * qst + d0 + dl, ok);
                uk[m] = lk_ld16_or_zero(k + kb + (long)i * kst + d0 + dl, ok);
            }
#pragma unroll
            for (int m = 0; m < QKV; m++) {
                const int e = m * CWG + tid, i = e / (KTM / LK_VEC), dl = e % (KTM / LK_VEC) * LK_VEC;
                float x[LK_VEC], y[LK_VEC];
                lk_unpack16(uq[m], x);
                lk_unpack16(uk[m], y);
#pragma unroll
                for (int u = 0; u < LK_VEC; u++) {
                    tq[i * TS + dl + u] = fq[i] * x[u];
                    tk[i * TS + dl + u] = fk[i] * y[u];
                }
            }
        } else {
            for (int idx = tid; idx < CHUNK * KTM; idx += CWG) {
                int i = idx / KTM, dl = idx % KTM, d = d0 + dl, ok = i < len && d < DK;
                tq[i * TS + dl] = ok ? fq[i] * lk_ld(q, qb + (long)i * qst + d * qsd) : 0.0f;
                tk[i * TS + dl] = ok ? fk[i] * lk_ld(k, kb + (long)i * kst + d * ksd) : 0.0f;
            }
        }
        if (vg) {
            uint4 ug[GV];
#pragma unroll
            for (int m = 0; m < GV; m++) {
                const int e = m * CWG + tid, i = e / (KTM / 4), dl = e % (KTM / 4) * 4;
                ug[m] = lk_ld16_or_zero(g + gb + (long)i * gst + d0 + dl, i < len && d0 + dl < DK);
            }
#pragma unroll
            for (int m = 0; m < GV; m++) {
                const int e = m * CWG + tid, i = e / (KTM / 4), dl = e % (KTM / 4) * 4;
                const uint w[4] = {ug[m].x, ug[m].y, ug[m].z, ug[m].w};
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const int d = d0 + dl + u, ok = i < len && d < DK;
                    float bias = GATE && dt_bias && ok ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
                    tg[i * TS + dl + u] = ok ? kda_log2_decay(lk_bits_as_float(w[u]), rate, bias) : 0.0f;
                }
            }
        } else {
            for (int idx = tid; idx < CHUNK * KTM; idx += CWG) {
                int i = idx / KTM, dl = idx % KTM, d = d0 + dl, ok = i < len && d < DK;
                float bias = GATE && dt_bias && ok ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
                tg[i * TS + dl] = ok ? kda_log2_decay(g[gb + (long)i * gst + d * gsd], rate, bias) : 0.0f;
            }
        }
        lk_barrier();
        /* cumulative decay: warp w sums its sub-chunk down column `lane`, then adds the earlier ones */
        float run[16], acc = 0.0f;
#pragma unroll
        for (int r = 0; r < 16; r++) {
            acc += tg[(warp * 16 + r) * TS + lane];
            run[r] = acc;
        }
        segtot[warp * 32 + lane] = acc;
        lk_barrier();
        float before = 0.0f;
        for (int w = 0; w < warp; w++)
            before += segtot[w * 32 + lane];
#pragma unroll
        for (int r = 0; r < 16; r++)
            tg[(warp * 16 + r) * TS + lane] = run[r] + before;
        lk_barrier();

        /* qg, kg and X of eight columns of a row per work-item and step (one 16-byte store
         * each where K is a multiple of 8) */
        for (int e8 = tid; e8 < CHUNK * KTM / 8; e8 += CWG) {
            const int i = e8 / (KTM / 8), dl = e8 % (KTM / 8) * 8, d = d0 + dl;
            float qg[8], kg[8], x[8];
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const float gc = tg[i * TS + dl + u], glast = tg[(CHUNK - 1) * TS + dl + u], e = lk_exp2_approx(gc);
                if (i == 0 && d + u < DK)
                    scr[s.gl + d + u] = lk_exp2_approx(glast);
                qg[u] = tq[i * TS + dl + u] * e;
                kg[u] = tk[i * TS + dl + u] * lk_exp2_approx(glast - gc);
                x[u] = betas[i] * tk[i * TS + dl + u] * e;
            }
            if (i < len) {
                chunk_store8(scl + s.qg + (long)i * DK, d, qg);
                chunk_store8(scl + s.kg + (long)i * DK, d, kg);
                chunk_store8(scl + s.w + (long)i * DK, d, x);
            }
        }
        if (warp > 0)
            chunk_offdiag(tq, tk, tg, amat, betas, warp, lane, t == 0);
        chunk_diag(tq, tk, tg, amat, betas, warp, lane, t == 0);
        lk_barrier();
    }

    /* ---- 2. Aqk to scratch; T = (I + L)^-1 ---- */
    for (int e = tid; e < CHUNK * CHUNK; e += CWG) {
        int i = e / CHUNK, j = e % CHUNK;
        if (i < len)
            scr[s.a + e] = j <= i ? amat[i * CP + j] : 0.0f;
    }
    lk_barrier();
    if (lane < 16) { /* T_II column c = lane by forward substitution: (I + L_II) x = e_c */
        const int c = lane, o = warp * 16;
        float x[16];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            float acc = i == c ? 1.0f : 0.0f;
#pragma unroll
            for (int m = 0; m < i; m++)
                acc = lk_fma(-amat[(o + m) * CP + o + i + 1], x[m], acc);
            x[i] = acc;
        }
#pragma unroll
        for (int i = 0; i < 16; i++)
            if (i >= c)
                amat[(o + i) * CP + o + c] = x[i];
    }
    lk_barrier();
    LK_LOCAL_PTR float *sblk = buf;
    for (int I = 1; I < NW; I++) {
        for (int e = tid; e < I * 256; e += CWG) { /* S_IJ[a][b] = sum_{x = 16 J + b .. 16 I - 1} L(16 I + a, x) T(x, 16 J + b) */
            int J = e / 256, a = (e / 16) % 16, b = e % 16, col = 16 * J + b;
            float acc = 0.0f;
            for (int x = col; x < 16 * I; x++)
                acc = lk_fma(amat[x * CP + 16 * I + a + 1], amat[x * CP + col], acc);
            sblk[e] = acc;
        }
        lk_barrier();
        for (int e = tid; e < I * 256; e += CWG) { /* T_IJ = -T_II S_IJ (T_II unit lower triangular) */
            int J = e / 256, a = (e / 16) % 16, b = e % 16;
            float acc = sblk[e];
            for (int m = 0; m < a; m++)
                acc = lk_fma(amat[(16 * I + a) * CP + 16 * I + m], sblk[J * 256 + m * 16 + b], acc);
            amat[(16 * I + a) * CP + 16 * J + b] = -acc;
        }
        lk_barrier();
    }

    /* ---- 3. W = T X, U = T (beta v) ---- */
    LK_LOCAL_PTR ushort *sa = (LK_LOCAL_PTR ushort *)buf, *sb = sa + CHUNK * SAP;
    for (int e = tid; e < CHUNK * CHUNK / 2; e += CWG) {
        int i = e / (CHUNK / 2), j = (e % (CHUNK / 2)) * 2;
        float lo = j <= i ? amat[i * CP + j] : 0.0f, hi = j + 1 <= i ? amat[i * CP + j + 1] : 0.0f;
        ((LK_LOCAL_PTR uint *)sa)[i * (SAP / 2) + j / 2] = lk_pack_half2(lo, hi);
    }
    lk_barrier_global(); /* X of phase 1 is read back from scratch below */
    const int mi = lane / 8, r8 = lane % 8, g4 = lane / 4, t4 = lane % 4;
    uint afr[NW][4]; /* this warp's rows of T, k16 steps kc <= warp (T_ij = 0 for j > i) */
#pragma unroll
    for (int kc = 0; kc < NW; kc++)
        if (kc <= warp)
            lk_ldmatrix_x4(afr[kc], LK_SMEM_ADDR(sa + (warp * 16 + (mi & 1) * 8 + r8) * SAP + kc * 16 + (mi >> 1) * 8));
    const int nkey = (DK + CT - 1) / CT, nval = (DV + CT - 1) / CT;
    const int vv = DV % 8 == 0 && lk_rows_vectors_of(LK_VEC, vsd, v_off, vsb, vsh, vst);
    for (int ct = 0; ct < nkey + nval; ct++) {
        const int key = ct < nkey, c0 = key ? ct * CT : (ct - nkey) * CT, lim = key ? DK : DV;
        if (key ? DK % 8 == 0 : vv) { /* 16 bytes at a time: W's scratch rows as they are, v times beta */
            uint4 raw[CTV];
#pragma unroll
            for (int m = 0; m < CTV; m++) {
                const int e = m * CWG + tid, j = e / (CT / 8), c = c0 + e % (CT / 8) * 8, ok = j < len && c < lim;
                raw[m] = lk_ld16_or_zero(key ? (const LK_GLOBAL void *)(scl + s.w + (long)j * DK + c)
                                             : (const LK_GLOBAL void *)(v + vb + (long)j * vst + c), ok);
            }
#pragma unroll
            for (int m = 0; m < CTV; m++) {
                const int e = m * CWG + tid, j = e / (CT / 8), cc = e % (CT / 8) * 8;
                uint4 out = raw[m];
                if (!key) {
                    float x[8];
                    lk_unpack16(raw[m], x);
#pragma unroll
                    for (int u = 0; u < 8; u++)
                        x[u] *= betas[j];
                    out = chunk_pack8(x);
                }
                *(LK_LOCAL_PTR uint4 *)(sb + j * SBP + cc) = out;
            }
        } else {
            for (int e = tid; e < CHUNK * CT / 2; e += CWG) {
                int j = e / (CT / 2), cc = (e % (CT / 2)) * 2, c = c0 + cc;
                uint pair = 0u;
                if (j < len && key)
                    pair = kda_half2_bits(scl + s.w + (long)j * DK, c, lim);
                else if (j < len)
                    pair = lk_pack_half2(c < lim ? betas[j] * lk_ld(v, vb + (long)j * vst + c * vsd) : 0.0f,
                                         c + 1 < lim ? betas[j] * lk_ld(v, vb + (long)j * vst + (c + 1) * vsd) : 0.0f);
                ((LK_LOCAL_PTR uint *)sb)[j * (SBP / 2) + cc / 2] = pair;
            }
        }
        lk_barrier();
        float acc[CT / 8][4];
#pragma unroll
        for (int nt = 0; nt < CT / 8; nt++)
            acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < NW; kc++) {
            if (kc > warp)
                break;
#pragma unroll
            for (int np = 0; np < CT / 16; np++) {
                uint b[4];
                lk_ldmatrix_x4_trans(b, LK_SMEM_ADDR(sb + (kc * 16 + (mi & 1) * 8 + r8) * SBP + np * 16 + (mi >> 1) * 8));
                lk_mma16816(acc[2 * np], afr[kc], b[0], b[1]);
                lk_mma16816(acc[2 * np + 1], afr[kc], b[2], b[3]);
            }
        }
#pragma unroll
        for (int nt = 0; nt < CT / 8; nt++) {
#pragma unroll
            for (int h2 = 0; h2 < 2; h2++) { /* columns c, c + 1 of row i: one f16 pair */
                int i = warp * 16 + g4 + h2 * 8, c = c0 + nt * 8 + 2 * t4;
                if (i < len)
                    kda_store_half2_bits(scl + (key ? s.w + (long)i * DK : s.u + (long)i * DV), c, lim,
                                         lk_pack_half2(acc[nt][2 * h2], acc[nt][2 * h2 + 1]));
            }
        }
        lk_barrier();
    }
}
