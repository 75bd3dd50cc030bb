/* attention_fwd.cl: FlashAttention-2 forward (online softmax in the exp2 domain) with optional
 * RoPE on Q and K inside the kernel. Generic path: plain fp32 arithmetic, any OpenCL device.
 *
 *   q, o  [B, Hq, Sq, D]   k, v [B, Hkv, Sk, D]   (storage lk_t, element strides, offsets)
 *   lse   [B, Hq, Sq] f32  optional (natural log), -inf for a fully masked row
 *   GQA: head hq reads kv head hq / (Hq / Hkv). Causal is bottom-right aligned:
 *        query row r sees keys j <= r + (Sk - Sq).
 *
 *   grid: dim 0 = ceil(Sq / BLOCK_M) query tiles, dim 1 = B * Hq; work-group = BLOCK_M
 *   work-items, one query row each. The row's q (scaled by scale*log2 e) and its fp32
 *   accumulator live in private memory:
 *
 *        query tile (BLOCK_M rows)           K/V ring in local memory (fp32)
 *        row r -> work-item r                 slot s: kt[s][D][BLOCK_N] (K transposed),
 *        qr[D], acc[D], m, l                          vt[s][BLOCK_N][D]
 *                                             STAGES slots; tile t lives in slot t % STAGES
 *
 *   For each key tile t: scores s_n = qr . k_n (masked -> -inf), m' = max(m, max s_n),
 *   acc = acc * 2^(m - m') + sum 2^(s_n - m') v_n, l likewise. With STAGES > 1 the tile
 *   t + STAGES - 1 is loaded right after tile t is consumed, one barrier per tile.
 *
 *   Both products keep a contiguous index innermost, so a CPU compiler turns a work-item's
 *   loops into vector FMAs: the scores run over d in steps of 8 with the tile's keys innermost
 *   (rows of kt), P V over keys in steps of 8 with d innermost (rows of vt); each step adds its
 *   eight products as a tree, so the dependent chain is four operations, not eight. K and V rows
 *   that are contiguous and 16-byte aligned (the usual layouts) are loaded 16 bytes at a time;
 *   other strides element by element.
 *
 *   RoPE (rope_math.h): ROPE_Q rotates the q row as it is loaded (once per query tile).
 *   ROPE_K rotates each K tile as it enters local memory (again for every query tile: the
 *   cost that grows as N^2), with cos/sin computed from freq (ROPE_TABLE 0) or read from
 *   table[j][i] = (cos, sin) (ROPE_TABLE 1). Without ROPE_K the caller passes K already
 *   rotated (the K pre-pass and unfused variants).
 */
#include "portable.h"
#include "rope_math.h"

#ifndef D
#define D 128
#endif
#ifndef BLOCK_M
#define BLOCK_M 32
#endif
#ifndef BLOCK_N
#define BLOCK_N 16
#endif
#ifndef STAGES
#define STAGES 1
#endif
#ifndef ROPE_Q
#define ROPE_Q 0
#endif
#ifndef ROPE_K
#define ROPE_K 0
#endif
#ifndef ROPE_TABLE
#define ROPE_TABLE 0
#endif

#define HALF (D / 2)
#define NEG_INF (-INFINITY)

#include "attention_rows.h"

/* cos and sin of K's pair i at key row j (< Sk), from the table or computed (ROPE_K). */
LK_INLINE void key_angle(lk_rope_rows ra, int b, int j, int i, float *c, float *s)
{
#if ROPE_TABLE
    lk_rope_rows_table(ra, j, i, HALF, c, s);
#else
    lk_rope_sincos(lk_rope_rows_position(ra, b, j), ra.freq[2 * i], ra.freq[2 * i + 1], c, s);
#endif
}

/* Pair i of key n (rotated with ROPE_K; zeros past Sk) into kt[D][BLOCK_N]. */
LK_INLINE void store_key_pair(LK_LOCAL_PTR float *kt, lk_rope_rows ra, int b, int j, int Sk, int n, int i, float x1,
                              float x2)
{
#if ROPE_K
    if (j < Sk) {
        float c, s;
        key_angle(ra, b, j, i, &c, &s);
        lk_rope_rotate(&x1, &x2, c, s);
    }
#endif
    kt[lk_rope_first(ra.layout, i, D) * BLOCK_N + n] = x1;
    kt[lk_rope_second(ra.layout, i, D) * BLOCK_N + n] = x2;
}

/* Load key tile rows j0 .. j0+BLOCK_N of K, rotated (ROPE_K), into kt[D][BLOCK_N] and of V into
 * vt[BLOCK_N][D]. Consecutive work-items take consecutive keys of kt and consecutive chunks of
 * vt, so their local stores do not collide. With `vectors` rows load 16 bytes at a time; with
 * ROPE_K too, a work-item takes the LK_VEC pairs of two chunks of a key row: chunks p and
 * p + D/(2 LK_VEC) (half-split: first and second elements of pairs p LK_VEC ..) or 2p and 2p + 1
 * (interleaved). */
LK_INLINE void load_tile(LK_LOCAL_PTR float *kt, LK_LOCAL_PTR float *vt, const LK_GLOBAL lk_t *k,
                         const LK_GLOBAL lk_t *v, long k_base, long kss, long ksd, long v_base, long vss,
                         long vsd, int vectors, int j0, int Sk, int b, lk_rope_rows ra, int tid)
{
    if (vectors) {
#if ROPE_K
        float x[2 * LK_VEC];
        for (int idx = tid; idx < BLOCK_N * (LK_ROW_CHUNKS / 2); idx += BLOCK_M) {
            int n = idx % BLOCK_N, p = idx / BLOCK_N, j = j0 + n;
            lk_load_chunk(k, k_base, kss, j, Sk, ra.layout ? 2 * p : p, x);
            lk_load_chunk(k, k_base, kss, j, Sk, ra.layout ? 2 * p + 1 : p + LK_ROW_CHUNKS / 2, x + LK_VEC);
            if (ra.layout) {
                for (int u = 0; u < LK_VEC; u++)
                    store_key_pair(kt, ra, b, j, Sk, n, p * LK_VEC + u, x[2 * u], x[2 * u + 1]);
            } else {
                for (int u = 0; u < LK_VEC; u++)
                    store_key_pair(kt, ra, b, j, Sk, n, p * LK_VEC + u, x[u], x[LK_VEC + u]);
            }
        }
#else
        float x[LK_VEC];
        for (int idx = tid; idx < BLOCK_N * LK_ROW_CHUNKS; idx += BLOCK_M) {
            int n = idx % BLOCK_N, c = idx / BLOCK_N;
            lk_load_chunk(k, k_base, kss, j0 + n, Sk, c, x);
            for (int u = 0; u < LK_VEC; u++)
                kt[(c * LK_VEC + u) * BLOCK_N + n] = x[u];
        }
#endif
    } else {
        for (int idx = tid; idx < BLOCK_N * HALF; idx += BLOCK_M) {
            int n = idx % BLOCK_N, i = idx / BLOCK_N, j = j0 + n;
            int d1 = lk_rope_first(ra.layout, i, D), d2 = lk_rope_second(ra.layout, i, D);
            float x1 = j < Sk ? lk_ld(k, k_base + j * kss + d1 * ksd) : 0.0f;
            float x2 = j < Sk ? lk_ld(k, k_base + j * kss + d2 * ksd) : 0.0f;
            store_key_pair(kt, ra, b, j, Sk, n, i, x1, x2);
        }
    }
    lk_load_rows(vt, BLOCK_N, v, v_base, vss, vsd, vectors, j0, Sk, tid, BLOCK_M);
}

/* sc[n] = qr . k_n for the BLOCK_N keys of the tile kt[D][BLOCK_N]. */
LK_INLINE void tile_scores(float *sc, const float *qr, const LK_LOCAL_PTR float *kt)
{
    for (int n = 0; n < BLOCK_N; n++)
        sc[n] = 0.0f;
    for (int d = 0; d < D; d += 8) {
        const float *q = qr + d;
        const LK_LOCAL_PTR float *r = kt + d * BLOCK_N;
        for (int n = 0; n < BLOCK_N; n++)
            sc[n] += lk_sum8(q, r + n, BLOCK_N);
    }
}

/* acc[d] += sum_n p[n] v_n[d] over the BLOCK_N rows of the tile vt[BLOCK_N][D]. */
LK_INLINE void tile_accumulate(float *acc, const float *p, const LK_LOCAL_PTR float *vt)
{
    int n = 0;
    for (; n + 8 <= BLOCK_N; n += 8)
        lk_add_rows8(acc, p + n, vt + n * D);
    for (; n < BLOCK_N; n++)
        lk_add_row(acc, p[n], vt + n * D);
}

LK_KERNEL LK_WG_SIZE(BLOCK_M) void attention_fwd(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qss, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long oss, long osd,
    LK_GLOBAL float *lse, long l_off, long lsb, long lsh, long lss,
    int Hq, int Hkv, int Sq, int Sk, float scale_log2, int causal,
    const LK_GLOBAL float *freq, const LK_GLOBAL float *table, int layout,
    const LK_GLOBAL int *q_ids, long qi_off, long qi_sb, long qi_ss, long q_pos_offset,
    const LK_GLOBAL int *k_ids, long ki_off, long ki_sb, long ki_ss, long k_pos_offset)
{
    LK_SHARED float ks[STAGES * BLOCK_N * D];
    LK_SHARED float vs[STAGES * BLOCK_N * D];

    const int tid = get_local_id(0);
    const int row0 = get_group_id(0) * BLOCK_M;
    const int bh = get_group_id(1);
    const int b = bh / Hq, hq = bh % Hq, hk = hq / (Hq / Hkv);
    const int row = row0 + tid;
    const int valid = row < Sq;
    const int shift = Sk - Sq; /* causal: row r sees j <= r + shift */
    const int vectors = lk_rows_vectors(ksd, k_off, ksb, ksh, kss) && lk_rows_vectors(vsd, v_off, vsb, vsh, vss);

    /* q row, rotated (ROPE_Q) and pre-scaled into the exp2 domain */
    float qr[D], acc[D];
    long q_base = q_off + b * qsb + hq * qsh + (long)(valid ? row : 0) * qss;
    for (int i = 0; i < HALF; i++) {
        int d1 = lk_rope_first(layout, i, D), d2 = lk_rope_second(layout, i, D);
        float x1 = valid ? lk_ld(q, q_base + d1 * qsd) : 0.0f;
        float x2 = valid ? lk_ld(q, q_base + d2 * qsd) : 0.0f;
#if ROPE_Q
        float c, s;
        lk_rope_sincos(lk_rope_position(q_ids, qi_off, qi_sb, qi_ss, b, row, q_pos_offset), freq[2 * i],
                       freq[2 * i + 1], &c, &s);
        lk_rope_rotate(&x1, &x2, c, s);
#endif
        qr[d1] = x1 * scale_log2;
        qr[d2] = x2 * scale_log2;
        acc[d1] = 0.0f;
        acc[d2] = 0.0f;
    }
    float m = NEG_INF, l = 0.0f;

    /* keys this tile can see */
    int last_row = (row0 + BLOCK_M < Sq ? row0 + BLOCK_M : Sq) - 1;
    int kv_end = causal ? last_row + shift + 1 : Sk;
    kv_end = kv_end < Sk ? kv_end : Sk;
    int ntiles = kv_end > 0 ? (kv_end + BLOCK_N - 1) / BLOCK_N : 0;
    int row_end = causal ? row + shift + 1 : Sk; /* this row's own limit */

    lk_rope_rows ra = {freq, table, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, layout};
    long k_base = k_off + b * ksb + hk * ksh, v_base = v_off + b * vsb + hk * vsh;

    for (int t = 0; t < STAGES - 1 && t < ntiles; t++)
        load_tile(ks + t * BLOCK_N * D, vs + t * BLOCK_N * D, k, v, k_base, kss, ksd, v_base, vss, vsd,
                  vectors, t * BLOCK_N, Sk, b, ra, tid);
    if (STAGES > 1)
        lk_barrier();

    for (int t = 0; t < ntiles; t++) {
        if (STAGES == 1) {
            lk_barrier();
            load_tile(ks, vs, k, v, k_base, kss, ksd, v_base, vss, vsd, vectors, t * BLOCK_N, Sk, b, ra, tid);
            lk_barrier();
        }
        const int slot = t % STAGES;
        const LK_LOCAL_PTR float *kt = ks + slot * BLOCK_N * D;
        const LK_LOCAL_PTR float *vt = vs + slot * BLOCK_N * D;
        if (valid) {
            float sc[BLOCK_N];
            float mx = m;
            tile_scores(sc, qr, kt);
            for (int n = 0; n < BLOCK_N; n++) {
                sc[n] = t * BLOCK_N + n < row_end ? sc[n] : NEG_INF;
                mx = lk_fmax(mx, sc[n]);
            }
            if (mx != NEG_INF) {
                float alpha = lk_exp2(m - mx); /* m = -inf gives 0 */
                l *= alpha;
                for (int d = 0; d < D; d++)
                    acc[d] *= alpha;
                for (int n = 0; n < BLOCK_N; n++) {
                    sc[n] = lk_exp2(sc[n] - mx); /* masked: exp2(-inf) = 0 */
                    l += sc[n];
                }
                tile_accumulate(acc, sc, vt);
                m = mx;
            }
        }
        if (STAGES > 1) {
            int next = t + STAGES - 1;
            if (next < ntiles)
                load_tile(ks + (next % STAGES) * BLOCK_N * D, vs + (next % STAGES) * BLOCK_N * D, k, v, k_base,
                          kss, ksd, v_base, vss, vsd, vectors, next * BLOCK_N, Sk, b, ra, tid);
            lk_barrier();
        }
    }

    if (!valid)
        return;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    long o_base = o_off + b * osb + hq * osh + (long)row * oss;
    for (int d = 0; d < D; d++)
        lk_st(o, o_base + d * osd, acc[d] * inv);
    if (lse)
        lse[l_off + b * lsb + hq * lsh + (long)row * lss] =
            l > 0.0f ? (m + lk_log2(l)) * 0.69314718055994531f : NEG_INF;
}
