/* kda_state.cl: KDA chunkwise forward, part 2 of 3: the state recurrence alone. One work-group per
 * (sequence, value head, V block of BV columns) walks the chunks of its sequence in order, from
 * the scratch that kda_chunk.cl wrote (layout and tensors: kda_common.h), and does only
 *
 *   h_j = S (stored for kda_out.cl);   Vn = U - W S (stored over U);   S = Diag(2^gc_last) S + kg^T Vn
 *
 * The output O = qg h_j + Aqk Vn is left to kda_out.cl, parallel over chunks.
 *
 *   grid: dim 0 = HV * ceil(DV / BV) (head, V block), dim 1 = N; work-group = WG work-items,
 *   work-item (c = tid % BV, rg = tid / BV) of NRG = WG / BV row groups owns column c of the block
 *   and, of every K tile of KS rows, the RK consecutive state rows d0 + rg RK + m: the state lives
 *   in registers (sreg), never in local memory.
 *
 *   W S: each work-item forms the partial products of its own state rows for every chunk row
 *   (p[CHUNK], read W as float4 along its rows), the NRG partials of a column meet in local memory
 *   (red), and work-item (c, rg) sums the RI chunk rows rg RI .. into Vn. The update reads kg the
 *   same way and Vn from local memory.
 *
 *   The W and kg tiles stream through one local tile; the next tile (the next chunk's first W
 *   tile after the last kg tile) is loaded into registers (stage, PF floats per work-item) while
 *   the current one is used, so global latency overlaps the arithmetic.
 *
 *     local (fp32)  tile [CHUNK][KSP]       one K tile of W or kg (row i, state row dl at i KSP + dl)
 *                   red  [NRG][CHUNK][BV]    the partials of W S (the same space as tile)
 *                   vn   [CHUNK][BV]         Vn (rows past the chunk's end zeros)
 */
#include "kda_common.h"

#define NVB ((DV + BV - 1) / BV)
#define NRG (WG / BV)
#define RK (((KS + NRG - 1) / NRG + 3) / 4 * 4) /* state rows per work-item and K tile (float4s) */
#define RI ((CHUNK + NRG - 1) / NRG)             /* chunk rows per work-item for Vn */
#define NKS ((DK + KS - 1) / KS)
#define KSP (NRG * RK + 4)
#define TILE_N (CHUNK * KS)
#define PF ((TILE_N + WG - 1) / WG)
#define KDA_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SPACE KDA_MAX(CHUNK * KSP, NRG * CHUNK * BV)

/* Tile d0 .. d0 + KS - 1 of the chunk rows at src (row stride DK) into registers; rows past len
 * and columns past DK are zeros. Element e = m WG + tid is (row e / KS, column e % KS). */
LK_INLINE void stage_load(float *stage, const LK_GLOBAL scr_t *scl, long src, int d0, int len, int tid)
{
    REG_LOOP
    for (int m = 0; m < PF; m++) {
        int e = m * WG + tid, i = e / KS, dl = e % KS;
        int ok = e < TILE_N && i < len && d0 + dl < DK;
        stage[m] = ok ? scr_ld(scl, src + (long)i * DK + d0 + dl) : 0.0f;
    }
}

LK_INLINE void stage_store(const float *stage, LK_LOCAL_PTR float *tile, int tid)
{
    REG_LOOP
    for (int m = 0; m < PF; m++) {
        int e = m * WG + tid;
        if (TILE_N % WG == 0 || e < TILE_N)
            tile[(e / KS) * KSP + e % KS] = stage[m];
    }
}

LK_KERNEL LK_WG_SIZE(WG) void kda_state(
    LK_GLOBAL float *scr,
    const LK_GLOBAL float *h0, long h0_off, long h0sn, long h0sh, long h0sk, long h0sv,
    LK_GLOBAL float *ht, long ht_off, long htsn, long htsh, long htsk, long htsv,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_SHARED float space[SPACE] __attribute__((aligned(16)));
    LK_SHARED float vn[CHUNK * BV];
    LK_LOCAL_PTR float *tile = space, *red = space;

    const int tid = get_local_id(0);
    const int c = tid % BV, rg = tid / BV;
    const int hv = get_group_id(0) / NVB, vblk = get_group_id(0) % NVB;
    const int n = get_group_id(1);
    const int col = vblk * BV + c, colok = col < DV;
    int bos, eos, bt;
    kda_sequence(cu_seqlens, cu_off, cu_s, n, T, &bos, &eos, &bt);
    LK_GLOBAL scr_t *scl = (LK_GLOBAL scr_t *)(scr + kda_scratch_base(HV, BT, NCH));

    /* the tile's padding columns (KS .. KSP) are read with zero state rows: keep them finite */
    KDA_ITEMS(e, SPACE) {
        KDA_ITEM(e, SPACE);
        space[e] = 0.0f;
    }

    /* the state rows of this work-item: element (t, m) is row t KS + rg RK + m, column col */
    float sreg[NKS * RK];
    REG_LOOP
    for (int t = 0; t < NKS; t++) {
        REG_LOOP
        for (int m = 0; m < RK; m++) {
            float x = 0.0f;
#if HAS_H0
            const int dl = rg * RK + m, d = t * KS + dl;
            if (dl < KS && d < DK && colok)
                x = h0[h0_off + n * h0sn + hv * h0sh + d * h0sk + col * h0sv];
#endif
            sreg[t * RK + m] = x;
        }
    }

    float stage[PF];
    if (bos < eos) {
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + bos, n);
        stage_load(stage, scl, s.w, 0, eos - bos < CHUNK ? eos - bos : CHUNK, tid);
    }

    for (int t0 = bos; t0 < eos; t0 += CHUNK) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);
        const int nlen = eos - t0 - CHUNK < CHUNK ? eos - t0 - CHUNK : CHUNK; /* next chunk's rows */

        /* h_j = S, for the output kernel */
        REG_LOOP
        for (int t = 0; t < NKS; t++) {
            REG_LOOP
            for (int m = 0; m < RK; m++) {
                int dl = rg * RK + m, d = t * KS + dl;
                if (dl < KS && d < DK && colok)
                    scr_st(scl, s.h + (long)d * DV + col, sreg[t * RK + m]);
            }
        }

        /* partials of W S over this work-item's state rows */
        float p[CHUNK];
        REG_LOOP
        for (int i = 0; i < CHUNK; i++)
            p[i] = 0.0f;
        for (int t = 0; t < NKS; t++) {
            lk_barrier(); /* the tile (or red, vn) is free */
            stage_store(stage, tile, tid);
            lk_barrier();
            if (t + 1 < NKS)
                stage_load(stage, scl, s.w, (t + 1) * KS, len, tid);
            else
                stage_load(stage, scl, s.kg, 0, len, tid);
            LK_LOCAL_PTR const float *tr = tile + rg * RK;
            REG_LOOP
            for (int i = 0; i < CHUNK; i++) {
                REG_LOOP
                for (int m = 0; m < RK; m += 4) {
                    float4 w4 = lk_lds4(tr + i * KSP + m);
                    p[i] = lk_fma(w4.x, sreg[t * RK + m], p[i]);
                    p[i] = lk_fma(w4.y, sreg[t * RK + m + 1], p[i]);
                    p[i] = lk_fma(w4.z, sreg[t * RK + m + 2], p[i]);
                    p[i] = lk_fma(w4.w, sreg[t * RK + m + 3], p[i]);
                }
            }
        }
        lk_barrier(); /* the last W tile is read: red takes its space */
        REG_LOOP
        for (int i = 0; i < CHUNK; i++)
            red[(rg * CHUNK + i) * BV + c] = p[i];
        /* U of this work-item's Vn rows and 2^gc_last of its state rows: issued before the barrier
         * (their latency overlaps it and the sums of red; p is dead, so they cost no registers) */
        float ureg[RI], glreg[NKS * RK];
        REG_LOOP
        for (int m = 0; m < RI; m++) {
            int i = rg * RI + m;
            ureg[m] = i < len && colok ? scr_ld(scl, s.u + (long)i * DV + col) : 0.0f;
        }
        REG_LOOP
        for (int t = 0; t < NKS; t++) {
            REG_LOOP
            for (int m = 0; m < RK; m++) {
                int dl = rg * RK + m, d = t * KS + dl;
                glreg[t * RK + m] = dl < KS && d < DK ? scr[s.gl + d] : 0.0f;
            }
        }
        lk_barrier();
        /* Vn = U - W S for rows rg RI .. (zeros past the chunk's end), over U in the scratch */
        REG_LOOP
        for (int m = 0; m < RI; m++) {
            int i = rg * RI + m;
            if (i < CHUNK) {
                float acc = 0.0f;
                for (int r = 0; r < NRG; r++)
                    acc += red[(r * CHUNK + i) * BV + c];
                float x = 0.0f;
                if (i < len && colok) {
                    x = ureg[m] - acc;
                    scr_st(scl, s.u + (long)i * DV + col, x);
                }
                vn[i * BV + c] = x;
            }
        }

        /* S = Diag(2^gc_last) S + kg^T Vn, K tile by K tile */
        for (int t = 0; t < NKS; t++) {
            lk_barrier(); /* red (or the previous kg tile) is read, vn is written */
            stage_store(stage, tile, tid);
            lk_barrier();
            if (t + 1 < NKS)
                stage_load(stage, scl, s.kg, (t + 1) * KS, len, tid);
            else if (nlen > 0)
                stage_load(stage, scl, s.w + (long)CHUNK * DK, 0, nlen, tid);
            REG_LOOP
            for (int m = 0; m < RK; m++)
                sreg[t * RK + m] *= glreg[t * RK + m];
            LK_LOCAL_PTR const float *tr = tile + rg * RK;
            for (int i = 0; i < CHUNK; i++) {
                const float x = vn[i * BV + c];
                REG_LOOP
                for (int m = 0; m < RK; m += 4) {
                    float4 k4 = lk_lds4(tr + i * KSP + m);
                    sreg[t * RK + m] = lk_fma(k4.x, x, sreg[t * RK + m]);
                    sreg[t * RK + m + 1] = lk_fma(k4.y, x, sreg[t * RK + m + 1]);
                    sreg[t * RK + m + 2] = lk_fma(k4.z, x, sreg[t * RK + m + 2]);
                    sreg[t * RK + m + 3] = lk_fma(k4.w, x, sreg[t * RK + m + 3]);
                }
            }
            REG_LOOP
            for (int m = 0; m < RK; m++) { /* padding rows read red's values from the tile: back to 0 */
                int dl = rg * RK + m, d = t * KS + dl;
                sreg[t * RK + m] = dl < KS && d < DK ? sreg[t * RK + m] : 0.0f;
            }
        }
    }

#if HAS_HT
    REG_LOOP
    for (int t = 0; t < NKS; t++) {
        REG_LOOP
        for (int m = 0; m < RK; m++) {
            int dl = rg * RK + m, d = t * KS + dl;
            if (dl < KS && d < DK && colok)
                ht[ht_off + n * htsn + hv * htsh + d * htsk + col * htsv] = sreg[t * RK + m];
        }
    }
#endif
}
