/* decode_combine.cl: merges the split partial results of every decode kernel (layout in
 * decode_split.h) into the output and the optional logsumexp.
 *
 *   part  partial records of nrec = rows * splits, rows = B * Hq (row r = b*Hq + hq)
 *   o     [B, Hq, D] storage lk_t, element strides (osb, osh, osd)
 *   lse   [B, Hq] f32 (natural log), optional; -inf for a row that saw no token
 *
 *   grid: dim 0 = rows (one work-group per query row), work-items walk the D channels.
 */
#include "portable.h"
#include "decode_split.h"

LK_KERNEL void decode_combine(const LK_GLOBAL float *part, int splits, int Hq, long nrec,
                              LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long osd,
                              LK_GLOBAL float *lse, long l_off, long lsb, long lsh)
{
    long r = get_group_id(0);
    int b = (int)(r / Hq), hq = (int)(r % Hq);
    float M, L;
    lk_dec_combine_stats(part, nrec, r, splits, &M, &L);
    for (int d = get_local_id(0); d < D; d += get_local_size(0))
        lk_st(o, o_off + b * osb + hq * osh + d * osd, lk_dec_combine_channel(part, nrec, r, splits, M, L, d));
    if (lse && get_local_id(0) == 0)
        lse[l_off + b * lsb + hq * lsh] = L > 0.0f ? (M + lk_log2(L)) * 0.69314718055994531f : LK_DEC_NEG_INF;
}
