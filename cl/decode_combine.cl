/* decode_combine.cl: merges the split partial results of every decode kernel (layout in
 * decode_split.h) into the output and the optional logsumexp.
 *
 *   part  partial records of nrec = rows * splits, rows = B * Hq (row r = b*Hq + hq)
 *   o     [B, Hq, D] storage lk_t, element strides (osb, osh, osd)
 *   lse   [B, Hq] f32 (natural log), optional; -inf for a row that saw no token
 *
 *   grid: dim 0 = rows (one work-group of CWG work-items per query row). The splits are read in
 *   parallel (a serial walk over hundreds of splits per row was latency-bound):
 *     1. work-item t merges (m, l) of splits t, t + CWG, ...; a tree in local memory gives M, L
 *     2. work-item (slice sl, channel quad cq) sums acc_s 2^(m_s - M) over splits s = sl mod NSL
 *     3. the NSL slices are added in local memory, divided by L
 */
#include "portable.h"
#include "decode_split.h"

#ifndef CWG
#define CWG 256 /* a power of two >= D / 4 */
#endif
#define NQD (D / 4)
#define NSL (CWG / NQD)

LK_KERNEL LK_WG_SIZE(CWG) void decode_combine(const LK_GLOBAL float *part, int splits, int Hq, long nrec,
                                              LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long osd,
                                              LK_GLOBAL float *lse, long l_off, long lsb, long lsh)
{
    LK_SHARED float red[4 * CWG];
    const long r = get_group_id(0);
    const int tid = get_local_id(0), b = (int)(r / Hq), hq = (int)(r % Hq);
    const LK_GLOBAL float *ml = part + nrec * D + 2 * r * splits;

    float m = LK_DEC_NEG_INF, l = 0.0f;
    for (int s0 = 0; s0 < splits; s0 += CWG) {
        int s = s0 + tid;
        if (s < splits)
            lk_dec_merge_ml(&m, &l, ml[2 * s], ml[2 * s + 1]);
    }
    red[tid] = m;
    red[CWG + tid] = l;
    lk_barrier();
    for (int w = CWG / 2; w > 0; w /= 2) {
        if (tid < w) {
            float m1 = red[tid], l1 = red[CWG + tid];
            lk_dec_merge_ml(&m1, &l1, red[tid + w], red[CWG + tid + w]);
            red[tid] = m1;
            red[CWG + tid] = l1;
        }
        lk_barrier();
    }
    const float M = red[0], L = red[CWG];
    lk_barrier();

    const int sl = tid / NQD, cq = tid % NQD;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    if (L > 0.0f)
        for (int s = sl; s < splits; s += NSL) {
            float ms = ml[2 * s];
            if (ms == LK_DEC_NEG_INF)
                continue;
            float w = lk_exp2(ms - M);
            const LK_GLOBAL float *a = part + (r * splits + s) * D + 4 * cq;
            a0 = lk_fma(a[0], w, a0);
            a1 = lk_fma(a[1], w, a1);
            a2 = lk_fma(a[2], w, a2);
            a3 = lk_fma(a[3], w, a3);
        }
    red[sl * D + 4 * cq + 0] = a0;
    red[sl * D + 4 * cq + 1] = a1;
    red[sl * D + 4 * cq + 2] = a2;
    red[sl * D + 4 * cq + 3] = a3;
    lk_barrier();
    for (int d0 = 0; d0 < D; d0 += CWG) {
        int d = d0 + tid;
        if (d >= D)
            continue;
        float x = 0.0f;
        for (int u = 0; u < NSL; u++)
            x += red[u * D + d];
        lk_st(o, o_off + b * osb + hq * osh + d * osd, L > 0.0f ? x / L : 0.0f);
    }
    if (lse && tid == 0)
        lse[l_off + b * lsb + hq * lsh] = L > 0.0f ? (M + lk_log2(L)) * 0.69314718055994531f : LK_DEC_NEG_INF;
}
