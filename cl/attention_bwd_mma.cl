/* attention_bwd_mma.cl: FlashAttention-2 backward on NVIDIA tensor cores (mma.sync m16n8k16, f16
 * in, f32 accumulate), with the same masking, GQA and RoPE options as the generic kernels
 * (attention_bwd.cl). The host picks it on NVIDIA GPUs of compute capability 8+ for f16 with D 64
 * or 128 when q, k, v and dout have unit last strides and 8-element aligned other strides.
 *
 * Three kernels:
 *   attention_bwd_mma_prep  one work-item per query row (rows padded per head to SQ_PAD, a multiple
 *                           of 64): stats = (lse * log2 e, Delta = rowsum(dout * o)), zeros in the
 *                           padding; zeroes the fp32 dQ accumulator.
 *   attention_bwd_mma       one work-group per (BLOCK_N keys, b, kv head), WARPS warps; warp w owns
 *                           keys [w*16*MT, (w+1)*16*MT) as MT m16 tiles. It walks every query head of
 *                           the group and every BLOCK_M-row query tile that sees the block:
 *
 *        shared (f16 rows padded to ROW = D + 8 halves: ldmatrix rows in distinct banks):
 *          ks[BLOCK_N][ROW], vs[BLOCK_N][ROW]       the key block, loaded once (rotated: ROPE_IN)
 *          qs[STAGES][BLOCK_M][ROW], dos[..]        cp.async ring of Q and dO tiles
 *          dst[BLOCK_N][BLOCK_M + 8]                dS^T of the current tile (f16)
 *          sts[STAGES][BLOCK_M][2] f32              (lse2, Delta) of the tile's rows
 *
 *        per tile, per warp (keys as the M dimension, so P^T and dS^T are C fragments that are
 *        directly the A fragments of the next products, as P in the forward):
 *          S^T  = K Q^T        A: K rows (ldmatrix)       B: Q tile (ldmatrix)
 *          dP^T = V dO^T       A: V rows (ldmatrix)       B: dO tile (ldmatrix)
 *          P^T  = exp2(S^T scale log2e - lse2), dS^T = P^T (dP^T - Delta)   (masked pairs 0)
 *          dV  += P^T dO       B: dO tile (ldmatrix.trans)      dK += dS^T Q   B: Q (ldmatrix.trans)
 *          dS^T -> dst; barrier; dQ_tile = dS K split over the warps (A: dst ldmatrix.trans,
 *          B: ks ldmatrix.trans), added into the fp32 accumulator with red.global.add.f32.
 *        dK (times scale, rotated back with ROPE_OUT) and dV are stored from registers at the end.
 *   attention_bwd_mma_dq    dq = scale * accumulator, rotated back with ROPE_OUT; one work-item
 *                           per (query row, pair).
 *
 *   The scratch `scr` (f32) holds the stats, [B*Hq*SQ_PAD][2], then the accumulator
 *   [B*Hq*SQ_PAD][D].
 */
#include "portable.h"
#include "rope_math.h"
#include "mma_nv.h"

#ifndef D
#define D 128
#endif
#ifndef BLOCK_M
#define BLOCK_M 32
#endif
#ifndef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef STAGES
#define STAGES 2
#endif
#ifndef WARPS
#define WARPS 4
#endif
#ifndef ROPE_IN
#define ROPE_IN 0
#endif
#ifndef ROPE_OUT
#define ROPE_OUT 0
#endif

#define THREADS (WARPS * 32)
#define MT (BLOCK_N / (16 * WARPS)) /* key m16 tiles per warp */
#define NQ8 (BLOCK_M / 8)           /* n8 tiles of queries in S^T */
#define QC (BLOCK_M / 16)           /* k16 chunks of queries in dV, dK */
#define KC (D / 16)                 /* k16 chunks of d in S^T, dP^T */
#define DT (D / 8)                  /* n8 tiles of d */
#define NC (BLOCK_N / 16)           /* k16 chunks of keys in dQ */
#define DQ_TILES (QC * DT / WARPS)  /* n8 d tiles of dQ per warp, all in one m16 tile */
#define ROW (D + 8)
#define SROW (BLOCK_M + 8)
#define HALF (D / 2)
#define LOG2E 1.4426950408889634f
#define PREP_WG 64

#define KS_OFF 0
#define VS_OFF (BLOCK_N * ROW)
#define QS_OFF (2 * BLOCK_N * ROW)
#define DOS_OFF (QS_OFF + STAGES * BLOCK_M * ROW)
#define DS_OFF (DOS_OFF + STAGES * BLOCK_M * ROW)
#define ST_OFF (DS_OFF + BLOCK_N * SROW)
#define SMEM_HALVES (ST_OFF + STAGES * BLOCK_M * 4) /* lk_attention_bwd_mma_local_bytes / 2 */

#define WAIT_FOR_TILE() lk_cp_async_wait_ahead(STAGES - 1)

LK_KERNEL void attention_bwd_mma_prep(const LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long oss, long osd,
                                      const LK_GLOBAL lk_t *dout, long g_off, long gsb, long gsh, long gss, long gsd,
                                      const LK_GLOBAL float *lse, long l_off, long lsb, long lsh, long lss,
                                      LK_GLOBAL float *scr, int Hq, int Sq, int Sq_pad, long rows_pad)
{
    const long n = (long)get_group_id(0) * PREP_WG + get_local_id(0); /* rows_pad is a multiple of 64 */
    const int i = (int)(n % Sq_pad);
    const long bh = n / Sq_pad;
    const int hq = (int)(bh % Hq), b = (int)(bh / Hq);
    float lse2 = 0.0f, delta = 0.0f;
    if (i < Sq) {
        long ob = o_off + b * osb + hq * osh + (long)i * oss, gb = g_off + b * gsb + hq * gsh + (long)i * gss;
        for (int d = 0; d < D; d++)
            delta = lk_fma(lk_ld(o, ob + d * osd), lk_ld(dout, gb + d * gsd), delta);
        lse2 = lse[l_off + b * lsb + hq * lsh + (long)i * lss] * LOG2E;
    }
    scr[2 * n] = lse2;
    scr[2 * n + 1] = delta;
    LK_GLOBAL float *acc = scr + 2 * rows_pad + (long)get_group_id(0) * PREP_WG * D;
    for (int x = get_local_id(0); x < PREP_WG * D; x += PREP_WG)
        acc[x] = 0.0f;
}

/* Issue the copies of `rows` rows from row r0 of a [S, D] matrix (row stride ss), zeros from `limit` on. */
LK_INLINE void copy_rows(LK_LOCAL_PTR lk_t *dst, const LK_GLOBAL lk_t *src, long base, long ss, int r0, int limit,
                         int rows, int tid)
{
    for (int c = tid; c < rows * (D / 8); c += THREADS) {
        int n = c / (D / 8), d8 = (c % (D / 8)) * 8, r = r0 + n;
        const LK_GLOBAL lk_t *p = src + base + (long)(r < limit ? r : 0) * ss + d8;
        lk_cp_async16(LK_SMEM_ADDR(dst + n * ROW + d8), LK_GLOBAL_ADDR(p), r < limit ? 16 : 0);
    }
}

#if ROPE_IN
/* Rotate `rows` rows of a tile in shared memory in place (positions of rows r0 ..). */
LK_INLINE void rotate_rows(LK_LOCAL_PTR lk_t *x, int rows, int r0, int limit, int b, const LK_GLOBAL float *freq,
                           int layout, const LK_GLOBAL int *ids, long ids_off, long ids_sb, long ids_ss, long offset,
                           int tid)
{
    for (int idx = tid; idx < rows * HALF; idx += THREADS) {
        int n = idx / HALF, i = idx % HALF, r = r0 + n;
        if (r >= limit)
            continue;
        int d1 = lk_rope_first(layout, i, D), d2 = lk_rope_second(layout, i, D);
        float c, s;
        lk_sincos_approx(lk_rope_angle(lk_rope_position(ids, ids_off, ids_sb, ids_ss, b, r, offset), freq[2 * i],
                                       freq[2 * i + 1]),
                         &s, &c);
        float x1 = lk_ld(x, n * ROW + d1), x2 = lk_ld(x, n * ROW + d2);
        lk_rope_rotate(&x1, &x2, c, s);
        lk_st(x, n * ROW + d1, x1);
        lk_st(x, n * ROW + d2, x2);
    }
}
#endif

/* c = A B^T over d on tensor cores, for this warp's keys: A rows arow0 .. arow0 + 16 MT of a
 * [BLOCK_N][ROW] shared tile (K or V; A fragments), B rows 0 .. BLOCK_M of a [BLOCK_M][ROW] shared
 * tile (Q or dO; B fragments). c[mt][n8][] is the C fragment of keys mt*16.., queries n8*8... */
LK_INLINE void rows_times_rows(float c[MT][NQ8][4], const LK_LOCAL_PTR lk_t *a, const LK_LOCAL_PTR lk_t *bt,
                               int arow0, int lane)
{
    const int mi = lane >> 3, r8 = lane & 7;
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int n8 = 0; n8 < NQ8; n8++)
            #pragma unroll
            for (int e = 0; e < 4; e++)
                c[mt][n8][e] = 0.0f;
    #pragma unroll
    for (int kc = 0; kc < KC; kc++) {
        uint af[MT][4];
        #pragma unroll
        for (int mt = 0; mt < MT; mt++)
            lk_ldmatrix_x4(af[mt], LK_SMEM_ADDR(a + (arow0 + mt * 16 + (mi & 1) * 8 + r8) * ROW + kc * 16 + (mi >> 1) * 8));
        #pragma unroll
        for (int np = 0; np < NQ8 / 2; np++) {
            uint bf[4]; /* b0 b1 of query tile 2np, then of 2np + 1 */
            lk_ldmatrix_x4(bf, LK_SMEM_ADDR(bt + (np * 16 + (mi >> 1) * 8 + r8) * ROW + kc * 16 + (mi & 1) * 8));
            #pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                lk_mma16816(c[mt][2 * np], af[mt], bf[0], bf[1]);
                lk_mma16816(c[mt][2 * np + 1], af[mt], bf[2], bf[3]);
            }
        }
    }
}

LK_KERNEL LK_WG_SIZE(THREADS) void attention_bwd_mma(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qss, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    const LK_GLOBAL lk_t *dout, long g_off, long gsb, long gsh, long gss, long gsd,
    LK_GLOBAL lk_t *dk, long dk_off, long dksb, long dksh, long dkss, long dksd,
    LK_GLOBAL lk_t *dv, long dv_off, long dvsb, long dvsh, long dvss, long dvsd,
    LK_GLOBAL float *scr, int Sq_pad, long rows_pad, int Hq, int Hkv, int Sq, int Sk, float scale, int causal,
    const LK_GLOBAL float *freq, int layout,
    const LK_GLOBAL int *q_ids, long qi_off, long qi_sb, long qi_ss, long q_pos_offset,
    const LK_GLOBAL int *k_ids, long ki_off, long ki_sb, long ki_ss, long k_pos_offset)
{
    LK_DYN_SHARED(ushort, smem, SMEM_HALVES);
    LK_LOCAL_PTR lk_t *ks = (LK_LOCAL_PTR lk_t *)smem + KS_OFF;
    LK_LOCAL_PTR lk_t *vs = (LK_LOCAL_PTR lk_t *)smem + VS_OFF;
    LK_LOCAL_PTR lk_t *qs = (LK_LOCAL_PTR lk_t *)smem + QS_OFF;
    LK_LOCAL_PTR lk_t *dos = (LK_LOCAL_PTR lk_t *)smem + DOS_OFF;
    LK_LOCAL_PTR lk_t *dst = (LK_LOCAL_PTR lk_t *)smem + DS_OFF;
    LK_LOCAL_PTR float *sts = (LK_LOCAL_PTR float *)((LK_LOCAL_PTR lk_t *)smem + ST_OFF);

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
    const int mi = lane >> 3, r8 = lane & 7;
    const int col0 = get_group_id(0) * BLOCK_N, krow0 = warp * 16 * MT;
    const int bh = get_group_id(1), b = bh / Hkv, hk = bh % Hkv, group = Hq / Hkv;
    const int shift = Sk - Sq; /* causal: row i sees key j when j <= i + shift */
    const float scale_log2 = scale * LOG2E;
    LK_GLOBAL float *dq_acc = scr + 2 * rows_pad;

    const long k_base = k_off + b * ksb + hk * ksh, v_base = v_off + b * vsb + hk * vsh;
    copy_rows(ks, k, k_base, kss, col0, Sk, BLOCK_N, tid);
    copy_rows(vs, v, v_base, vss, col0, Sk, BLOCK_N, tid);
    lk_cp_async_commit();

    /* query tiles that see the block: from the one holding the first row that sees key col0 */
    int first = causal ? col0 - shift : 0;
    first = first > 0 ? first : 0;
    const int t0 = first / BLOCK_M;
    const int tq = (Sq + BLOCK_M - 1) / BLOCK_M;
    const int nt = tq > t0 ? tq - t0 : 0, total = group * nt;
    /* a tile needs masking when a row or key is out of range or a key is causally hidden from a row */
    const int keys_partial = col0 + BLOCK_N > Sk;
    const int causal_clear = col0 + BLOCK_N - 1 - shift; /* rows from here see every key of the block */

#define LOAD_TILE(it_)                                                                                               \
    do {                                                                                                             \
        int slot_ = (it_) % STAGES, hq_ = hk * group + (it_) / nt, r0_ = (t0 + (it_) % nt) * BLOCK_M;             \
        copy_rows(qs + slot_ * BLOCK_M * ROW, q, q_off + b * qsb + hq_ * qsh, qss, r0_, Sq, BLOCK_M, tid);          \
        copy_rows(dos + slot_ * BLOCK_M * ROW, dout, g_off + b * gsb + hq_ * gsh, gss, r0_, Sq, BLOCK_M, tid);      \
        const LK_GLOBAL float *sp_ = scr + 2 * (((long)b * Hq + hq_) * Sq_pad + r0_);                               \
        for (int c_ = tid; c_ < BLOCK_M / 2; c_ += THREADS)                                                          \
            lk_cp_async16(LK_SMEM_ADDR(sts + slot_ * BLOCK_M * 2 + 4 * c_), LK_GLOBAL_ADDR(sp_ + 4 * c_), 16);      \
    } while (0)

    #pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < total)
            LOAD_TILE(s);
        lk_cp_async_commit();
    }

#if ROPE_IN
    lk_cp_async_wait(0);
    lk_barrier();
    rotate_rows(ks, BLOCK_N, col0, Sk, b, freq, layout, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, tid);
#endif

    float dka[MT][DT][4], dva[MT][DT][4];
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int dt = 0; dt < DT; dt++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                dka[mt][dt][e] = 0.0f;
                dva[mt][dt][e] = 0.0f;
            }

    /* this warp's share of dQ: m16 tile mq of the query tile, d tiles dq0 .. dq0 + DQ_TILES */
    const int mq = warp * DQ_TILES / DT, dq0 = warp * DQ_TILES % DT;

    for (int it = 0; it < total; it++) {
        int next = it + STAGES - 1;
        if (next < total) /* its slot was last read in iteration it - 1, before its second barrier */
            LOAD_TILE(next);
        lk_cp_async_commit();
        WAIT_FOR_TILE();
        lk_barrier();
        const int slot = it % STAGES, hq = hk * group + it / nt, r0 = (t0 + it % nt) * BLOCK_M;
        LK_LOCAL_PTR lk_t *qt = qs + slot * BLOCK_M * ROW;
        const LK_LOCAL_PTR lk_t *dot = dos + slot * BLOCK_M * ROW;
        const LK_LOCAL_PTR float *st = sts + slot * BLOCK_M * 2;
#if ROPE_IN
        rotate_rows(qt, BLOCK_M, r0, Sq, b, freq, layout, q_ids, qi_off, qi_sb, qi_ss, q_pos_offset, tid);
        lk_barrier();
#endif
        const int masked = keys_partial || r0 + BLOCK_M > Sq || (causal && r0 < causal_clear);

        /* S^T = K Q^T */
        float sc[MT][NQ8][4];
        rows_times_rows(sc, ks, qt, krow0, lane);

        /* P^T = exp2(S^T scale log2e - lse2) (masked pairs 0), packed as A fragments (keys x queries) */
        uint pa[MT][QC][4];
        #pragma unroll
        for (int nt8 = 0; nt8 < NQ8; nt8++)
            #pragma unroll
            for (int e1 = 0; e1 < 2; e1++) {
                int ql = nt8 * 8 + 2 * t4 + e1, i = r0 + ql;
                float lse2 = st[2 * ql];
                #pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    #pragma unroll
                    for (int h = 0; h < 2; h++) {
                        int e = 2 * h + e1;
                        float p = lk_exp2_approx(sc[mt][nt8][e] * scale_log2 - lse2);
                        if (masked) {
                            int j = col0 + krow0 + mt * 16 + g + 8 * h;
                            if (i >= Sq || j >= Sk || (causal && j > i + shift))
                                p = 0.0f;
                        }
                        sc[mt][nt8][e] = p;
                    }
            }
        #pragma unroll
        for (int mt = 0; mt < MT; mt++)
            #pragma unroll
            for (int pc = 0; pc < QC; pc++)
                #pragma unroll
                for (int h = 0; h < 2; h++) {
                    pa[mt][pc][h] = lk_pack_half2(sc[mt][2 * pc][2 * h], sc[mt][2 * pc][2 * h + 1]);
                    pa[mt][pc][2 + h] = lk_pack_half2(sc[mt][2 * pc + 1][2 * h], sc[mt][2 * pc + 1][2 * h + 1]);
                }

        /* dV += P^T dO */
        #pragma unroll
        for (int pc = 0; pc < QC; pc++)
            #pragma unroll
            for (int dp2 = 0; dp2 < DT / 2; dp2++) {
                uint ob[4];
                lk_ldmatrix_x4_trans(ob, LK_SMEM_ADDR(dot + (pc * 16 + (mi & 1) * 8 + r8) * ROW + dp2 * 16 +
                                                      (mi >> 1) * 8));
                #pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    lk_mma16816(dva[mt][2 * dp2], pa[mt][pc], ob[0], ob[1]);
                    lk_mma16816(dva[mt][2 * dp2 + 1], pa[mt][pc], ob[2], ob[3]);
                }
            }

        /* dP^T = V dO^T */
        float dp[MT][NQ8][4];
        rows_times_rows(dp, vs, dot, krow0, lane);

        /* dS^T = P^T (dP^T - Delta) with P^T from its f16 fragments (it enters dV as f16 too), packed as
         * A fragments and stored into dst */
        uint da[MT][QC][4];
        #pragma unroll
        for (int mt = 0; mt < MT; mt++)
            #pragma unroll
            for (int pc = 0; pc < QC; pc++)
                #pragma unroll
                for (int x = 0; x < 4; x++) { /* x = h + 2 half: tile 2 pc + half, row g + 8 h */
                    int h = x & 1, nt8 = 2 * pc + (x >> 1), ql = nt8 * 8 + 2 * t4;
                    float p0, p1;
                    lk_unpack_half2(pa[mt][pc][x], &p0, &p1);
                    float ds0 = p0 * (dp[mt][nt8][2 * h] - st[2 * ql + 1]);
                    float ds1 = p1 * (dp[mt][nt8][2 * h + 1] - st[2 * ql + 3]);
                    da[mt][pc][x] = lk_pack_half2(ds0, ds1);
                    int row = krow0 + mt * 16 + g + 8 * h;
                    *(LK_LOCAL_PTR uint *)(dst + row * SROW + ql) = da[mt][pc][x];
                }

        /* dK += dS^T Q */
        #pragma unroll
        for (int pc = 0; pc < QC; pc++)
            #pragma unroll
            for (int dp2 = 0; dp2 < DT / 2; dp2++) {
                uint qb[4];
                lk_ldmatrix_x4_trans(qb, LK_SMEM_ADDR(qt + (pc * 16 + (mi & 1) * 8 + r8) * ROW + dp2 * 16 +
                                                      (mi >> 1) * 8));
                #pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    lk_mma16816(dka[mt][2 * dp2], da[mt][pc], qb[0], qb[1]);
                    lk_mma16816(dka[mt][2 * dp2 + 1], da[mt][pc], qb[2], qb[3]);
                }
            }
        lk_barrier(); /* dst complete */

        /* dQ tile += dS K: this warp's m16 tile mq, d tiles dq0 .. */
        float qa[DQ_TILES][4];
        #pragma unroll
        for (int x = 0; x < DQ_TILES; x++)
            #pragma unroll
            for (int e = 0; e < 4; e++)
                qa[x][e] = 0.0f;
        #pragma unroll
        for (int kc = 0; kc < NC; kc++) {
            uint a[4];
            lk_ldmatrix_x4_trans(a, LK_SMEM_ADDR(dst + (kc * 16 + (mi >> 1) * 8 + r8) * SROW + mq * 16 + (mi & 1) * 8));
            #pragma unroll
            for (int x = 0; x < DQ_TILES / 2; x++) {
                uint kb[4];
                lk_ldmatrix_x4_trans(kb, LK_SMEM_ADDR(ks + (kc * 16 + (mi & 1) * 8 + r8) * ROW + (dq0 + 2 * x) * 8 +
                                                      (mi >> 1) * 8));
                lk_mma16816(qa[2 * x], a, kb[0], kb[1]);
                lk_mma16816(qa[2 * x + 1], a, kb[2], kb[3]);
            }
        }
        LK_GLOBAL float *dqr = dq_acc + (((long)b * Hq + hq) * Sq_pad + r0 + mq * 16 + g) * D + dq0 * 8 + 2 * t4;
        #pragma unroll
        for (int x = 0; x < DQ_TILES; x++) {
            lk_red_add_f32x2(dqr + x * 8, qa[x][0], qa[x][1]);
            lk_red_add_f32x2(dqr + 8 * D + x * 8, qa[x][2], qa[x][3]);
        }
    }
    lk_cp_async_wait(0);

    /* dK, dV of this warp's keys */
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int j = col0 + krow0 + mt * 16 + g + 8 * h;
            if (j >= Sk)
                continue;
#if ROPE_OUT
            int pos = lk_rope_position(k_ids, ki_off, ki_sb, ki_ss, b, j, k_pos_offset);
            float c, s;
            if (layout) { /* pair (2i, 2i + 1): the two elements of one fragment pair */
                #pragma unroll
                for (int dt = 0; dt < DT; dt++) {
                    int i = dt * 4 + t4;
                    lk_sincos_approx(lk_rope_angle(pos, freq[2 * i], freq[2 * i + 1]), &s, &c);
                    lk_rope_rotate(&dka[mt][dt][2 * h], &dka[mt][dt][2 * h + 1], c, -s);
                }
            } else { /* pair (i, i + D/2): d tile dt with dt + DT/2 */
                #pragma unroll
                for (int dt = 0; dt < DT / 2; dt++)
                    #pragma unroll
                    for (int e = 0; e < 2; e++) {
                        int i = dt * 8 + 2 * t4 + e;
                        lk_sincos_approx(lk_rope_angle(pos, freq[2 * i], freq[2 * i + 1]), &s, &c);
                        lk_rope_rotate(&dka[mt][dt][2 * h + e], &dka[mt][dt + DT / 2][2 * h + e], c, -s);
                    }
            }
#endif
            long kb = dk_off + b * dksb + hk * dksh + (long)j * dkss, vb = dv_off + b * dvsb + hk * dvsh + (long)j * dvss;
            #pragma unroll
            for (int dt = 0; dt < DT; dt++)
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    int d = dt * 8 + 2 * t4 + e;
                    lk_st(dk, kb + d * dksd, dka[mt][dt][2 * h + e] * scale);
                    lk_st(dv, vb + d * dvsd, dva[mt][dt][2 * h + e]);
                }
        }
}

/* dq = scale * accumulator (rotated back with ROPE_OUT); one work-item per (row, pair), rows of
 * every head flat: n = (b*Hq + hq)*Sq + i. */
LK_KERNEL void attention_bwd_mma_dq(LK_GLOBAL lk_t *dq, long dq_off, long dqsb, long dqsh, long dqss, long dqsd,
                                    const LK_GLOBAL float *scr, int Hq, int Sq, int Sq_pad, long rows_pad, long items,
                                    float scale, const LK_GLOBAL float *freq, int layout, const LK_GLOBAL int *q_ids,
                                    long qi_off, long qi_sb, long qi_ss, long q_pos_offset)
{
    long idx = (long)get_group_id(0) * get_local_size(0) + get_local_id(0);
    if (idx >= items)
        return;
    int i2 = (int)(idx % HALF);
    long n = idx / HALF;
    int row = (int)(n % Sq);
    long bh = n / Sq;
    int hq = (int)(bh % Hq), b = (int)(bh / Hq);
    int d1 = lk_rope_first(layout, i2, D), d2 = lk_rope_second(layout, i2, D);
    const LK_GLOBAL float *acc = scr + 2 * rows_pad + (bh * Sq_pad + row) * D;
    float x1 = acc[d1] * scale, x2 = acc[d2] * scale;
#if ROPE_OUT
    float c, s;
    lk_sincos_approx(lk_rope_angle(lk_rope_position(q_ids, qi_off, qi_sb, qi_ss, b, row, q_pos_offset), freq[2 * i2],
                                   freq[2 * i2 + 1]),
                     &s, &c);
    lk_rope_rotate(&x1, &x2, c, -s);
#endif
    long base = dq_off + b * dqsb + hq * dqsh + (long)row * dqss;
    lk_st(dq, base + d1 * dqsd, x1);
    lk_st(dq, base + d2 * dqsd, x2);
}
