/* decode_split.h: split-over-tokens decode attention ("flash-decoding"), shared by every decode
 * kernel (dense: attention_decode.cl, sparse: kv_sparse_decode.cl, KIVI) and by the one combine
 * kernel (decode_combine.cl).
 *
 * One decode work-group owns KVH consecutive kv heads of one batch row and the NQ = KVH * QG
 * query heads that read them (GQA: query head hq reads kv head hq / QG, so the NQ heads are
 * consecutive), over one split of the token tiles. The kernel fills a K and a V tile of BLOCK_N
 * tokens in local memory from its own storage (dense, sparse, quantized), then calls
 * lk_dec_attend_tile, which does scores, the online softmax and p.V for all NQ heads:
 *
 *   qs [NQ][D]                 q, scaled by scale * log2(e) (scores live in the exp2 domain)
 *   ks [BLOCK_N][LK_DEC_KROW]  token n, channel c = j*D + d of kv head j (row padded by one
 *                              float so the score threads, one token each, hit distinct banks)
 *   vs [BLOCK_N][LK_DEC_VROW]  same without padding (p.V threads walk d)
 *   sc [NQ][BLOCK_N]           scores, then probabilities 2^(s - m)
 *   st [3][NQ]                 running max m, running sum l, this tile's rescale alpha
 *   acc (private)              output element o = tid + k*WG (head o / D, channel o % D)
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
#define LK_DEC_KROW (KVH * D + 1)
#define LK_DEC_VROW (KVH * D)
#define LK_DEC_NACC ((LK_DEC_NQ * D + WG - 1) / WG)
#define LK_DEC_NEG_INF (-INFINITY)

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
    for (int t = LK_DEC_TID; t < LK_DEC_NQ * BLOCK_N; t += WG) {
        int i = t / BLOCK_N, n = t % BLOCK_N, j = i / QG;
        float s = LK_DEC_NEG_INF;
        if (n < ntok) {
            const LK_LOCAL_PTR float *kr = ks + n * LK_DEC_KROW + j * D;
            const LK_LOCAL_PTR float *qr = qs + i * D;
            s = 0.0f;
            for (int d = 0; d < D; d++)
                s = lk_fma(qr[d], kr[d], s);
        }
        sc[t] = s;
    }
    lk_barrier();
    for (int i0 = 0; i0 < LK_DEC_NQ; i0 += WG) {
        int i = i0 + LK_DEC_TID;
        if (i >= LK_DEC_NQ)
            continue;
        LK_LOCAL_PTR float *row = sc + i * BLOCK_N;
        float m_old = st[i], mx = m_old;
        for (int n = 0; n < ntok; n++)
            mx = lk_fmax(mx, row[n]);
        float alpha = lk_exp2(m_old - mx); /* m_old = -inf: 0 */
        float l = st[LK_DEC_NQ + i] * alpha;
        for (int n = 0; n < ntok; n++) {
            float p = lk_exp2(row[n] - mx);
            row[n] = p;
            l += p;
        }
        st[i] = mx;
        st[LK_DEC_NQ + i] = l;
        st[2 * LK_DEC_NQ + i] = alpha;
    }
    lk_barrier();
    for (int k = 0; k < LK_DEC_NACC; k++) {
        int o = LK_DEC_TID + k * WG;
        if (o < LK_DEC_NQ * D) {
            int i = o / D, d = o % D, j = i / QG;
            const LK_LOCAL_PTR float *p = sc + i * BLOCK_N;
            const LK_LOCAL_PTR float *vc = vs + j * D + d;
            float a = acc[k] * st[2 * LK_DEC_NQ + i];
            for (int n = 0; n < ntok; n++)
                a = lk_fma(p[n], vc[n * LK_DEC_VROW], a);
            acc[k] = a;
        }
    }
    lk_barrier();
}

/* Writes this work-group's partial results: query heads hq0 .. hq0 + NQ of batch row b. */
LK_INLINE void lk_dec_store_partial(LK_GLOBAL float *part, long nrec, int Hq, int b, int hq0, int splits,
                                    int split, const LK_LOCAL_PTR float *st, const float *acc)
{
    long row0 = (long)b * Hq + hq0;
    for (int k = 0; k < LK_DEC_NACC; k++) {
        int o = LK_DEC_TID + k * WG;
        if (o < LK_DEC_NQ * D) {
            long rec = (row0 + o / D) * splits + split;
            part[rec * D + o % D] = acc[k];
        }
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
