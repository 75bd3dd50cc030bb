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
 *   WG = KSPLIT * BV. Work-item (c = tid % BV, ks = tid / BV) holds S[d][c] for
 *   d = r * KSPLIT + ks (r < KR) in registers, and walks the chunks of its sequence:
 *
 *     local (fp32)   qs, ks, gs [CHUNK][DK + 1]   q, k, cumulative log2-decay gc of the chunk;
 *                                                 later q e^gc, k e^gc, k e^(gc_last - gc)
 *                    lmat, aqk [CHUNK][CHUNK]     strict L = beta_i A_ij, inclusive Aqk
 *                    vp  [CHUNK][BV]              pseudo-values (U - W S)
 *                    red [KSPLIT][CHUNK][BV]      partial sums over the K slices
 *
 *   per chunk (len <= CHUNK valid rows; padded rows have q = k = v = beta = 0 and g = 0):
 *     1. load q, k, g (log2 units), beta                               (L2 row norms, gate)
 *     2. gc = chunk-local cumsum of g; gc_last kept in gl[DK]
 *     3. A_ij  = sum_d k_id k_jd 2^(gc_id - gc_jd), j <  i  -> lmat (times beta_i)
 *        Aqk_ij = sum_d q_id k_jd 2^(gc_id - gc_jd), j <= i -> aqk
 *        pairwise exponents are <= 0: k 2^-gc over a chunk is never formed (it overflows for
 *        strong decay); entries outside the triangles are never read
 *     4. in place: qs = q 2^gc, ks = k 2^gc, gs = k 2^(gc_last - gc)
 *     5. X = beta (V - (k 2^gc) S); forward substitution (I + L) Vp = X per column
 *     6. O = (q 2^gc) S + Aqk Vp;  S = 2^gc_last S + (k 2^(gc_last - gc))^T Vp
 */
#include "portable.h"

#ifndef DK
#define DK 128
#endif
#ifndef DV
#define DV 128
#endif
#ifndef CHUNK
#define CHUNK 16
#endif
#ifndef BV
#define BV 32
#endif
#ifndef WG
#define WG 128
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

/* Loops over the state slice s[KR] are unrolled on GPUs (so s stays in registers); on CPUs
 * (UNROLL 0) the unrolled body makes PoCL's compile take minutes. */
#ifndef UNROLL
#define UNROLL 1
#endif
#if UNROLL
#define STATE_LOOP _Pragma("unroll")
#else
#define STATE_LOOP
#endif

#define KSPLIT (WG / BV)
#define KR ((DK + KSPLIT - 1) / KSPLIT)
#define KP (DK + 1) /* local row stride: rows i and j of one column fall in different banks */
#define NVB ((DV + BV - 1) / BV)
#define LOG2E 1.4426950408889634f
#define L2_EPS 1e-6f

/* log2 of softplus(x), in log2 units: log2(1 + 2^y) with y = x log2 e, without overflow. */
LK_INLINE float softplus_log2(float x)
{
    float y = x * LOG2E;
    return lk_fmax(y, 0.0f) + lk_log2(1.0f + lk_exp2(-lk_fabs(y)));
}

/* 1 / |x| of row i of a local [CHUNK][KP] array (rsqrt(sum x^2 + eps), as fla's l2norm). */
LK_INLINE float row_rnorm(const LK_LOCAL_PTR float *x, int i)
{
    float ss = 0.0f;
    for (int d = 0; d < DK; d++)
        ss = lk_fma(x[i * KP + d], x[i * KP + d], ss);
    return 1.0f / lk_sqrt(ss + L2_EPS);
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
    LK_SHARED float qs[CHUNK * KP];
    LK_SHARED float ks[CHUNK * KP];
    LK_SHARED float gs[CHUNK * KP];
    LK_SHARED float lmat[CHUNK * CHUNK];
    LK_SHARED float aqk[CHUNK * CHUNK];
    LK_SHARED float vp[CHUNK * BV];
    LK_SHARED float red[KSPLIT * CHUNK * BV];
    LK_SHARED float betas[CHUNK];
    LK_SHARED float fq[CHUNK]; /* scale / |q_i| (L2NORM) or scale */
    LK_SHARED float fk[CHUNK]; /* 1 / |k_i| (L2NORM) or 1 */
    LK_SHARED float gl[DK];    /* gc of the chunk's last row */

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
    STATE_LOOP
    for (int r = 0; r < KR; r++) {
        int d = r * KSPLIT + ksl;
        s[r] = 0.0f;
#if HAS_H0
        if (d < DK && col_ok)
            s[r] = h0[h0_off + n * h0sn + hv * h0sh + d * h0sk + col * h0sv];
#endif
    }

    for (int t0 = bos; t0 < eos; t0 += CHUNK) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;

        /* 1. load (rows past len are zeros; g = 0 keeps gc at the last valid row) */
        for (int idx = tid; idx < CHUNK * DK; idx += WG) {
            int i = idx / DK, d = idx % DK;
            long t = t0 + i;
            int ok = i < len;
            qs[i * KP + d] = ok ? lk_ld(q, qb + t * qst + d * qsd) : 0.0f;
            ks[i * KP + d] = ok ? lk_ld(k, kb + t * kst + d * ksd) : 0.0f;
            float gv = ok ? g[gb + t * gst + d * gsd] : 0.0f;
#if GATE
            float bias = dt_bias ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
            gv = ok ? decay_rate * softplus_log2(gv + bias) : 0.0f;
#else
            gv *= LOG2E;
#endif
            gs[i * KP + d] = gv;
        }
        for (int i = tid; i < CHUNK; i += WG)
            betas[i] = i < len ? beta[bb + (long)(t0 + i) * bst] : 0.0f;
        lk_barrier();

        /* 2. row norms and the chunk-local cumulative decay */
        for (int i = tid; i < CHUNK; i += WG) {
#if L2NORM
            fq[i] = scale * row_rnorm(qs, i);
            fk[i] = row_rnorm(ks, i);
#else
            fq[i] = scale;
            fk[i] = 1.0f;
#endif
        }
        for (int d = tid; d < DK; d += WG) {
            float acc = 0.0f;
            for (int i = 0; i < CHUNK; i++) {
                acc += gs[i * KP + d];
                gs[i * KP + d] = acc;
            }
            gl[d] = acc;
        }
        lk_barrier();

        /* 3. A (strict, times beta_i) and Aqk (inclusive) over the lower triangle */
        for (int e = tid; e < CHUNK * (CHUNK + 1) / 2; e += WG) {
            int i = (int)((lk_sqrt(8.0f * (float)e + 1.0f) - 1.0f) * 0.5f);
            while (i * (i + 1) / 2 > e)
                i--;
            while ((i + 1) * (i + 2) / 2 <= e)
                i++;
            int j = e - i * (i + 1) / 2;
            float sa = 0.0f, sq = 0.0f;
            for (int d = 0; d < DK; d++) {
                float kj = ks[j * KP + d] * lk_exp2(gs[i * KP + d] - gs[j * KP + d]);
                sa = lk_fma(ks[i * KP + d], kj, sa);
                sq = lk_fma(qs[i * KP + d], kj, sq);
            }
            lmat[i * CHUNK + j] = j < i ? betas[i] * fk[i] * fk[j] * sa : 0.0f;
            aqk[i * CHUNK + j] = fq[i] * fk[j] * sq;
        }
        lk_barrier();

        /* 4. decayed rows, in place */
        for (int idx = tid; idx < CHUNK * DK; idx += WG) {
            int i = idx / DK, d = idx % DK, at = i * KP + d;
            float gc = gs[at], kv = ks[at] * fk[i];
            qs[at] = qs[at] * fq[i] * lk_exp2(gc);
            ks[at] = kv * lk_exp2(gc);
            gs[at] = kv * lk_exp2(gl[d] - gc);
        }
        lk_barrier();

        /* 5. X = beta (V - (k 2^gc) S): partial sums over this work-item's K slice, then reduced */
        for (int i = 0; i < CHUNK; i++) {
            float px = 0.0f;
            STATE_LOOP
            for (int r = 0; r < KR; r++) {
                int d = r * KSPLIT + ksl;
                if (d < DK)
                    px = lk_fma(ks[i * KP + d], s[r], px);
            }
            red[(ksl * CHUNK + i) * BV + c] = px;
        }
        lk_barrier();
        for (int idx = tid; idx < CHUNK * BV; idx += WG) {
            int i = idx / BV, cc = idx % BV, vcol = vblk * BV + cc;
            float ws = 0.0f;
            for (int p = 0; p < KSPLIT; p++)
                ws += red[(p * CHUNK + i) * BV + cc];
            float vv = i < len && vcol < DV ? lk_ld(v, vb + (long)(t0 + i) * vst + vcol * vsd) : 0.0f;
            vp[i * BV + cc] = betas[i] * (vv - ws);
        }
        lk_barrier();

        /* forward substitution (I + L) Vp = X, one column per work-item of slice 0. It touches
         * only vp and the partial sums below only red, yet PoCL 3.1 (CPU) computed wrong rows
         * whenever both shared one barrier interval with KSPLIT > 1: keep the barrier. */
        if (ksl == 0)
            for (int i = 1; i < CHUNK; i++) {
                float x = vp[i * BV + c];
                for (int j = 0; j < i; j++)
                    x = lk_fma(-lmat[i * CHUNK + j], vp[j * BV + c], x);
                vp[i * BV + c] = x;
            }
        lk_barrier();

        /* partial (q 2^gc) S of this work-item's K slice */
        for (int i = 0; i < CHUNK; i++) {
            float po = 0.0f;
            STATE_LOOP
            for (int r = 0; r < KR; r++) {
                int d = r * KSPLIT + ksl;
                if (d < DK)
                    po = lk_fma(qs[i * KP + d], s[r], po);
            }
            red[(ksl * CHUNK + i) * BV + c] = po;
        }
        lk_barrier();

        /* 6. output rows and the state carried to the next chunk */
        for (int idx = tid; idx < CHUNK * BV; idx += WG) {
            int i = idx / BV, cc = idx % BV, vcol = vblk * BV + cc;
            if (i >= len || vcol >= DV)
                continue;
            float acc = 0.0f;
            for (int p = 0; p < KSPLIT; p++)
                acc += red[(p * CHUNK + i) * BV + cc];
            for (int j = 0; j <= i; j++)
                acc = lk_fma(aqk[i * CHUNK + j], vp[j * BV + cc], acc);
            lk_st(o, ob + (long)(t0 + i) * ost + vcol * osd, acc);
        }
        STATE_LOOP
        for (int r = 0; r < KR; r++) {
            int d = r * KSPLIT + ksl;
            if (d < DK) {
                float acc = s[r] * lk_exp2(gl[d]);
                for (int i = 0; i < CHUNK; i++)
                    acc = lk_fma(gs[i * KP + d], vp[i * BV + c], acc);
                s[r] = acc;
            }
        }
        lk_barrier();
    }

#if HAS_HT
    STATE_LOOP
    for (int r = 0; r < KR; r++) {
        int d = r * KSPLIT + ksl;
        if (d < DK && col_ok)
            ht[ht_off + n * htsn + hv * htsh + d * htsk + col * htsv] = s[r];
    }
#endif
}
