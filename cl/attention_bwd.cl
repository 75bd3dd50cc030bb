/* attention_bwd.cl: FlashAttention-2 backward with optional RoPE on Q and K inside the kernels.
 * Generic path: plain fp32 arithmetic, any OpenCL device. P is recomputed from the forward's
 * logsumexp; no atomics (dK, dV of a kv head are summed over its query heads by one work-group).
 *
 *   q, o, dout, dq  [B, Hq, Sq, D]    k, v, dk, dv  [B, Hkv, Sk, D]   (lk_t, element strides)
 *   lse             [B, Hq, Sq] f32, natural log, from the forward
 *   stats           [B*Hq*Sq][2] f32 scratch: (lse * log2 e, Delta = rowsum(dout * o))
 *   GQA: query head hq uses kv head hq / (Hq / Hkv). Causal is bottom-right aligned:
 *        query row i sees keys j <= i + (Sk - Sq).
 *
 *   With s_ij = scale * q_i . k_j (rotated q, k), P_ij = exp(s_ij - lse_i), the gradients are
 *     dV_j = sum_i P_ij dO_i        dP_ij = dO_i . v_j        dS_ij = P_ij (dP_ij - Delta_i)
 *     dQ_i = scale sum_j dS_ij k_j  dK_j = scale sum_i dS_ij q_i   (sums over visible pairs)
 *   and with RoPE the gradients of the rotated rows are rotated back (the transpose).
 *
 *   attention_bwd_stats: one work-item per query row, flat n = (b*Hq + hq)*Sq + i.
 *
 *   attention_bwd_dkdv: grid dim 0 = ceil(Sk / BLOCK_N1) key blocks, dim 1 = B * Hkv; work-group
 *   BLOCK_N1, one key row each (k_j, v_j, dk_j, dv_j in private memory). It walks every query
 *   head of its group and every query tile of BLOCK_M1 rows that can see the block:
 *
 *        key block (BLOCK_N1 rows)         query tile in local memory (fp32)
 *        row j -> work-item j              qs[BLOCK_M1][D], dos[BLOCK_M1][D], lse2s, deltas
 *        kj[D], vj[D], dkj[D], dvj[D]      (every work-item reads row r at once: broadcast)
 *
 *   attention_bwd_dq: grid dim 0 = ceil(Sq / BLOCK_M2) query tiles, dim 1 = B * Hq; work-group
 *   BLOCK_M2, one query row each (q_i, dO_i, dq_i private), key tiles ks/vs[BLOCK_N2][D] in
 *   local memory, as in the forward.
 *
 *   RoPE (rope_math.h): ROPE_IN rotates q and k rows as they are loaded (Q tiles once per key
 *   block and K tiles once per query tile: the cost that grows as N^2); without it the caller
 *   passes Q and K already rotated. ROPE_OUT rotates dq and dk back before they are stored;
 *   without it the caller rotates them back afterwards. Positions: ids or offset + row.
 */
#include "portable.h"
#include "rope_math.h"

#ifndef D
#define D 128
#endif
#ifndef BLOCK_M1
#define BLOCK_M1 16
#endif
#ifndef BLOCK_N1
#define BLOCK_N1 32
#endif
#ifndef BLOCK_M2
#define BLOCK_M2 32
#endif
#ifndef BLOCK_N2
#define BLOCK_N2 16
#endif
#ifndef ROPE_IN
#define ROPE_IN 0
#endif
#ifndef ROPE_OUT
#define ROPE_OUT 0
#endif

#define HALF (D / 2)
#define LOG2E 1.4426950408889634f

#include "attention_rows.h"

/* Where the RoPE angles of one tensor's rows come from. */
/* cos and sin of pair i at row `row` of batch b. */
LK_INLINE void pair_sincos(lk_rope_rows src, int b, int row, int i, float *c, float *s)
{
    lk_rope_sincos(lk_rope_rows_position(src, b, row), src.freq[2 * i], src.freq[2 * i + 1], c, s);
}

/* x[D] = the row of t at `base`, or zeros when !valid. Natural order (constant indices once the
 * loop is unrolled), so that x can stay in registers. */
LK_INLINE void load_row(float *x, const LK_GLOBAL lk_t *t, long base, long sd, int valid)
{
    for (int d = 0; d < D; d++)
        x[d] = valid ? lk_ld(t, base + d * sd) : 0.0f;
}

/* Rotates every pair of x[D] by `sign` times its angle at row `row` (sign -1: the transpose,
 * which takes a gradient w.r.t. the rotated row to the unrotated one). One loop per layout keeps
 * the indices constant. */
LK_INLINE void rotate_row(float *x, lk_rope_rows src, int b, int row, float sign)
{
    for (int i = 0; i < HALF; i++) {
        float c, s;
        pair_sincos(src, b, row, i, &c, &s);
        if (src.layout)
            lk_rope_rotate(&x[2 * i], &x[2 * i + 1], c, sign * s);
        else
            lk_rope_rotate(&x[i], &x[i + HALF], c, sign * s);
    }
}

/* The row of t at `base` = g[D] * mult. */
LK_INLINE void store_row(LK_GLOBAL lk_t *t, long base, long sd, const float *g, float mult)
{
    for (int d = 0; d < D; d++)
        lk_st(t, base + d * sd, g[d] * mult);
}

/* dst[ROWS][D] = rows r0 .. r0+ROWS of t (base at row 0), zeros from row `limit` on, rotated when
 * `rotate`. Work-items tid = 0 .. nthreads-1 share the pairs; without rotation, lk_load_rows
 * (16-byte chunks of rows that are contiguous and aligned: `vectors`). */
LK_INLINE void load_tile(LK_LOCAL_PTR float *dst, int rows, const LK_GLOBAL lk_t *t, long base, long ss, long sd,
                         int vectors, int r0, int limit, int rotate, lk_rope_rows src, int b, int tid, int nthreads)
{
    if (!rotate) {
        lk_load_rows(dst, rows, t, base, ss, sd, vectors, r0, limit, tid, nthreads);
        return;
    }
    for (int idx = tid; idx < rows * HALF; idx += nthreads) {
        int n = idx / HALF, i = idx % HALF, r = r0 + n;
        int d1 = lk_rope_first(src.layout, i, D), d2 = lk_rope_second(src.layout, i, D);
        float x1 = 0.0f, x2 = 0.0f;
        if (r < limit) {
            x1 = lk_ld(t, base + r * ss + d1 * sd);
            x2 = lk_ld(t, base + r * ss + d2 * sd);
            float c, s;
            pair_sincos(src, b, r, i, &c, &s);
            lk_rope_rotate(&x1, &x2, c, s);
        }
        dst[n * D + d1] = x1;
        dst[n * D + d2] = x2;
    }
}

/* The weights one (query row, key row) pair adds with: p = P_ij and ds = dS_ij (before the
 * scale), from q_i . k_j and dO_i . v_j. `a` rows are in local memory, `x` rows in private. */
LK_INLINE void pair_weights(const LK_LOCAL_PTR float *a_qk, const float *x_qk, const LK_LOCAL_PTR float *a_gv,
                            const float *x_gv, float scale_log2, float lse2, float delta, float *p, float *ds)
{
    *p = lk_exp2(lk_row_dot(a_qk, x_qk) * scale_log2 - lse2);
    *ds = *p * (lk_row_dot(a_gv, x_gv) - delta);
}

LK_KERNEL void attention_bwd_stats(const LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long oss, long osd,
                                   const LK_GLOBAL lk_t *dout, long g_off, long gsb, long gsh, long gss, long gsd,
                                   const LK_GLOBAL float *lse, long l_off, long lsb, long lsh, long lss,
                                   LK_GLOBAL float *stats, int Hq, int Sq, long rows)
{
    long n = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    if (n >= rows)
        return;
    int i = (int)(n % Sq);
    long bh = n / Sq;
    int hq = (int)(bh % Hq), b = (int)(bh / Hq);
    long ob = o_off + b * osb + hq * osh + (long)i * oss, gb = g_off + b * gsb + hq * gsh + (long)i * gss;
    float delta = 0.0f;
    for (int d = 0; d < D; d++)
        delta = lk_fma(lk_ld(o, ob + d * osd), lk_ld(dout, gb + d * gsd), delta);
    stats[2 * n] = lse[l_off + b * lsb + hq * lsh + (long)i * lss] * LOG2E;
    stats[2 * n + 1] = delta;
}

LK_KERNEL LK_WG_SIZE(BLOCK_N1) void attention_bwd_dkdv(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qss, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    const LK_GLOBAL lk_t *dout, long g_off, long gsb, long gsh, long gss, long gsd,
    LK_GLOBAL lk_t *dk, long dk_off, long dksb, long dksh, long dkss, long dksd,
    LK_GLOBAL lk_t *dv, long dv_off, long dvsb, long dvsh, long dvss, long dvsd,
    const LK_GLOBAL float *stats, int Hq, int Hkv, int Sq, int Sk, float scale, int causal,
    const LK_GLOBAL float *freq, int layout,
    const LK_GLOBAL int *q_ids, long qi_off, long qi_sb, long qi_ss, long q_pos_offset,
    const LK_GLOBAL int *k_ids, long ki_off, long ki_sb, long ki_ss, long k_pos_offset)
{
    LK_SHARED float qs[BLOCK_M1 * D];
    LK_SHARED float dos[BLOCK_M1 * D];
    LK_SHARED float lse2s[BLOCK_M1];
    LK_SHARED float deltas[BLOCK_M1];

    const int tid = get_local_id(0);
    const int col0 = get_group_id(0) * BLOCK_N1;
    const int bh = get_group_id(1);
    const int b = bh / Hkv, hk = bh % Hkv, group = Hq / Hkv;
    const int j = col0 + tid;
    const int valid = j < Sk;
    const int shift = Sk - Sq;              /* causal: row i sees key j when i >= j - shift */
    const float scale_log2 = scale * LOG2E;
    lk_rope_rows qsrc = {freq, 0, q_ids, qi_off, qi_sb, qi_ss, q_pos_offset, layout};
    lk_rope_rows ksrc = {freq, 0, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, layout};

    float kj[D], vj[D], dkj[D], dvj[D];
    load_row(kj, k, k_off + b * ksb + hk * ksh + (long)(valid ? j : 0) * kss, ksd, valid);
    load_row(vj, v, v_off + b * vsb + hk * vsh + (long)(valid ? j : 0) * vss, vsd, valid);
    if (ROPE_IN && valid)
        rotate_row(kj, ksrc, b, j, 1.0f);
    for (int d = 0; d < D; d++) {
        dkj[d] = 0.0f;
        dvj[d] = 0.0f;
    }

    /* the first query row that sees any key of this block, and this key's own first row */
    int first = causal ? col0 - shift : 0;
    first = first > 0 ? first : 0;
    const int own_first = causal ? j - shift : 0;
    const int q_vectors = lk_rows_vectors(qsd, q_off, qsb, qsh, qss), g_vectors = lk_rows_vectors(gsd, g_off, gsb, gsh, gss);

    for (int g = 0; g < group; g++) {
        const int hq = hk * group + g;
        const long q_base = q_off + b * qsb + hq * qsh, g_base = g_off + b * gsb + hq * gsh;
        const long s_base = ((long)b * Hq + hq) * Sq;
        for (int r0 = first - first % BLOCK_M1; r0 < Sq; r0 += BLOCK_M1) {
            lk_barrier();
            load_tile(qs, BLOCK_M1, q, q_base, qss, qsd, q_vectors, r0, Sq, ROPE_IN, qsrc, b, tid, BLOCK_N1);
            load_tile(dos, BLOCK_M1, dout, g_base, gss, gsd, g_vectors, r0, Sq, 0, qsrc, b, tid, BLOCK_N1);
            for (int r = tid; r < BLOCK_M1; r += BLOCK_N1) {
                int i = r0 + r;
                lse2s[r] = i < Sq ? stats[2 * (s_base + i)] : 0.0f;
                deltas[r] = i < Sq ? stats[2 * (s_base + i) + 1] : 0.0f;
            }
            lk_barrier();
            if (!valid)
                continue;
            int r_end = Sq - r0 < BLOCK_M1 ? Sq - r0 : BLOCK_M1;
            int r = own_first - r0 > 0 ? own_first - r0 : 0;
            for (; r + 8 <= r_end; r += 8) {
                float p[8], ds[8];
                for (int u = 0; u < 8; u++)
                    pair_weights(qs + (r + u) * D, kj, dos + (r + u) * D, vj, scale_log2, lse2s[r + u], deltas[r + u],
                                 &p[u], &ds[u]);
                lk_add_rows8(dvj, p, dos + r * D);
                lk_add_rows8(dkj, ds, qs + r * D);
            }
            for (; r < r_end; r++) {
                float p, ds;
                pair_weights(qs + r * D, kj, dos + r * D, vj, scale_log2, lse2s[r], deltas[r], &p, &ds);
                lk_add_row(dvj, p, dos + r * D);
                lk_add_row(dkj, ds, qs + r * D);
            }
        }
    }

    if (!valid)
        return;
    if (ROPE_OUT)
        rotate_row(dkj, ksrc, b, j, -1.0f);
    store_row(dk, dk_off + b * dksb + hk * dksh + (long)j * dkss, dksd, dkj, scale);
    store_row(dv, dv_off + b * dvsb + hk * dvsh + (long)j * dvss, dvsd, dvj, 1.0f);
}

LK_KERNEL LK_WG_SIZE(BLOCK_M2) void attention_bwd_dq(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qss, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    const LK_GLOBAL lk_t *dout, long g_off, long gsb, long gsh, long gss, long gsd,
    LK_GLOBAL lk_t *dq, long dq_off, long dqsb, long dqsh, long dqss, long dqsd,
    const LK_GLOBAL float *stats, int Hq, int Hkv, int Sq, int Sk, float scale, int causal,
    const LK_GLOBAL float *freq, int layout,
    const LK_GLOBAL int *q_ids, long qi_off, long qi_sb, long qi_ss, long q_pos_offset,
    const LK_GLOBAL int *k_ids, long ki_off, long ki_sb, long ki_ss, long k_pos_offset)
{
    LK_SHARED float ks[BLOCK_N2 * D];
    LK_SHARED float vs[BLOCK_N2 * D];

    const int tid = get_local_id(0);
    const int row0 = get_group_id(0) * BLOCK_M2;
    const int bh = get_group_id(1);
    const int b = bh / Hq, hq = bh % Hq, hk = hq / (Hq / Hkv);
    const int row = row0 + tid;
    const int valid = row < Sq;
    const int shift = Sk - Sq;
    const float scale_log2 = scale * LOG2E;
    lk_rope_rows qsrc = {freq, 0, q_ids, qi_off, qi_sb, qi_ss, q_pos_offset, layout};
    lk_rope_rows ksrc = {freq, 0, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, layout};

    float qi[D], gi[D], dqi[D];
    const int r = valid ? row : 0;
    load_row(qi, q, q_off + b * qsb + hq * qsh + (long)r * qss, qsd, valid);
    load_row(gi, dout, g_off + b * gsb + hq * gsh + (long)r * gss, gsd, valid);
    if (ROPE_IN && valid)
        rotate_row(qi, qsrc, b, row, 1.0f);
    for (int d = 0; d < D; d++)
        dqi[d] = 0.0f;
    const long sn = ((long)b * Hq + hq) * Sq + r;
    const float lse2 = stats[2 * sn], delta = stats[2 * sn + 1];

    /* keys this tile can see, and this row's own limit */
    int last_row = (row0 + BLOCK_M2 < Sq ? row0 + BLOCK_M2 : Sq) - 1;
    int kv_end = causal ? last_row + shift + 1 : Sk;
    kv_end = kv_end < Sk ? kv_end : Sk;
    int row_end = causal ? row + shift + 1 : Sk;
    const long k_base = k_off + b * ksb + hk * ksh, v_base = v_off + b * vsb + hk * vsh;
    const int k_vectors = lk_rows_vectors(ksd, k_off, ksb, ksh, kss), v_vectors = lk_rows_vectors(vsd, v_off, vsb, vsh, vss);

    for (int j0 = 0; j0 < kv_end; j0 += BLOCK_N2) {
        lk_barrier();
        load_tile(ks, BLOCK_N2, k, k_base, kss, ksd, k_vectors, j0, Sk, ROPE_IN, ksrc, b, tid, BLOCK_M2);
        load_tile(vs, BLOCK_N2, v, v_base, vss, vsd, v_vectors, j0, Sk, 0, ksrc, b, tid, BLOCK_M2);
        lk_barrier();
        if (!valid)
            continue;
        int n_end = row_end - j0 < BLOCK_N2 ? row_end - j0 : BLOCK_N2;
        int n = 0;
        float p, ds[8];
        for (; n + 8 <= n_end; n += 8) {
            for (int u = 0; u < 8; u++)
                pair_weights(ks + (n + u) * D, qi, vs + (n + u) * D, gi, scale_log2, lse2, delta, &p, &ds[u]);
            lk_add_rows8(dqi, ds, ks + n * D);
        }
        for (; n < n_end; n++) {
            pair_weights(ks + n * D, qi, vs + n * D, gi, scale_log2, lse2, delta, &p, &ds[0]);
            lk_add_row(dqi, ds[0], ks + n * D);
        }
    }

    if (!valid)
        return;
    if (ROPE_OUT)
        rotate_row(dqi, qsrc, b, row, -1.0f);
    store_row(dq, dq_off + b * dqsb + hq * dqsh + (long)row * dqss, dqsd, dqi, scale);
}
