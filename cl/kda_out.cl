/* kda_out.cl: KDA chunkwise forward, part 3 of 3: the output of every chunk in parallel, from the
 * scratch of kda_chunk.cl (qg, Aqk) and kda_state.cl (h_j, the state entering chunk j, and Vn):
 *
 *   O = qg h_j + Aqk Vn     (Aqk is 0 above the diagonal: inclusive lower triangle)
 *
 * as one product [qg | Aqk] [h_j ; Vn] with a reduction of DK + len rows, RT at a time.
 *
 *   grid: dim 0 = HV * NJ * NVO (value head hv = id % HV, then V block of OBV columns, then chunk
 *   j of its sequence; groups past the sequence's end return), dim 1 = N sequences.
 *   work-group: OWG = ORG * OCG work-items; work-item (ri = tid / OCG, ci = tid % OCG) owns the
 *   4 x 4 outputs of chunk rows 4 ri .. 4 ri + 3 and block columns 4 ci .. 4 ci + 3.
 *
 *     local (fp32)  at [RT][CP4]   RT reduction rows of qg^T or Aqk^T (chunk row i at column i)
 *                   bt [RT][OBP]   RT rows of h_j or Vn, the block's columns
 */
#include "kda_common.h"

#define ORG ((CHUNK + 3) / 4)
#define OCG (OBV / 4)
#define OWG (ORG * OCG)
#define NVO ((DV + OBV - 1) / OBV)
#define RT 16
#define CP4 (ORG * 4 + 4)
#define OBP (OBV + 4)

LK_KERNEL LK_WG_SIZE(OWG) void kda_out(
    const LK_GLOBAL float *scr,
    LK_GLOBAL lk_t *o, long o_off, long osb, long ost, long osh, long osd,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_SHARED float at[RT * CP4] __attribute__((aligned(16)));
    LK_SHARED float bt_[RT * OBP] __attribute__((aligned(16)));

    const int tid = get_local_id(0);
    const int ri = tid / OCG, ci = tid % OCG;
    const int hv = get_group_id(0) % HV, rest = get_group_id(0) / HV;
    const int vo = rest % NVO, j0 = (rest / NVO) * CHUNK;
    const int n = get_group_id(1);
    int t0, len, bt;
    if (!kda_chunk_span(cu_seqlens, cu_off, cu_s, n, T, j0, &t0, &len, &bt))
        return;
    const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);
    const LK_GLOBAL scr_t *scl = (const LK_GLOBAL scr_t *)(scr + kda_scratch_base(HV, BT, NCH));
    const int cb = vo * OBV; /* first column of the block */

    float acc[4][4];
    REG_LOOP
    for (int a = 0; a < 4; a++) {
        REG_LOOP
        for (int b = 0; b < 4; b++)
            acc[a][b] = 0.0f;
    }

    const int nk = (DK + RT - 1) / RT, nj = (len + RT - 1) / RT;
    for (int t = 0; t < nk + nj; t++) {
        const int qpart = t < nk, r0 = qpart ? t * RT : (t - nk) * RT;
        KDA_ITEMS_OF(e, RT * CHUNK, OWG) {
            KDA_ITEM(e, RT * CHUNK);
            int i = e / RT, r = e % RT, x = r0 + r;
            float val = 0.0f;
            if (i < len && (qpart ? x < DK : x < len))
                val = qpart ? scr_ld(scl, s.qg + (long)i * DK + x) : scr[s.a + (long)i * CHUNK + x];
            at[r * CP4 + i] = val;
        }
        KDA_ITEMS_OF(e, RT * OBV, OWG) {
            KDA_ITEM(e, RT * OBV);
            int r = e / OBV, cc = e % OBV, x = r0 + r, vc = cb + cc;
            float val = 0.0f;
            if (vc < DV && (qpart ? x < DK : x < len))
                val = scr_ld(scl, (qpart ? s.h : s.u) + (long)x * DV + vc);
            bt_[r * OBP + cc] = val;
        }
        lk_barrier();
        REG_LOOP
        for (int r = 0; r < RT; r++) {
            float4 a4 = lk_lds4(at + r * CP4 + ri * 4), b4 = lk_lds4(bt_ + r * OBP + ci * 4);
            float av[4] = {a4.x, a4.y, a4.z, a4.w}, bv[4] = {b4.x, b4.y, b4.z, b4.w};
            REG_LOOP
            for (int a = 0; a < 4; a++) {
                REG_LOOP
                for (int b = 0; b < 4; b++)
                    acc[a][b] = lk_fma(av[a], bv[b], acc[a][b]);
            }
        }
        lk_barrier();
    }

    const long ob = o_off + bt * osb + hv * osh;
    REG_LOOP
    for (int a = 0; a < 4; a++) {
        int i = ri * 4 + a;
        REG_LOOP
        for (int b = 0; b < 4; b++) {
            int col = cb + ci * 4 + b;
            if (i < len && col < DV)
                lk_st(o, ob + (long)(t0 + i) * ost + col * osd, acc[a][b]);
        }
    }
}
