/* decode_split.h: split-over-tokens decode attention ("flash-decoding"), shared by every decode
 * kernel (dense: attention_decode.cl, sparse: kv_sparse_decode.cl, KIVI: kivi_decode.cl, low
 * rank: lowrank_decode.cl) and by the one combine kernel (decode_combine.cl).
 *
 * One decode work-group owns KVH consecutive kv heads of one batch row and the NQ = KVH * QG
 * query heads that read them (GQA: query head hq reads kv head hq / QG, so the NQ heads are
 * consecutive), over one split of the token tiles. The kernel declares the arrays below with
 * LK_DEC_LOCALS, fills a K and a V tile of BLOCK_N tokens in local memory from its own storage
 * (dense, sparse, quantized), then calls lk_dec_attend_tile (scores, online softmax, p.V for all
 * NQ heads; register-blocked, 16-byte local reads):
 *
 *   qs [NQ][D]                 q, scaled by scale * log2(e) (scores live in the exp2 domain)
 *   ks [BLOCK_N][LK_DEC_KROW]  token n, channel c = j*D + d of kv head j; rows padded by 4
 *                              floats, so the score work-items (one token each, float4 steps
 *                              along c) fall in distinct banks
 *   vs [BLOCK_N][LK_DEC_VROW]  same without padding (p.V work-items take adjacent float4s)
 *   sc [BLOCK_N][NQ]           scores, then probabilities 2^(s - m)
 *   st [3][NQ]                 running max m, running sum l, this tile's rescale alpha
 *
 *   scores   work-item (n, j): the QG scores of token n against kv head j, float4 of k read
 *            once for all QG heads (q float4s are broadcasts)
 *   softmax  work-item i < NQ: tile max, alpha, probabilities, running sum of head i
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

#define LK_DEC_NQ (KVH * QG)
#define LK_DEC_KROW (KVH * D + 4)
#define LK_DEC_VROW (KVH * D)
#define LK_DEC_NQUAD (KVH * D / 4)
#define LK_DEC_TG (WG >= LK_DEC_NQUAD ? WG / LK_DEC_NQUAD : 1)
#define LK_DEC_QPT ((LK_DEC_NQUAD + WG - 1) / WG)
#define LK_DEC_NACC (LK_DEC_QPT * QG * 4)
#define LK_DEC_NEG_INF (-INFINITY)

/* The local arrays of lk_dec_attend_tile, declared in the kernel body (16-byte aligned). */
#define LK_DEC_LOCALS                                                               \
    LK_SHARED float qs[LK_DEC_NQ * D] __attribute__((aligned(16)));                 \
    LK_SHARED float ks[BLOCK_N * LK_DEC_KROW] __attribute__((aligned(16)));         \
    LK_SHARED float vs[BLOCK_N * LK_DEC_VROW] __attribute__((aligned(16)));         \
    LK_SHARED float sc[BLOCK_N * LK_DEC_NQ] __attribute__((aligned(16)));           \
    LK_SHARED float st[3 * LK_DEC_NQ]

/* The work-item index, queried afresh at every use. PoCL 3.1 (LLVM 15) skipped the per-head
 * softmax loop of lk_dec_attend_tile when it was written `for (i = tid; i < NQ; i += WG)` with an
 * inner loop (the body never ran); the same loop with a uniform trip count and an index check
 * inside, and the index queried directly, runs on every backend. */
#define LK_DEC_TID ((int)get_local_id(0))

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
    for (int k = 0; k < LK_DEC_NACC; k++)
        acc[k] = 0.0f;
}

/* One tile of ntok >= 1 tokens (ks, vs filled, a barrier passed). Ends with a barrier after
 * which the caller may refill ks, vs. */
LK_INLINE void lk_dec_attend_tile(const LK_LOCAL_PTR float *qs, const LK_LOCAL_PTR float *ks,
                                  const LK_LOCAL_PTR float *vs, LK_LOCAL_PTR float *sc, LK_LOCAL_PTR float *st,
                                  int ntok, float *acc)
{
    for (int t0 = 0; t0 < KVH * BLOCK_N; t0 += WG) {
        int t = t0 + LK_DEC_TID, n = t % BLOCK_N, j = t / BLOCK_N;
        if (t >= KVH * BLOCK_N)
            continue;
        float s[QG];
        for (int h = 0; h < QG; h++)
            s[h] = 0.0f;
        if (n < ntok) {
            const LK_LOCAL_PTR float *kr = ks + n * LK_DEC_KROW + j * D;
            const LK_LOCAL_PTR float *qr = qs + j * QG * D;
            for (int d = 0; d < D; d += 4) {
                float4 k4 = lk_lds4(kr + d);
                for (int h = 0; h < QG; h++) {
                    float4 q4 = lk_lds4(qr + h * D + d);
                    s[h] = lk_fma(q4.x, k4.x, lk_fma(q4.y, k4.y, lk_fma(q4.z, k4.z, lk_fma(q4.w, k4.w, s[h]))));
                }
            }
        }
        for (int h = 0; h < QG; h++)
            sc[n * LK_DEC_NQ + j * QG + h] = n < ntok ? s[h] : LK_DEC_NEG_INF;
    }
    lk_barrier();
    for (int i0 = 0; i0 < LK_DEC_NQ; i0 += WG) {
        int i = i0 + LK_DEC_TID;
        if (i >= LK_DEC_NQ)
            continue;
        float m_old = st[i], mx = m_old;
        for (int n = 0; n < ntok; n++)
            mx = lk_fmax(mx, sc[n * LK_DEC_NQ + i]);
        float alpha = lk_exp2(m_old - mx); /* m_old = -inf: 0 */
        float l = st[LK_DEC_NQ + i] * alpha;
        for (int n = 0; n < ntok; n++) {
            float p = lk_exp2(sc[n * LK_DEC_NQ + i] - mx);
            sc[n * LK_DEC_NQ + i] = p;
            l += p;
        }
        st[i] = mx;
        st[LK_DEC_NQ + i] = l;
        st[2 * LK_DEC_NQ + i] = alpha;
    }
    lk_barrier();
    const int g = LK_DEC_TID / LK_DEC_NQUAD;
    for (int k = 0; k < LK_DEC_QPT; k++) {
        int c = LK_DEC_TID % LK_DEC_NQUAD + k * WG, j = c / (D / 4);
        if (g >= LK_DEC_TG || c >= LK_DEC_NQUAD)
            continue;
        float *a = acc + k * QG * 4;
        for (int h = 0; h < QG; h++) {
            float alpha = st[2 * LK_DEC_NQ + j * QG + h];
            for (int e = 0; e < 4; e++)
                a[h * 4 + e] *= alpha;
        }
        for (int n = g; n < ntok; n += LK_DEC_TG) {
            float4 v4 = lk_lds4(vs + n * LK_DEC_VROW + 4 * c);
            const LK_LOCAL_PTR float *p = sc + n * LK_DEC_NQ + j * QG;
            for (int h = 0; h < QG; h++) {
                float ph = p[h];
                a[h * 4 + 0] = lk_fma(ph, v4.x, a[h * 4 + 0]);
                a[h * 4 + 1] = lk_fma(ph, v4.y, a[h * 4 + 1]);
                a[h * 4 + 2] = lk_fma(ph, v4.z, a[h * 4 + 2]);
                a[h * 4 + 3] = lk_fma(ph, v4.w, a[h * 4 + 3]);
            }
        }
    }
    lk_barrier();
}

/* Writes this work-group's partial results: query heads hq0 .. hq0 + NQ of batch row b. The
 * token groups' accumulators are summed in qs (free after the last tile's barrier), one group
 * per step. */
LK_INLINE void lk_dec_store_partial(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits,
                                    int split, LK_LOCAL_PTR float *qs, const LK_LOCAL_PTR float *st,
                                    const float *acc)
{
    const int g = LK_DEC_TID / LK_DEC_NQUAD;
    for (int step = 0; step < LK_DEC_TG; step++) {
        for (int k = 0; k < LK_DEC_QPT; k++) {
            int c = LK_DEC_TID % LK_DEC_NQUAD + k * WG, j = c / (D / 4), d0 = 4 * (c % (D / 4));
            if (g != step || c >= LK_DEC_NQUAD)
                continue;
            for (int h = 0; h < QG; h++)
                for (int e = 0; e < 4; e++) {
                    LK_LOCAL_PTR float *r = qs + (j * QG + h) * D + d0 + e;
                    *r = (step ? *r : 0.0f) + acc[(k * QG + h) * 4 + e];
                }
        }
        lk_barrier();
    }
    long row0 = (long)b * Hq + hq0;
    for (int o = LK_DEC_TID; o < LK_DEC_NQ * D; o += WG) {
        long rec = (row0 + o / D) * splits + split;
        part[rec * D + o % D] = qs[o];
    }
    for (int i = LK_DEC_TID; i < LK_DEC_NQ; i += WG) {
        long rec = (row0 + i) * splits + split;
        part[nrec * D + 2 * rec] = st[i];
        part[nrec * D + 2 * rec + 1] = st[LK_DEC_NQ + i];
    }
}

/* The merged max M and sum L of query row r's splits (M = -inf when every split is empty). */
LK_INLINE void lk_dec_combine_stats(const LK_GLOBAL float *part, long nrec, long r, int splits, float *M, float *L)
{
    const LK_GLOBAL float *ml = part + nrec * D + 2 * r * splits;
    float mx = LK_DEC_NEG_INF, l = 0.0f;
    for (int s = 0; s < splits; s++)
        mx = lk_fmax(mx, ml[2 * s]);
    if (mx != LK_DEC_NEG_INF)
        for (int s = 0; s < splits; s++)
            l += ml[2 * s + 1] * lk_exp2(ml[2 * s] - mx);
    *M = mx;
    *L = l;
}

/* Output channel d of query row r: sum_s acc_s[d] 2^(m_s - M) / L (0 for an empty row). */
LK_INLINE float lk_dec_combine_channel(const LK_GLOBAL float *part, long nrec, long r, int splits, float M, float L,
                                       int d)
{
    if (!(L > 0.0f))
        return 0.0f;
    const LK_GLOBAL float *ml = part + nrec * D + 2 * r * splits;
    float o = 0.0f;
    for (int s = 0; s < splits; s++)
        if (ml[2 * s] != LK_DEC_NEG_INF)
            o = lk_fma(part[(r * splits + s) * D + d], lk_exp2(ml[2 * s] - M), o);
    return o / L;
}

#endif
