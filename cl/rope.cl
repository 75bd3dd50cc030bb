/* rope.cl: rotary position embedding (RoPE), out of place or in place, and the cos/sin table
 * that the fused attention can read instead of computing angles.
 *
 *   x, out  [B, H, S, D]  storage lk_t, element strides (sb, sh, ss, sd); out may equal x
 *   freq    [D/2] x (hi, lo)  turns per position of each pair (rope_math.h)
 *   ids     optional int positions, element (b, s) at ids_off + b*ids_sb + s*ids_ss
 *           (ids_sb = 0 for one row shared by the batch); without ids: pos_offset + s
 *
 *   rope:       one work-item per pair, flat index n = ((b*H + h)*S + s)*(D/2) + i; inverse = 1
 *               rotates by minus the angle (the transpose, for gradients)
 *   rope_table: table[j][i] = (cos, sin) of position(j) for pair i, j < S, flat n = j*(D/2) + i
 */
#include "portable.h"
#include "rope_math.h"

LK_KERNEL void rope(const LK_GLOBAL lk_t *x, long x_off, long xsb, long xsh, long xss, long xsd,
                    LK_GLOBAL lk_t *out, long o_off, long osb, long osh, long oss, long osd,
                    int H, int S, int D, int layout, const LK_GLOBAL float *freq,
                    const LK_GLOBAL int *ids, long ids_off, long ids_sb, long ids_ss, long pos_offset,
                    int inverse, long total)
{
    long n = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    if (n >= total)
        return;
    int npairs = D / 2;
    int i = (int)(n % npairs);
    long r = n / npairs;
    int s = (int)(r % S);
    long bh = r / S;
    int h = (int)(bh % H);
    int b = (int)(bh / H);

    float c, sn;
    int pos = lk_rope_position(ids, ids_off, ids_sb, ids_ss, b, s, pos_offset);
    lk_rope_sincos(pos, freq[2 * i], freq[2 * i + 1], &c, &sn);

    int d1 = lk_rope_first(layout, i, D), d2 = lk_rope_second(layout, i, D);
    long xr = x_off + b * xsb + h * xsh + s * xss;
    long orow = o_off + b * osb + h * osh + s * oss;
    float x1 = lk_ld(x, xr + d1 * xsd), x2 = lk_ld(x, xr + d2 * xsd);
    lk_rope_rotate(&x1, &x2, c, inverse ? -sn : sn);
    lk_st(out, orow + d1 * osd, x1);
    lk_st(out, orow + d2 * osd, x2);
}

LK_KERNEL void rope_table(LK_GLOBAL float *table, int S, int D, const LK_GLOBAL float *freq,
                          const LK_GLOBAL int *ids, long ids_off, long ids_ss, long pos_offset)
{
    long n = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    int npairs = D / 2;
    if (n >= (long)S * npairs)
        return;
    int i = (int)(n % npairs);
    int j = (int)(n / npairs);
    float c, sn;
    lk_rope_sincos(lk_rope_position(ids, ids_off, 0, ids_ss, 0, j, pos_offset), freq[2 * i], freq[2 * i + 1],
                   &c, &sn);
    table[2 * n] = c;
    table[2 * n + 1] = sn;
}
