/* decode_split.h: split-over-tokens decode attention ("flash-decoding"), shared by every decode
 * kernel (dense: attention_decode.cl, sparse: kv_sparse_decode.cl, KIVI: kivi_decode.cl, low
 * rank: lowrank_decode.cl) and by the one combine kernel (decode_combine.cl).
 *
 * One decode work-group owns KVH consecutive kv heads of one batch row and the NQ = KVH * QG
 * query heads that read them (GQA: query head hq reads kv head hq / QG, so the NQ heads are
 * consecutive), over one split of the token tiles. A tile kernel declares the arrays below with
 * LK_DEC_LOCALS, fills a K and a V tile of BLOCK_N tokens in local memory from its own storage
 * (dense, sparse, quantized), then calls lk_dec_attend_tile (scores, online softmax, p.V for all
 * NQ heads; register-blocked, 16-byte local reads). A direct kernel (DIRECT 1: kivi_direct.h,
 * kv_sparse_direct.h) reads its storage in its own score and p.V phases and shares the rest
 * (LK_DEC_SOFTMAX_LOCALS, lk_dec_softmax, lk_dec_pv_quad / lk_dec_pv_add, lk_dec_store_partial).
 * The tensor-core variants (DIRECT 2, 3) keep only the split and the records of this file and
 * run decode_mma.h warp by warp. The arrays of the others:
 *
 *   qs [NQ][D]                 q, scaled by scale * log2(e) (scores live in the exp2 domain)
 *   ks [BLOCK_N][LK_DEC_KROW]  token n, channel c = j*D + d of kv head j; rows padded by 4
 *                              floats, so the score work-items (one token each, float4 steps
 *                              along c) fall in distinct banks
 *   vs [BLOCK_N][LK_DEC_VROW]  same without padding (p.V work-items take adjacent float4s)
 *   sp [DQ][BLOCK_N][NQ]       partial scores (DQ per score; a direct kernel's own count),
 *                              then probabilities 2^(s - m)
 *   sc [NQ][BLOCK_N]           scores
 *   st [3][NQ]                 running max m, running sum l, this tile's rescale alpha
 *
 *   scores   work-item (n, j, slice): QG partial scores of token n against kv head j over D/DQ
 *            channels, float8 of k read once for all QG heads (q float4s are broadcasts)
 *   softmax  pair (n, i) per work-item step: sum of the partials, tile max, alpha, p
 *   p.V      work-item t: channel quad c = t % NQUAD (kv head c / (D/4)), token group
 *            g = t / NQUAD of TG = WG / NQUAD groups (tokens g, g + TG, ...); acc (private)
 *            holds [QPT quads][QG heads][4] floats. The TG groups are summed once per split
 *            (lk_dec_store_partial, through qs).
 *
 * Partial results of split s for query row r = b*Hq + hq, record i = r*splits + s, in one
 * float buffer of nrec = B*Hq*splits records:
 *   part[i*D + d]              unnormalised accumulator sum_n 2^(s_n - m) v_n
 *   part[nrec*D + 2*i + 0]     m, the split's max score (exp2 domain), -inf for an empty split
 *   part[nrec*D + 2*i + 1]     l, sum_n 2^(s_n - m)
 * The combine merges the splits of a row: M = max m_s, L = sum l_s 2^(m_s - M),
 * o = sum acc_s 2^(m_s - M) / L, lse = (M + log2 L) ln 2.
 */
#ifndef LK_DECODE_SPLIT_H
#define LK_DECODE_SPLIT_H

#ifndef D
#define D 128
#endif
#ifndef QG
#define QG 1 /* query heads per kv head */
#endif
#ifndef KVH
#define KVH 1 /* kv heads per work-group */
#endif
#ifndef BLOCK_N
#define BLOCK_N 16 /* tokens per tile */
#endif
#ifndef WG
#define WG 128
#endif
/* Tile element type: 0 fp32 (loaders that dequantize write floats), 1 fp16 bits (ushort; the
 * dense f16 kernel stores its 16-byte global chunks unconverted, half the local bytes and one
 * store per chunk). */
#ifndef LK_DEC_HALF
#define LK_DEC_HALF 0
#endif
#if LK_DEC_HALF
typedef ushort lk_dec_el;
#define LK_DEC_PAD 8
#else
typedef float lk_dec_el;
#define LK_DEC_PAD 4
#endif

#define LK_DEC_NQ (KVH * QG)
#define LK_DEC_KROW (KVH * D + LK_DEC_PAD) /* padded by 16 bytes: rows fall in distinct banks */
#define LK_DEC_VROW (KVH * D)
#define LK_DEC_NQUAD (KVH * D / 4)
#define LK_DEC_TG (WG >= LK_DEC_NQUAD ? WG / LK_DEC_NQUAD : 1)
#define LK_DEC_QPT ((LK_DEC_NQUAD + WG - 1) / WG)
/* Score phase: DQ slices of D/DQ channels (a multiple of 8) per (token, kv head), about 128
 * work-items in all, so the q.k chain is short and every warp has work. */
#define LK_DEC_DQR (128 / (KVH * BLOCK_N))
#define LK_DEC_DQP (LK_DEC_DQR >= 16 ? 16 : LK_DEC_DQR >= 8 ? 8 : LK_DEC_DQR >= 4 ? 4 : LK_DEC_DQR >= 2 ? 2 : 1)
#define LK_DEC_DQ (LK_DEC_DQP > D / 8 ? D / 8 : LK_DEC_DQP)
#define LK_DEC_DSL (D / LK_DEC_DQ)
#define LK_DEC_NS (KVH * BLOCK_N * LK_DEC_DQ)
/* Softmax phase: one (token, query head) pair per work-item step. */
#define LK_DEC_NPAIR (BLOCK_N * LK_DEC_NQ)
#define LK_DEC_PPT ((LK_DEC_NPAIR + WG - 1) / WG)
/* Private state (acc): [QPT quads][QG heads][4] accumulators, [QPT][QG] running sums of p,
 * [PPT] running maxima of the pairs' heads. */
#define LK_DEC_ACC_L (LK_DEC_QPT * QG * 4)
#define LK_DEC_ACC_M (LK_DEC_ACC_L + LK_DEC_QPT * QG)
#define LK_DEC_NACC (LK_DEC_ACC_M + LK_DEC_PPT)
#define LK_DEC_NEG_INF (-INFINITY)

/* The local arrays of lk_dec_attend_tile, declared in the kernel body (16-byte aligned):
 * LK_DEC_SOFTMAX_LOCALS(dq) alone for a kernel that reads its keys and values itself and leaves
 * dq partial scores per (token, head). */
#define LK_DEC_SOFTMAX_LOCALS(dq)                                                   \
    LK_SHARED float qs[LK_DEC_NQ * D] __attribute__((aligned(16)));                 \
    LK_SHARED float sc[BLOCK_N * LK_DEC_NQ] __attribute__((aligned(16)));           \
    LK_SHARED float sp[(dq) * BLOCK_N * LK_DEC_NQ] __attribute__((aligned(16)));    \
    LK_SHARED float st[3 * LK_DEC_NQ]
#define LK_DEC_LOCALS                                                               \
    LK_DEC_SOFTMAX_LOCALS(LK_DEC_DQ);                                               \
    LK_SHARED lk_dec_el ks[BLOCK_N * LK_DEC_KROW] __attribute__((aligned(16)));     \
    LK_SHARED lk_dec_el vs[BLOCK_N * LK_DEC_VROW] __attribute__((aligned(16)))

/* The work-item index, queried afresh at every use. PoCL 3.1 (LLVM 15) skipped the per-head
 * softmax loop of lk_dec_attend_tile when it was written `for (i = tid; i < NQ; i += WG)` with an
 * inner loop (the body never ran); the same loop with a uniform trip count and an index check
 * inside, and the index queried directly, runs on every backend. */
#define LK_DEC_TID ((int)get_local_id(0))

/* Eight (p 16-byte aligned) and four (8-byte aligned) tile elements as floats. */
LK_INLINE void lk_dec_ld8(const LK_LOCAL_PTR lk_dec_el *p, float *o)
{
#if LK_DEC_HALF
    lk_half8_bits_to_float(*(const LK_LOCAL_PTR uint4 *)p, o);
#else
    float4 a = lk_lds4(p), b = lk_lds4(p + 4);
    o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
    o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
#endif
}

LK_INLINE void lk_dec_ld4(const LK_LOCAL_PTR lk_dec_el *p, float *o)
{
#if LK_DEC_HALF
    lk_half4_bits_to_float(*(const LK_LOCAL_PTR uint2 *)p, o);
#else
    float4 a = lk_lds4(p);
    o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w;
#endif
}

/* One tile element from a float. */
#if LK_DEC_HALF
#define lk_dec_put(p, i, v) lk_float_to_half((LK_LOCAL_PTR half *)(p), (i), (v))
#else
#define lk_dec_put(p, i, v) ((p)[i] = (v))
#endif

/* Split `split` of `splits` covers tiles [lk_dec_split_first(split), lk_dec_split_first(split + 1))
 * of ntiles (possibly none). */
LK_INLINE int lk_dec_split_first(int ntiles, int splits, int split)
{
    int t = split * ((ntiles + splits - 1) / splits);
    return t < ntiles ? t : ntiles;
}

/* Running state and accumulators before the first tile. */
LK_INLINE void lk_dec_begin(LK_LOCAL_PTR float *st, float *acc)
{
    for (int i = LK_DEC_TID; i < LK_DEC_NQ; i += WG) {
        st[i] = LK_DEC_NEG_INF;
        st[LK_DEC_NQ + i] = 0.0f;
    }
    for (int k = 0; k < LK_DEC_ACC_M; k++)
        acc[k] = 0.0f;
    for (int k = 0; k < LK_DEC_PPT; k++)
        acc[LK_DEC_ACC_M + k] = LK_DEC_NEG_INF;
}

/* Score phase of lk_dec_attend_tile: work-item (n, j, slice) takes the QG partial dot products of
 * token n with q over D/DQ channels of kv head j -> sp. */
LK_INLINE void lk_dec_scores(const LK_LOCAL_PTR float *qs, const LK_LOCAL_PTR lk_dec_el *ks, LK_LOCAL_PTR float *sp,
                             int ntok)
{
    for (int t0 = 0; t0 < LK_DEC_NS; t0 += WG) {
        int t = t0 + LK_DEC_TID, n = t % BLOCK_N, jq = t / BLOCK_N, j = jq / LK_DEC_DQ, qq = jq % LK_DEC_DQ;
        if (t >= LK_DEC_NS || n >= ntok)
            continue;
        float s[QG];
        for (int h = 0; h < QG; h++)
            s[h] = 0.0f;
        const LK_LOCAL_PTR lk_dec_el *kr = ks + n * LK_DEC_KROW + j * D + qq * LK_DEC_DSL;
        const LK_LOCAL_PTR float *qr = qs + j * QG * D + qq * LK_DEC_DSL;
        for (int d = 0; d < LK_DEC_DSL; d += 8) {
            float k8[8];
            lk_dec_ld8(kr + d, k8);
            for (int h = 0; h < QG; h++) {
                float4 qa = lk_lds4(qr + h * D + d), qb = lk_lds4(qr + h * D + d + 4);
                s[h] = lk_fma(qa.x, k8[0], lk_fma(qa.y, k8[1], lk_fma(qa.z, k8[2], lk_fma(qa.w, k8[3], s[h]))));
                s[h] = lk_fma(qb.x, k8[4], lk_fma(qb.y, k8[5], lk_fma(qb.z, k8[6], lk_fma(qb.w, k8[7], s[h]))));
            }
        }
        for (int h = 0; h < QG; h++)
            sp[(qq * BLOCK_N + n) * LK_DEC_NQ + j * QG + h] = s[h];
    }
    lk_barrier();
}

/* Score units of the direct kernels (kivi_direct.h, kv_sparse_direct.h): a unit takes a run of
 * tpi consecutive tokens of the tile (at most LK_DEC_RUN_MAX: 16 accumulators per work-item)
 * against one slice of the channels; LK_DEC_SLICES(tpi) slices, the partial scores per
 * (token, head) that lk_dec_softmax sums. */
#define LK_DEC_RUN_MAX (16 / QG >= 16 ? 16 : 16 / QG >= 8 ? 8 : 16 / QG >= 4 ? 4 : 2)
#define LK_DEC_SLICES(tpi) (WG >= BLOCK_N / (tpi) ? WG / (BLOCK_N / (tpi)) : 1)

/* s[i*QG + h] += q[h][c] * k for the QG heads of kv head 0 (KVH 1). */
LK_INLINE void lk_dec_run_fma(float *s, int i, const LK_LOCAL_PTR float *qs, int c, float k)
{
    for (int h = 0; h < QG; h++)
        s[i * QG + h] = lk_fma(qs[h * D + c], k, s[i * QG + h]);
}

/* A unit's scores s[i*QG + h] of tokens n0 .. n0 + tpi, slice z -> sp. */
LK_INLINE void lk_dec_run_store(LK_LOCAL_PTR float *sp, int z, int n0, int tpi, const float *s)
{
    for (int i = 0; i < tpi; i++)
        for (int h = 0; h < QG; h++)
            sp[(z * BLOCK_N + n0 + i) * LK_DEC_NQ + h] = s[i * QG + h];
}

/* Softmax phases of a tile of ntok tokens, after a score phase that left dq partial scores per
 * (token, query head) in sp[(slice * BLOCK_N + n) * NQ + i] and a barrier:
 *   sum      pair (n, i): s = sum of the dq partials -> sc[i][n] (-inf past ntok)
 *   softmax  pair (n, i): tile max of head i (its running max m is private: every pair of head
 *            i computes the same value), alpha = 2^(m_old - m) -> st, p = 2^(s - m) -> sp[n][i]
 * Ends with a barrier. */
LK_INLINE void lk_dec_softmax(LK_LOCAL_PTR float *sc, LK_LOCAL_PTR float *sp, LK_LOCAL_PTR float *st, int ntok,
                              int dq, float *acc)
{
    float sv[LK_DEC_PPT];
    for (int k = 0; k < LK_DEC_PPT; k++) {
        int p = LK_DEC_TID + k * WG, n = p / LK_DEC_NQ, i = p % LK_DEC_NQ;
        sv[k] = LK_DEC_NEG_INF;
        if (p >= LK_DEC_NPAIR)
            continue;
        if (n < ntok) {
            float s = 0.0f;
            for (int qq = 0; qq < dq; qq++)
                s += sp[(qq * BLOCK_N + n) * LK_DEC_NQ + i];
            sv[k] = s;
        }
        sc[i * BLOCK_N + n] = sv[k];
    }
    lk_barrier();
    for (int k = 0; k < LK_DEC_PPT; k++) {
        int p = LK_DEC_TID + k * WG, n = p / LK_DEC_NQ, i = p % LK_DEC_NQ;
        if (p >= LK_DEC_NPAIR)
            continue;
        float m_old = acc[LK_DEC_ACC_M + k], mx = m_old;
        const LK_LOCAL_PTR float *row = sc + i * BLOCK_N;
#if BLOCK_N % 4 == 0
        for (int u = 0; u < BLOCK_N; u += 4) {
            float4 x = lk_lds4(row + u);
            mx = lk_fmax(mx, lk_fmax(lk_fmax(x.x, x.y), lk_fmax(x.z, x.w)));
        }
#else
        for (int u = 0; u < BLOCK_N; u++)
            mx = lk_fmax(mx, row[u]);
#endif
        acc[LK_DEC_ACC_M + k] = mx;
        sp[n * LK_DEC_NQ + i] = lk_exp2(sv[k] - mx); /* -inf past ntok: 0 */
        if (n == 0) {
            st[i] = mx;
            st[2 * LK_DEC_NQ + i] = lk_exp2(m_old - mx); /* m_old = -inf: 0 */
        }
    }
    lk_barrier();
}

/* The p.V work-item of this work-item's k-th channel quad: *c gets the quad, *j its kv head;
 * 0 if the work-item has no such quad or no token group. The quad's accumulators are rescaled by
 * the tile's alpha (after lk_dec_softmax). */
LK_INLINE int lk_dec_pv_quad(LK_LOCAL_PTR float *st, int k, float *acc, int *c, int *j)
{
    *c = LK_DEC_TID % LK_DEC_NQUAD + k * WG;
    *j = *c / (D / 4);
    if (LK_DEC_TID / LK_DEC_NQUAD >= LK_DEC_TG || *c >= LK_DEC_NQUAD)
        return 0;
    float *a = acc + k * QG * 4, *la = acc + LK_DEC_ACC_L + k * QG;
    for (int h = 0; h < QG; h++) {
        float alpha = st[2 * LK_DEC_NQ + *j * QG + h];
        for (int e = 0; e < 4; e++)
            a[h * 4 + e] *= alpha;
        la[h] *= alpha;
    }
    return 1;
}

/* acc of quad k += p[h] * v4 for the QG heads of kv head j, p = sp[n][j*QG ..] (lk_dec_softmax). */
LK_INLINE void lk_dec_pv_add(const LK_LOCAL_PTR float *sp, int n, int j, int k, const float *v4, float *acc)
{
    float *a = acc + k * QG * 4, *la = acc + LK_DEC_ACC_L + k * QG;
    const LK_LOCAL_PTR float *p = sp + n * LK_DEC_NQ + j * QG;
    for (int h = 0; h < QG; h++) {
        float ph = p[h];
        a[h * 4 + 0] = lk_fma(ph, v4[0], a[h * 4 + 0]);
        a[h * 4 + 1] = lk_fma(ph, v4[1], a[h * 4 + 1]);
        a[h * 4 + 2] = lk_fma(ph, v4[2], a[h * 4 + 2]);
        a[h * 4 + 3] = lk_fma(ph, v4[3], a[h * 4 + 3]);
        la[h] += ph;
    }
}

/* One tile of ntok >= 1 tokens (ks, vs filled, a barrier passed). Ends with a barrier after
 * which the caller may refill ks, vs. Phases, every work-item busy in each: lk_dec_scores,
 * lk_dec_softmax, then p.V: work-item (quad c, token group g): acc = acc*alpha + sum_n p v, and
 * the running sum of p (so l needs no serial pass); groups merged in lk_dec_store_partial. */
LK_INLINE void lk_dec_attend_tile(const LK_LOCAL_PTR float *qs, const LK_LOCAL_PTR lk_dec_el *ks,
                                  const LK_LOCAL_PTR lk_dec_el *vs, LK_LOCAL_PTR float *sc, LK_LOCAL_PTR float *sp,
                                  LK_LOCAL_PTR float *st, int ntok, float *acc)
{
    lk_dec_scores(qs, ks, sp, ntok);
    lk_dec_softmax(sc, sp, st, ntok, LK_DEC_DQ, acc);
    for (int k = 0; k < LK_DEC_QPT; k++) {
        int c, j;
        if (!lk_dec_pv_quad(st, k, acc, &c, &j))
            continue;
        for (int n = LK_DEC_TID / LK_DEC_NQUAD; n < ntok; n += LK_DEC_TG) {
            float v4[4];
            lk_dec_ld4(vs + n * LK_DEC_VROW + 4 * c, v4);
            lk_dec_pv_add(sp, n, j, k, v4, acc);
        }
    }
    lk_barrier();
}

/* Writes the split's running max m and sum l (st) of query heads hq0 .. hq0 + NQ of batch row b. */
LK_INLINE void lk_dec_store_ml(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits, int split,
                               const LK_LOCAL_PTR float *st)
{
    for (int i = LK_DEC_TID; i < LK_DEC_NQ; i += WG) {
        long rec = ((long)b * Hq + hq0 + i) * splits + split;
        part[nrec * D + 2 * rec] = st[i];
        part[nrec * D + 2 * rec + 1] = st[LK_DEC_NQ + i];
    }
}

/* Writes this work-group's partial results: query heads hq0 .. hq0 + NQ of batch row b. The
 * token groups' accumulators are summed in qs (free after the last tile's barrier) and their
 * sums of p in st[NQ..], one group per step (the work-item of a kv head's first quad adds l). */
LK_INLINE void lk_dec_store_partial(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits,
                                    int split, LK_LOCAL_PTR float *qs, LK_LOCAL_PTR float *st,
                                    const float *acc)
{
    const int g = LK_DEC_TID / LK_DEC_NQUAD;
    for (int step = 0; step < LK_DEC_TG; step++) {
        for (int k = 0; k < LK_DEC_QPT; k++) {
            int c = LK_DEC_TID % LK_DEC_NQUAD + k * WG, j = c / (D / 4), d0 = 4 * (c % (D / 4));
            if (g != step || c >= LK_DEC_NQUAD)
                continue;
            for (int h = 0; h < QG; h++) {
                for (int e = 0; e < 4; e++) {
                    LK_LOCAL_PTR float *r = qs + (j * QG + h) * D + d0 + e;
                    *r = (step ? *r : 0.0f) + acc[(k * QG + h) * 4 + e];
                }
                if (d0 == 0) {
                    LK_LOCAL_PTR float *l = st + LK_DEC_NQ + j * QG + h;
                    *l = (step ? *l : 0.0f) + acc[LK_DEC_ACC_L + k * QG + h];
                }
            }
        }
        lk_barrier();
    }
    long row0 = (long)b * Hq + hq0;
    for (int o = LK_DEC_TID; o < LK_DEC_NQ * D; o += WG) {
        long rec = (row0 + o / D) * splits + split;
        part[rec * D + o % D] = qs[o];
    }
    lk_dec_store_ml(part, nrec, Hq, b, hq0, splits, split, st);
}

/* (m, l) <- the merge of (m, l) and (m2, l2): the larger max, sums rescaled to it. */
LK_INLINE void lk_dec_merge_ml(float *m, float *l, float m2, float l2)
{
    float mx = lk_fmax(*m, m2);
    if (mx == LK_DEC_NEG_INF)
        return;
    *l = (*m == LK_DEC_NEG_INF ? 0.0f : *l * lk_exp2(*m - mx)) + (m2 == LK_DEC_NEG_INF ? 0.0f : l2 * lk_exp2(m2 - mx));
    *m = mx;
}

#endif
