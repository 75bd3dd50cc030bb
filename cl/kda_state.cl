/* kda_state.cl: KDA chunkwise forward, part 2 of 2: the state recurrence. One work-group per
 * (sequence, value head, V block of BV columns) walks the chunks of its sequence in order and
 * does only what depends on the carried state, from the scratch that kda_chunk.cl wrote (layout
 * and tensors: kda_common.h):
 *
 *   Vn = U - W S;   O = qg S + Aqk Vn;   S = Diag(2^gc_last) S + kg^T Vn
 *
 *   grid: dim 0 = HV * ceil(DV / BV) (head, V block), dim 1 = N; work-group = WG work-items,
 *   work-item (c = tid % BV, rg = tid / BV) of NRG = WG / BV row groups owns column c of the
 *   block, the RI consecutive chunk rows i = rg RI + m for W S, qg S, Vn and O, and the RK
 *   consecutive state rows d0 + rg RK + m of each K tile of KS rows for the update (RI and RK
 *   multiples of 4, read as float4; rows past CHUNK or KS are computed on garbage and dropped).
 *
 *     local (fp32)  st [NKS KS][BV]           the state block (rows past DK zeros)
 *                   vn [CHUNK][BV]            the pseudo-values Vn (rows past the chunk's end zeros)
 *                   tiles: tw, tq [KS][CPS]    one K tile of W and qg, transposed (chunk row i at
 *                                              column i); then
 *                          ta [CHUNK][CHUNK]   Aqk of the chunk (the same space)
 *                          tk [CHUNK][KSP]     one K tile of kg (the same space)
 *   private         pw, pq [RI]               rows of W S and qg S;  acc [RK] rows of the new S
 */
#include "kda_common.h"

#define NVB ((DV + BV - 1) / BV)
#define NRG (WG / BV)
#define RI (((CHUNK + NRG - 1) / NRG + 3) / 4 * 4)
#define RK (((KS + NRG - 1) / NRG + 3) / 4 * 4)
#define NKS ((DK + KS - 1) / KS)
#define SROWS (NKS * KS)
#define CPS (NRG * RI + 4) /* row strides of tw, tq and tk (16-byte rows; + 4 spreads the */
#define KSP (NRG * RK + 4) /* banks of the stores) */
#define KDA_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TILES KDA_MAX(KDA_MAX(2 * KS * CPS, CHUNK * KSP), CHUNK * CHUNK)

LK_KERNEL LK_WG_SIZE(WG) void kda_state(
    const LK_GLOBAL float *scr,
    LK_GLOBAL lk_t *o, long o_off, long osb, long ost, long osh, long osd,
    const LK_GLOBAL float *h0, long h0_off, long h0sn, long h0sh, long h0sk, long h0sv,
    LK_GLOBAL float *ht, long ht_off, long htsn, long htsh, long htsk, long htsv,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_SHARED float st[SROWS * BV];
    LK_SHARED float vn[CHUNK * BV];
    LK_SHARED float tiles[TILES] __attribute__((aligned(16)));
    LK_LOCAL_PTR float *tw = tiles, *tq = tiles + KS * CPS, *ta = tiles, *tk = tiles;

    const int tid = get_local_id(0);
    const int c = tid % BV, rg = tid / BV;
    const int hv = get_group_id(0) / NVB, vblk = get_group_id(0) % NVB;
    const int n = get_group_id(1);
    const int col = vblk * BV + c;
    int bos, eos, bt;
    kda_sequence(cu_seqlens, cu_off, cu_s, n, T, &bos, &eos, &bt);
    const long ob = o_off + bt * osb + hv * osh;

    /* h0 and ht: element (d, cc) is read and written by the same work-item (ht may be h0) */
    KDA_ITEMS(e, SROWS * BV) {
        KDA_ITEM(e, SROWS * BV);
        int d = e / BV, vc = vblk * BV + e % BV;
        float x = 0.0f;
#if HAS_H0
        if (d < DK && vc < DV)
            x = h0[h0_off + n * h0sn + hv * h0sh + d * h0sk + vc * h0sv];
#endif
        st[e] = x;
    }
    lk_barrier();

    for (int t0 = bos; t0 < eos; t0 += CHUNK) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);

        /* W S and qg S, K tile by K tile */
        float pw[RI], pq[RI];
        REG_LOOP
        for (int m = 0; m < RI; m++)
            pw[m] = pq[m] = 0.0f;
        for (int t = 0; t < NKS; t++) {
            const int d0 = t * KS;
            KDA_ITEMS(idx, CHUNK * KS) {
                KDA_ITEM(idx, CHUNK * KS);
                int i = idx / KS, dl = idx % KS, d = d0 + dl, ok = i < len && d < DK;
                tw[dl * CPS + i] = ok ? scr[s.w + i * DK + d] : 0.0f;
                tq[dl * CPS + i] = ok ? scr[s.qg + i * DK + d] : 0.0f;
            }
            lk_barrier();
            for (int dl = 0; dl < KS; dl++) {
                const float sd = st[(d0 + dl) * BV + c];
                LK_LOCAL_PTR const float *wr = tw + dl * CPS + rg * RI, *qr = tq + dl * CPS + rg * RI;
                REG_LOOP
                for (int m = 0; m < RI; m += 4) {
                    float4 w4 = lk_lds4(wr + m), q4 = lk_lds4(qr + m);
                    pw[m] = lk_fma(w4.x, sd, pw[m]);
                    pw[m + 1] = lk_fma(w4.y, sd, pw[m + 1]);
                    pw[m + 2] = lk_fma(w4.z, sd, pw[m + 2]);
                    pw[m + 3] = lk_fma(w4.w, sd, pw[m + 3]);
                    pq[m] = lk_fma(q4.x, sd, pq[m]);
                    pq[m + 1] = lk_fma(q4.y, sd, pq[m + 1]);
                    pq[m + 2] = lk_fma(q4.z, sd, pq[m + 2]);
                    pq[m + 3] = lk_fma(q4.w, sd, pq[m + 3]);
                }
            }
            lk_barrier();
        }

        /* Vn = U - W S (zero past the chunk's end) and Aqk into local memory, then O = qg S + Aqk Vn */
        REG_LOOP
        for (int m = 0; m < RI; m++) {
            int i = rg * RI + m;
            if (i < CHUNK) {
                float u = i < len && col < DV ? scr[s.u + i * DV + col] : 0.0f;
                vn[i * BV + c] = i < len ? u - pw[m] : 0.0f;
            }
        }
        KDA_ITEMS(e, CHUNK * CHUNK) {
            KDA_ITEM(e, CHUNK * CHUNK);
            ta[e] = e / CHUNK < len ? scr[s.a + e] : 0.0f;
        }
        lk_barrier();
        REG_LOOP
        for (int m = 0; m < RI; m++) {
            int i = rg * RI + m;
            if (i < len && col < DV) {
                float acc = pq[m];
                for (int j = 0; j <= i; j++)
                    acc = lk_fma(ta[i * CHUNK + j], vn[j * BV + c], acc);
                lk_st(o, ob + (long)(t0 + i) * ost + col * osd, acc);
            }
        }
        lk_barrier(); /* ta and tk share space */

        /* S = Diag(2^gc_last) S + kg^T Vn, K tile by K tile */
        for (int t = 0; t < NKS; t++) {
            const int d0 = t * KS;
            KDA_ITEMS(idx, CHUNK * KS) {
                KDA_ITEM(idx, CHUNK * KS);
                int i = idx / KS, dl = idx % KS, d = d0 + dl;
                tk[i * KSP + dl] = i < len && d < DK ? scr[s.kg + i * DK + d] : 0.0f;
            }
            lk_barrier();
            float acc[RK];
            REG_LOOP
            for (int m = 0; m < RK; m++) {
                int dl = rg * RK + m, d = d0 + dl;
                acc[m] = dl < KS && d < DK ? st[d * BV + c] * scr[s.gl + d] : 0.0f;
            }
            for (int i = 0; i < CHUNK; i++) {
                const float x = vn[i * BV + c];
                LK_LOCAL_PTR const float *kr = tk + i * KSP + rg * RK;
                REG_LOOP
                for (int m = 0; m < RK; m += 4) {
                    float4 k4 = lk_lds4(kr + m);
                    acc[m] = lk_fma(k4.x, x, acc[m]);
                    acc[m + 1] = lk_fma(k4.y, x, acc[m + 1]);
                    acc[m + 2] = lk_fma(k4.z, x, acc[m + 2]);
                    acc[m + 3] = lk_fma(k4.w, x, acc[m + 3]);
                }
            }
            REG_LOOP
            for (int m = 0; m < RK; m++) {
                int dl = rg * RK + m;
                if (dl < KS)
                    st[(d0 + dl) * BV + c] = acc[m];
            }
            lk_barrier();
        }
    }

#if HAS_HT
    KDA_ITEMS(e, SROWS * BV) {
        KDA_ITEM(e, SROWS * BV);
        int d = e / BV, vc = vblk * BV + e % BV;
        if (d < DK && vc < DV)
            ht[ht_off + n * htsn + hv * htsh + d * htsk + vc * htsv] = st[e];
    }
#endif
}
