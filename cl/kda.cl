/* kda.cl: Kimi Delta Attention (KDA), chunkwise forward with the state carried from chunk to chunk.
 * The one-token decode step is the same kernel built with CHUNK = 1.
 *
 * Recurrence per (sequence, value head), fp32 state S [DK, DV] (the K axis is decayed):
 *   S_t = Diag(exp g_t) S_{t-1};  S_t += beta_t k_t (v_t - S_t^T k_t)^T;  o_t = S_t^T (scale q_t)
 *
 *   q, k  [B, T, H,  DK]  lk_t   (head h = hv / (HV / H))      o    [B, T, HV, DV]  lk_t
 *   v     [B, T, HV, DV]  lk_t                                  beta [B, T, HV]      f32
 *   g     [B, T, HV, DK]  f32: the log-decay, or with GATE the gate input f, and then
 *                         g = -exp(a_log[hv]) * softplus(f + dt_bias[hv, d])
 *   h0, ht [N, HV, DK, DV] f32 (HAS_H0 / HAS_HT; ht may be h0 itself: each element is read and
 *                         written by the same work-item)
 *   VARLEN: sequence n is tokens cu_seqlens[n] .. cu_seqlens[n+1] of batch 0; else n = batch, 0 .. T.
 *
 *   grid: dim 0 = HV * ceil(DV / BV) (head, V block), dim 1 = N; work-group = WG work-items,
 *   WG = KSPLIT * BV. The K axis is walked in tiles of KT rows (KT a multiple of KSPLIT; NKT
 *   tiles cover DK, rows past DK are zeros). Work-item (c = tid % BV, ks = tid / BV) holds S[d][c]
 *   for d = t * KT + rr * KSPLIT + ks (tile t, rr < KT / KSPLIT) in registers.
 *
 *     local (fp32)  tq, tk, tg, tw [CHUNK][KT + 1]  one K tile of q, k, cumulative log2-decay gc,
 *                                                   and 2^gc (then k_j 2^(gc_ref - gc_j));
 *                   red [KSPLIT][CHUNK][BV]         partial sums over the K slices (shares the
 *                                                   tiles' space: used only between the passes)
 *                   amat [CHUNK][CHUNK + 1]         Aqk_ij (j <= i) at [i][j], A_ij (j < i) at [j][i+1]
 *                   vp [CHUNK][BV]                  X, then the pseudo-values Vp = U - W S
 *
 *   per chunk (len <= CHUNK valid rows; padded rows have q = k = v = beta = 0 and g = 0):
 *     pass A, per K tile: load q, k, g (log2 units, gate); gc = chunk-local cumsum; L2 sums;
 *       A_ij = sum_d k_id k_jd 2^(gc_id - gc_jd) (j < i), Aqk_ij = sum_d q_id k_jd 2^(...) (j <= i):
 *       pairs in one sub-chunk of SUB rows use their own exponent; a pair in sub-chunks I > J
 *       uses the last row r of J: 2^(gc_i - gc_r) 2^(gc_r - gc_j), both factors <= 1, so
 *       k 2^-gc (which overflows for strong decay) is never formed; entries outside the
 *       triangles are never read. Private partials of (k 2^gc) S and (q 2^gc) S.
 *     then: norms, scale A by beta and the norms; X = beta (V - k' S); forward substitution
 *       (I + L) Vp = X per column; O = (q 2^gc) S + Aqk Vp.
 *     pass B, per K tile (k and g loaded again): S = 2^gc_last S + (k 2^(gc_last - gc))^T Vp.
 */
#include "portable.h"

#ifndef DK
#define DK 128
#endif
#ifndef DV
#define DV 128
#endif
#ifndef CHUNK
#define CHUNK 32
#endif
#ifndef SUB
#define SUB 16
#endif
#ifndef BV
#define BV 32
#endif
#ifndef WG
#define WG 128
#endif
#ifndef KT
#define KT 32
#endif
#ifndef L2NORM
#define L2NORM 0
#endif
#ifndef GATE
#define GATE 0
#endif
#ifndef HAS_H0
#define HAS_H0 0
#endif
#ifndef HAS_HT
#define HAS_HT 0
#endif
#ifndef VARLEN
#define VARLEN 0
#endif

/* Loops over the private arrays (state, partial sums) are unrolled on GPUs so that they stay in
 * registers; on CPUs (UNROLL 0) the unrolled body makes PoCL's compile take minutes. */
#ifndef UNROLL
#define UNROLL 1
#endif
#if UNROLL
#define REG_LOOP _Pragma("unroll")
#else
#define REG_LOOP
#endif

#define KSPLIT (WG / BV)
#define KTS (KT / KSPLIT)          /* state rows of one work-item per tile */
#define NKT ((DK + KT - 1) / KT)
#define KR (NKT * KTS)
#define KTP (KT + 1)               /* local row stride */
#define CP (CHUNK + 1)
#define NS (CHUNK / SUB)           /* sub-chunks */
#define NVB ((DV + BV - 1) / BV)
#define TILES (4 * CHUNK * KTP)
#define RED (KSPLIT * CHUNK * BV)
#define SCRATCH (TILES > RED ? TILES : RED)
#define LOG2E 1.4426950408889634f
#define L2_EPS 1e-6f

/* log2 of softplus(x), in log2 units: log2(1 + 2^y) with y = x log2 e, without overflow. */
LK_INLINE float softplus_log2(float x)
{
    float y = x * LOG2E;
    return lk_fmax(y, 0.0f) + lk_log2(1.0f + lk_exp2(-lk_fabs(y)));
}

/* Row i, column j <= i of the e-th element of a lower triangle (row-major, diagonal included). */
LK_INLINE int tri_row(int e)
{
    int i = (int)((lk_sqrt(8.0f * (float)e + 1.0f) - 1.0f) * 0.5f);
    while (i * (i + 1) / 2 > e)
        i--;
    while ((i + 1) * (i + 2) / 2 <= e)
        i++;
    return i;
}

/* Add (first tile: store) x to a local accumulator. */
LK_INLINE void accumulate(LK_LOCAL_PTR float *p, float x, int first)
{
    *p = first ? x : *p + x;
}

LK_KERNEL LK_WG_SIZE(WG) void kda_fwd(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qst, long qsh, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long kst, long ksh, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vst, long vsh, long vsd,
    const LK_GLOBAL float *g, long g_off, long gsb, long gst, long gsh, long gsd,
    const LK_GLOBAL float *beta, long b_off, long bsb, long bst, long bsh,
    LK_GLOBAL lk_t *o, long o_off, long osb, long ost, long osh, long osd,
    const LK_GLOBAL float *h0, long h0_off, long h0sn, long h0sh, long h0sk, long h0sv,
    LK_GLOBAL float *ht, long ht_off, long htsn, long htsh, long htsk, long htsv,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    const LK_GLOBAL float *a_log, long al_off, long al_s,
    const LK_GLOBAL float *dt_bias, long dt_off, long dt_sh, long dt_sd,
    int T, int H, int HV, float scale)
{
    LK_SHARED float scratch[SCRATCH];
    LK_SHARED float amat[CHUNK * CP];
    LK_SHARED float vp[CHUNK * BV];
    LK_SHARED float betas[CHUNK];
    LK_SHARED float fq[CHUNK]; /* sum q^2, then scale / |q_i| (L2NORM) or scale */
    LK_SHARED float fk[CHUNK]; /* sum k^2, then 1 / |k_i| (L2NORM) or 1 */
    LK_SHARED float gl[KT];    /* gc of the chunk's last row (pass B) */
    LK_LOCAL_PTR float *tq = scratch, *tk = scratch + CHUNK * KTP;
    LK_LOCAL_PTR float *tg = scratch + 2 * CHUNK * KTP, *tw = scratch + 3 * CHUNK * KTP;
    LK_LOCAL_PTR float *red = scratch;

    const int tid = get_local_id(0);
    const int c = tid % BV, ksl = tid / BV;
    const int hv = get_group_id(0) / NVB, vblk = get_group_id(0) % NVB;
    const int n = get_group_id(1);
    const int h = hv / (HV / H);
    const int col = vblk * BV + c;
    const int col_ok = col < DV;
#if VARLEN
    const int bos = cu_seqlens[cu_off + n * cu_s], eos = cu_seqlens[cu_off + (n + 1) * cu_s], bt = 0;
#else
    const int bos = 0, eos = T, bt = n;
#endif
    const long qb = q_off + bt * qsb + h * qsh, kb = k_off + bt * ksb + h * ksh;
    const long vb = v_off + bt * vsb + hv * vsh, ob = o_off + bt * osb + hv * osh;
    const long gb = g_off + bt * gsb + hv * gsh, bb = b_off + bt * bsb + hv * bsh;
#if GATE
    const float decay_rate = -lk_exp2(a_log[al_off + hv * al_s] * LOG2E); /* -exp(A_log) */
#endif

    float s[KR];
    REG_LOOP
    for (int r = 0; r < KR; r++) {
        int d = (r / KTS) * KT + (r % KTS) * KSPLIT + ksl;
        s[r] = 0.0f;
#if HAS_H0
        if (d < DK && col_ok)
            s[r] = h0[h0_off + n * h0sn + hv * h0sh + d * h0sk + col * h0sv];
#endif
    }

    for (int t0 = bos; t0 < eos; t0 += CHUNK) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;
        float px[CHUNK], pq[CHUNK]; /* partial (k 2^gc) S and (q 2^gc) S of this work-item's rows */
        REG_LOOP
        for (int i = 0; i < CHUNK; i++)
            px[i] = pq[i] = 0.0f;
        for (int i = tid; i < CHUNK; i += WG)
            betas[i] = i < len ? beta[bb + (long)(t0 + i) * bst] : 0.0f;
        lk_barrier(); /* PoCL: one work-item-dependent loop per barrier interval */

        /* ---- pass A ---- */
        REG_LOOP
        for (int t = 0; t < NKT; t++) {
            const int d0 = t * KT, first = t == 0;
            for (int idx = tid; idx < CHUNK * KT; idx += WG) {
                int i = idx / KT, dl = idx % KT, d = d0 + dl, ok = i < len && d < DK;
                long tt = t0 + i;
                tq[i * KTP + dl] = ok ? lk_ld(q, qb + tt * qst + d * qsd) : 0.0f;
                tk[i * KTP + dl] = ok ? lk_ld(k, kb + tt * kst + d * ksd) : 0.0f;
                float gv = ok ? g[gb + tt * gst + d * gsd] : 0.0f;
#if GATE
                float bias = dt_bias ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
                gv = ok ? decay_rate * softplus_log2(gv + bias) : 0.0f;
#else
                gv *= LOG2E;
#endif
                tg[i * KTP + dl] = gv;
            }
            lk_barrier();

            for (int dl = tid; dl < KT; dl += WG) { /* cumulative decay and 2^gc per column */
                float acc = 0.0f;
                for (int i = 0; i < CHUNK; i++) {
                    acc += tg[i * KTP + dl];
                    tg[i * KTP + dl] = acc;
                    tw[i * KTP + dl] = lk_exp2(acc);
                }
            }
#if L2NORM
            lk_barrier(); /* PoCL: one work-item-dependent loop per barrier interval (see below) */
            for (int i = tid; i < CHUNK; i += WG) {
                float sq = 0.0f, sk = 0.0f;
                for (int dl = 0; dl < KT; dl++) {
                    sq = lk_fma(tq[i * KTP + dl], tq[i * KTP + dl], sq);
                    sk = lk_fma(tk[i * KTP + dl], tk[i * KTP + dl], sk);
                }
                accumulate(&fq[i], sq, first);
                accumulate(&fk[i], sk, first);
            }
#endif
            lk_barrier();

            /* pairs inside one sub-chunk, each with its own exponent */
            for (int e = tid; e < NS * SUB * (SUB + 1) / 2; e += WG) {
                int blk = e / (SUB * (SUB + 1) / 2), el = e % (SUB * (SUB + 1) / 2);
                int ii = tri_row(el), jj = el - ii * (ii + 1) / 2;
                int i = blk * SUB + ii, j = blk * SUB + jj;
                float sa = 0.0f, sq = 0.0f;
                for (int dl = 0; dl < KT; dl++) {
                    float kj = tk[j * KTP + dl] * lk_exp2(tg[i * KTP + dl] - tg[j * KTP + dl]);
                    sa = lk_fma(tk[i * KTP + dl], kj, sa);
                    sq = lk_fma(tq[i * KTP + dl], kj, sq);
                }
                accumulate(&amat[i * CP + j], sq, first);
                if (j < i)
                    accumulate(&amat[j * CP + i + 1], sa, first);
            }
            /* PoCL 3.1 (CPU) skipped the loop above for work-items whose element count is below WG
             * when it shared a barrier interval with the loop below: such loops get an interval of
             * their own throughout this kernel. */
            lk_barrier();
            /* this work-item's rows of (k 2^gc) S and (q 2^gc) S */
            REG_LOOP
            for (int i = 0; i < CHUNK; i++) {
                REG_LOOP
                for (int rr = 0; rr < KTS; rr++) {
                    int at = i * KTP + rr * KSPLIT + ksl;
                    float sw = tw[at] * s[t * KTS + rr];
                    px[i] = lk_fma(tk[at], sw, px[i]);
                    pq[i] = lk_fma(tq[at], sw, pq[i]);
                }
            }
#if NS > 1
            lk_barrier();
            /* k_j 2^(gc_r - gc_j), r the last row of j's sub-chunk */
            for (int idx = tid; idx < CHUNK * KT; idx += WG) {
                int j = idx / KT, dl = idx % KT, r = (j / SUB) * SUB + SUB - 1;
                tw[j * KTP + dl] = tk[j * KTP + dl] * lk_exp2(tg[r * KTP + dl] - tg[j * KTP + dl]);
            }
            lk_barrier();
            /* pairs across sub-chunks: work-item strip (row i, earlier sub-chunk J), all j of J */
            for (int e = tid; e < SUB * NS * (NS - 1) / 2; e += WG) {
                int I = tri_row(e / SUB) + 1, J = e / SUB - (I - 1) * I / 2, i = I * SUB + e % SUB;
                int r = J * SUB + SUB - 1;
                float sa[SUB], sq[SUB];
                REG_LOOP
                for (int jj = 0; jj < SUB; jj++)
                    sa[jj] = sq[jj] = 0.0f;
                for (int dl = 0; dl < KT; dl++) {
                    float a = lk_exp2(tg[i * KTP + dl] - tg[r * KTP + dl]);
                    float qi = tq[i * KTP + dl] * a, ki = tk[i * KTP + dl] * a;
                    REG_LOOP
                    for (int jj = 0; jj < SUB; jj++) {
                        float kj = tw[(J * SUB + jj) * KTP + dl];
                        sa[jj] = lk_fma(ki, kj, sa[jj]);
                        sq[jj] = lk_fma(qi, kj, sq[jj]);
                    }
                }
                REG_LOOP
                for (int jj = 0; jj < SUB; jj++) {
                    int j = J * SUB + jj;
                    accumulate(&amat[i * CP + j], sq[jj], first);
                    accumulate(&amat[j * CP + i + 1], sa[jj], first);
                }
            }
#endif
            lk_barrier();
        }

        /* ---- between the passes: norms, X, forward substitution, output ---- */
        /* Every work-item runs the same trip count, the index checked inside. Written
         * `for (int i = tid; i < CHUNK; i += WG)`, PoCL 3.1 (CPU, default work-group method) skipped
         * this loop for CHUNK < WG (the decode step): clang hoists the guard tid < CHUNK, shared with
         * the loops above, to the kernel entry, and PoCL branched into the loop on the last
         * work-item's value of it (false) instead of each work-item's own, so fq and fk stayed the
         * sums of squares. POCL_WORK_GROUP_METHOD=loops and the GPUs ran it correctly. */
        for (int i0 = 0; i0 < CHUNK; i0 += WG) {
            int i = i0 + tid;
            if (i >= CHUNK)
                continue;
#if L2NORM
            fq[i] = scale / lk_sqrt(fq[i] + L2_EPS);
            fk[i] = 1.0f / lk_sqrt(fk[i] + L2_EPS);
#else
            fq[i] = scale;
            fk[i] = 1.0f;
#endif
        }
        lk_barrier(); /* PoCL: one work-item-dependent loop per barrier interval */
        REG_LOOP
        for (int i = 0; i < CHUNK; i++)
            red[(ksl * CHUNK + i) * BV + c] = px[i];
        lk_barrier();

        for (int e = tid; e < CHUNK * (CHUNK + 1) / 2; e += WG) {
            int i = tri_row(e), j = e - i * (i + 1) / 2;
            amat[i * CP + j] *= fq[i] * fk[j];
            if (j < i)
                amat[j * CP + i + 1] *= betas[i] * fk[i] * fk[j];
        }
        lk_barrier(); /* PoCL: one work-item-dependent loop per barrier interval */
        for (int idx = tid; idx < CHUNK * BV; idx += WG) {
            int i = idx / BV, cc = idx % BV, vcol = vblk * BV + cc;
            float ws = 0.0f;
            for (int p = 0; p < KSPLIT; p++)
                ws += red[(p * CHUNK + i) * BV + cc];
            float vv = i < len && vcol < DV ? lk_ld(v, vb + (long)(t0 + i) * vst + vcol * vsd) : 0.0f;
            vp[i * BV + cc] = betas[i] * (vv - fk[i] * ws);
        }
        lk_barrier();

        /* forward substitution (I + L) Vp = X, one column per work-item of slice 0. It touches
         * only vp and the partial sums below only red, yet PoCL 3.1 (CPU) computed wrong rows
         * whenever both shared one barrier interval with KSPLIT > 1: keep the barrier. */
        if (ksl == 0)
            for (int i = 1; i < CHUNK; i++) {
                float x = vp[i * BV + c];
                for (int j = 0; j < i; j++)
                    x = lk_fma(-amat[j * CP + i + 1], vp[j * BV + c], x);
                vp[i * BV + c] = x;
            }
        lk_barrier();
        REG_LOOP
        for (int i = 0; i < CHUNK; i++)
            red[(ksl * CHUNK + i) * BV + c] = pq[i];
        lk_barrier();

        for (int idx = tid; idx < CHUNK * BV; idx += WG) {
            int i = idx / BV, cc = idx % BV, vcol = vblk * BV + cc;
            if (i >= len || vcol >= DV)
                continue;
            float acc = 0.0f;
            for (int p = 0; p < KSPLIT; p++)
                acc += red[(p * CHUNK + i) * BV + cc];
            acc *= fq[i];
            for (int j = 0; j <= i; j++)
                acc = lk_fma(amat[i * CP + j], vp[j * BV + cc], acc);
            lk_st(o, ob + (long)(t0 + i) * ost + vcol * osd, acc);
        }
        lk_barrier();

        /* ---- pass B: S = 2^gc_last S + (k 2^(gc_last - gc))^T Vp ---- */
        REG_LOOP
        for (int t = 0; t < NKT; t++) {
            const int d0 = t * KT;
            for (int idx = tid; idx < CHUNK * KT; idx += WG) {
                int i = idx / KT, dl = idx % KT, d = d0 + dl, ok = i < len && d < DK;
                long tt = t0 + i;
                tk[i * KTP + dl] = ok ? lk_ld(k, kb + tt * kst + d * ksd) * fk[i] : 0.0f;
                float gv = ok ? g[gb + tt * gst + d * gsd] : 0.0f;
#if GATE
                float bias = dt_bias ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
                gv = ok ? decay_rate * softplus_log2(gv + bias) : 0.0f;
#else
                gv *= LOG2E;
#endif
                tg[i * KTP + dl] = gv;
            }
            lk_barrier();
            for (int dl = tid; dl < KT; dl += WG) {
                float acc = 0.0f;
                for (int i = 0; i < CHUNK; i++) {
                    acc += tg[i * KTP + dl];
                    tg[i * KTP + dl] = acc;
                }
                gl[dl] = acc;
                for (int i = 0; i < CHUNK; i++)
                    tk[i * KTP + dl] *= lk_exp2(acc - tg[i * KTP + dl]);
            }
            lk_barrier();
            REG_LOOP
            for (int rr = 0; rr < KTS; rr++) {
                int dl = rr * KSPLIT + ksl;
                float acc = s[t * KTS + rr] * lk_exp2(gl[dl]);
                for (int i = 0; i < CHUNK; i++)
                    acc = lk_fma(tk[i * KTP + dl], vp[i * BV + c], acc);
                s[t * KTS + rr] = acc;
            }
            lk_barrier();
        }
    }

#if HAS_HT
    REG_LOOP
    for (int r = 0; r < KR; r++) {
        int d = (r / KTS) * KT + (r % KTS) * KSPLIT + ksl;
        if (d < DK && col_ok)
            ht[ht_off + n * htsn + hv * htsh + d * htsk + col * htsv] = s[r];
    }
#endif
}
