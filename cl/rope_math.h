/* rope_math.h: RoPE angles that stay accurate to fp32 rounding up to position 2^24.
 *
 * The host gives each pair i its frequency as turns per position, t_i = f_i / 2pi, split into
 * two floats (hi, lo) with hi + lo = t_i to ~48 bits. The angle is reduced in turns before it
 * becomes radians:  p*hi = a + e exactly (e from an fma),  frac = (a - rint(a)) + (e + p*lo),
 * angle = 2pi * frac with |frac| <= 1/2, so sin/cos see a small argument whatever the position.
 * A plain fp32 pos * inv_freq would lose ~0.03 rad at position 1M.
 *
 * Pair layout inside a row of D elements:
 *   half-split  (layout 0): pair i = (x[i], x[i + D/2])      i in [0, D/2)
 *   interleaved (layout 1): pair i = (x[2i], x[2i + 1])
 * Rotation: (x1, x2) -> (x1 c - x2 s, x2 c + x1 s).
 */
#ifndef LK_ROPE_MATH_H
#define LK_ROPE_MATH_H

/* The angle of position pos for a pair of turns (hi, lo), reduced to [-pi, pi]. */
LK_INLINE float lk_rope_angle(int pos, float thi, float tlo)
{
    float p = (float)pos;
    float a = p * thi;
    float e = lk_fma(p, thi, -a);
    float turns = (a - lk_rint(a)) + lk_fma(p, tlo, e);
    return turns * 6.28318530717958648f;
}

/* Its cosine and sine, as accurate as the device's sin and cos. The tensor-core kernels, whose
 * rotated values become f16, take lk_sincos_approx (mma_nv.h) of lk_rope_angle instead. */
LK_INLINE void lk_rope_sincos(int pos, float thi, float tlo, float *c, float *s)
{
    float angle = lk_rope_angle(pos, thi, tlo);
    *s = lk_sin(angle);
    *c = lk_cos(angle);
}

/* Rotate the pair (x1, x2) by the angle of cosine c and sine s. With -s it is the inverse
 * rotation, the transpose: it takes a gradient w.r.t. the rotated pair to the unrotated one. */
LK_INLINE void lk_rope_rotate(float *x1, float *x2, float c, float s)
{
    float r1 = *x1 * c - *x2 * s;
    *x2 = *x2 * c + *x1 * s;
    *x1 = r1;
}

/* Element indices of pair i in a row of D (strides in elements). */
LK_INLINE int lk_rope_first(int layout, int i, int d) { return layout ? 2 * i : i; }
LK_INLINE int lk_rope_second(int layout, int i, int d) { return layout ? 2 * i + 1 : i + d / 2; }

/* Position of row s of batch b: explicit ids (stride_b may be 0 for a [S] tensor) or offset + s. */
LK_INLINE int lk_rope_position(const LK_GLOBAL int *ids, long ids_off, long ids_sb, long ids_ss,
                               int b, int s, long offset)
{
    return ids ? ids[ids_off + b * ids_sb + s * ids_ss] : (int)(offset + s);
}

/* Where the angles of one tensor's rows come from, as the attention kernels take them: the turns
 * per pair (freq), a cos/sin table of rope.cl or NULL, position ids or NULL (offset + row), and
 * the pair layout. */
typedef struct lk_rope_rows {
    const LK_GLOBAL float *freq;
    const LK_GLOBAL float *table;
    const LK_GLOBAL int *ids;
    long ids_off, ids_sb, ids_ss, offset;
    int layout;
} lk_rope_rows;

/* The position of row s of batch b. */
LK_INLINE int lk_rope_rows_position(lk_rope_rows r, int b, int s)
{
    return lk_rope_position(r.ids, r.ids_off, r.ids_sb, r.ids_ss, b, s, r.offset);
}

/* The angle of pair i at row s of batch b, from freq. */
LK_INLINE float lk_rope_rows_angle(lk_rope_rows r, int b, int s, int i)
{
    return lk_rope_angle(lk_rope_rows_position(r, b, s), r.freq[2 * i], r.freq[2 * i + 1]);
}

/* The cosine and sine of pair i at row s from the table (rope.cl: [rows][npairs][2]). */
LK_INLINE void lk_rope_rows_table(lk_rope_rows r, int s, int i, int npairs, float *c, float *sn)
{
    *c = r.table[2 * ((long)s * npairs + i)];
    *sn = r.table[2 * ((long)s * npairs + i) + 1];
}

#endif
