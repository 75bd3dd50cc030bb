/* kda_chunk.cl: KDA chunkwise forward, part 1 of 2: everything of a chunk that does not depend on
 * the carried state, for all chunks in parallel. Part 2 (kda_state.cl) walks the chunks in order.
 * Tensors and the scratch layout written here: kda_common.h.
 *
 *   grid: dim 0 = HV * NJ (value head hv = id % HV, chunk j = id / HV of its sequence; NJ covers
 *   the longest sequence, groups past the end of theirs return at once), dim 1 = N sequences.
 *   work-group: WG work-items, chunk rows t0 .. t0 + len - 1 (len <= CHUNK).
 *
 *     local (fp32)  tq, tk, tg, tw [CHUNK][KT + 1]  one K tile of q, k, the cumulative log2-decay gc,
 *                                                  and k_j 2^(gc_ref - gc_j) (pairs across sub-chunks)
 *                   amat [CHUNK][CHUNK + 1]        Aqk_ij (j <= i) at [i][j], A_ij (j < i) at [j][i+1]
 *                   betas, fq, fk [CHUNK]          beta; scale / |q_i| (or scale); 1 / |k_i| (or 1)
 *
 *   1. per K tile: load q, k and g (log2 units, the gate computed here; rows past len zeros with
 *      g = 0), gc = chunk-local cumsum per column, L2 row sums, and accumulate
 *        A_ij = sum_d k_id k_jd 2^(gc_id - gc_jd) (j < i),  Aqk_ij = sum_d q_id k_jd 2^(...) (j <= i).
 *      Pairs inside one sub-chunk of SUB rows use their own exponent; a pair in sub-chunks I > J
 *      goes through the last row r of J: 2^(gc_i - gc_r) 2^(gc_r - gc_j), both factors <= 1, so
 *      k 2^-gc (which overflows fp32 for strong decay) is never formed. Entries outside the
 *      triangles are never computed; aqk is written with a select (0 above the diagonal).
 *   2. norms; Aqk *= fq_i fk_j, A *= beta_i fk_i fk_j (L = strict lower triangle of beta A).
 *   3. one column per work-item (DK key columns, then DV value columns), the column in registers:
 *      key column d: gc by a running sum down the chunk, then qg = fq q 2^gc, x = beta fk k 2^gc
 *      and kg = fk k 2^(gc_last - gc) (one exponent <= 0 per row), 2^gc_last; value column:
 *      x = beta v. Forward substitution (I + L) y = x gives W (key
 *      columns) or U (value columns).
 */
#include "kda_common.h"

#define KTP (KT + 1)             /* row stride of the K tiles */
#define NKT ((DK + KT - 1) / KT) /* K tiles; rows past DK are zeros */
#define CP (CHUNK + 1)
#define NS (CHUNK / SUB) /* sub-chunks */

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

LK_KERNEL LK_WG_SIZE(WG) void kda_chunk(
    KDA_CHUNK_ARGS)
{
    LK_SHARED float tq[CHUNK * KTP], tk[CHUNK * KTP], tg[CHUNK * KTP], tw[CHUNK * KTP];
    LK_SHARED float amat[CHUNK * CP];
    LK_SHARED float betas[CHUNK], fq[CHUNK], fk[CHUNK];

    KDA_CHUNK_PLACE;

    KDA_ITEMS(i, CHUNK) {
        KDA_ITEM(i, CHUNK);
        betas[i] = i < len ? beta[bb + (long)i * bst] : 0.0f;
    }

    /* ---- 1. per K tile: gc, L2 sums, A and Aqk ---- */
    for (int t = 0; t < NKT; t++) {
        const int d0 = t * KT, first = t == 0;
        KDA_ITEMS(idx, CHUNK * KT) {
            KDA_ITEM(idx, CHUNK * KT);
            int i = idx / KT, dl = idx % KT, d = d0 + dl, ok = i < len && d < DK;
            tq[i * KTP + dl] = ok ? lk_ld(q, qb + (long)i * qst + d * qsd) : 0.0f;
            tk[i * KTP + dl] = ok ? lk_ld(k, kb + (long)i * kst + d * ksd) : 0.0f;
            float bias = GATE && dt_bias && ok ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
            tg[i * KTP + dl] = ok ? kda_log2_decay(g[gb + (long)i * gst + d * gsd], rate, bias) : 0.0f;
        }
        lk_barrier();
        KDA_ITEMS(dl, KT) { /* chunk-local cumulative decay per column */
            KDA_ITEM(dl, KT);
            float acc = 0.0f;
            for (int i = 0; i < CHUNK; i++) {
                acc += tg[i * KTP + dl];
                tg[i * KTP + dl] = acc;
            }
        }
#if L2NORM
        lk_barrier();
        KDA_ITEMS(i, CHUNK) {
            KDA_ITEM(i, CHUNK);
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
        KDA_ITEMS(e, NS * SUB * (SUB + 1) / 2) {
            KDA_ITEM(e, NS * SUB * (SUB + 1) / 2);
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
#if NS > 1
        lk_barrier();
        /* k_j 2^(gc_r - gc_j), r the last row of j's sub-chunk */
        KDA_ITEMS(idx, CHUNK * KT) {
            KDA_ITEM(idx, CHUNK * KT);
            int j = idx / KT, dl = idx % KT, r = (j / SUB) * SUB + SUB - 1;
            tw[j * KTP + dl] = tk[j * KTP + dl] * lk_exp2(tg[r * KTP + dl] - tg[j * KTP + dl]);
        }
        lk_barrier();
        /* pairs across sub-chunks: work-item strip (row i, earlier sub-chunk J), all j of J */
        KDA_ITEMS(e, SUB * NS * (NS - 1) / 2) {
            KDA_ITEM(e, SUB * NS * (NS - 1) / 2);
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

    /* ---- 2. norms and the scaling of A and Aqk ---- */
    KDA_ITEMS(i, CHUNK) {
        KDA_ITEM(i, CHUNK);
#if L2NORM
        fq[i] = scale / lk_sqrt(fq[i] + L2_EPS);
        fk[i] = 1.0f / lk_sqrt(fk[i] + L2_EPS);
#else
        fq[i] = scale;
        fk[i] = 1.0f;
#endif
    }
    lk_barrier();
    KDA_ITEMS(e, CHUNK * (CHUNK + 1) / 2) {
        KDA_ITEM(e, CHUNK * (CHUNK + 1) / 2);
        int i = tri_row(e), j = e - i * (i + 1) / 2;
        amat[i * CP + j] *= fq[i] * fk[j];
        if (j < i)
            amat[j * CP + i + 1] *= betas[i] * fk[i] * fk[j];
    }
    lk_barrier();
    KDA_ITEMS(e, CHUNK * CHUNK) {
        KDA_ITEM(e, CHUNK * CHUNK);
        int i = e / CHUNK, j = e % CHUNK;
        if (i < len)
            scr[s.a + e] = j <= i ? amat[i * CP + j] : 0.0f;
    }

    /* ---- 3. one column per work-item: qg, kg, 2^gc_last; W or U by forward substitution ---- */
    KDA_ITEMS(col, DK + DV) {
        KDA_ITEM(col, DK + DV);
        float x[CHUNK];
        if (col < DK) {
            const int d = col;
            float bias = GATE && dt_bias ? dt_bias[dt_off + hv * dt_sh + d * dt_sd] : 0.0f;
            float gc = 0.0f;
            REG_LOOP
            for (int i = 0; i < CHUNK; i++) { /* x = gc first (rows past len add nothing) */
                gc += i < len ? kda_log2_decay(g[gb + (long)i * gst + d * gsd], rate, bias) : 0.0f;
                x[i] = gc;
            }
            scr[s.gl + d] = lk_exp2(gc);
            /* kg = fk k 2^(gc_last - gc): one exponent <= 0 per row (k 2^-gc is never formed) */
            REG_LOOP
            for (int i = 0; i < CHUNK; i++) {
                int ok = i < len;
                float kv = ok ? lk_ld(k, kb + (long)i * kst + d * ksd) : 0.0f;
                float qv = ok ? lk_ld(q, qb + (long)i * qst + d * qsd) : 0.0f;
                float e = lk_exp2(x[i]);
                if (ok) {
                    scr_st(scl, s.qg + i * DK + d, fq[i] * qv * e);
                    scr_st(scl, s.kg + i * DK + d, fk[i] * kv * lk_exp2(gc - x[i]));
                }
                x[i] = betas[i] * fk[i] * kv * e;
            }
        } else {
            const int c = col - DK;
            REG_LOOP
            for (int i = 0; i < CHUNK; i++)
                x[i] = i < len ? betas[i] * lk_ld(v, vb + (long)i * vst + c * vsd) : 0.0f;
        }
        REG_LOOP
        for (int i = 1; i < CHUNK; i++) {
            REG_LOOP
            for (int j = 0; j < i; j++)
                x[i] = lk_fma(-amat[j * CP + i + 1], x[j], x[i]);
        }
        REG_LOOP
        for (int i = 0; i < CHUNK; i++) {
            if (i < len && col < DK)
                scr_st(scl, s.w + i * DK + col, x[i]);
            else if (i < len)
                scr_st(scl, s.u + i * DV + col - DK, x[i]);
        }
    }
}
