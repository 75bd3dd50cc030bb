/* kda_state_mma.cl: kda_state.cl on tensor cores (NVIDIA compute capability 8+, f16 tensors; the
 * host picks it with the tuned SMMA = 1 when CHUNK >= 16, BV a multiple of 8, DK <= 128, DK and DV
 * even and one set of the copies below fits the local memory, and falls back to kda_state.cl
 * elsewhere). Same recurrence per chunk:
 *
 *   h_j = S (stored in f16);   Vn = U - W S (stored over U, f16);   S = Diag(2^gc_last) S + kg^T Vn
 *
 * The state block S [DK, BV] stays in fp32 mma accumulators for the whole sequence; the operands
 * of the two products are f16 (W and kg as the scratch holds them, Vn and a copy of S rounded as
 * they are staged in local memory: fla's recurrence multiplies the same operands in the input
 * dtype), mma.m16n8k16 with fp32 accumulation.
 *
 *   grid as kda_state.cl; work-group: SW = CHUNK / 16 warps. MT = ceil(DK / 16) state row tiles.
 *   W S:      warp w owns chunk rows 16 w .. 16 w + 15, all BV columns (NB = BV / 8 accumulator
 *             tiles), reduction over the MT K tiles: A = W by ldmatrix, B = S by ldmatrix.trans
 *             (x4: two n8 tiles; with BV 8, x2: one). BV 8 halves the state each work-group
 *             keeps and doubles the work-groups (B HV V / BV): at B 1, HV 16, V 128 that is 256,
 *             two a streaming multiprocessor, whose chunk loops hide each other's latency.
 *   kg^T Vn:  warp w owns state row tiles w, w + SW, ... (MPW of them) and all BV columns: these
 *             accumulators are the state. A = kg^T by ldmatrix.trans of kg [chunk row][d],
 *             B = Vn by ldmatrix.trans.
 *
 *     local, one dynamic array (f16 unless said), SBUF sets of what is copied per chunk:
 *                  sw  [SBUF][CHUNK][DKP]  W of the chunk (columns past DK and rows past len zeros)
 *                  skg [SBUF][CHUNK][DKP]  kg of the chunk
 *                  su  [SBUF][CHUNK][BVP]  U of the chunk, this work-group's BV columns (past DV zeros)
 *                  sgl [SBUF][16 MT]       2^gc_last of the chunk (fp32; past DK zeros)
 *                  ss  [MT 16][BVP]        S rounded to f16 (B operand of W S)
 *                  svn [CHUNK][BVP]        Vn rounded to f16 (B operand of kg^T Vn)
 *
 *   Copies: cp.async from the f16 scratch straight into local memory (no registers, no
 *   instructions past the issue), CP_H halves a copy: 16 bytes where K and V are multiples of 8,
 *   else 8 or 4 (K and V even: the host's condition). Waited for (cp.async.wait_group 0) before
 *   the barrier that publishes them.
 *   SBUF 2: chunk c + 1's W, U, kg and 2^gc_last go into the other set right after chunk c's
 *           first barrier (everyone has left chunk c - 1, that set's last reader): a whole chunk
 *           of products and barriers to land.
 *   SBUF 1 (where two sets do not fit the device's local memory, e.g. NVIDIA OpenCL's 48 KB at
 *           CHUNK 64): W and U of chunk c + 1 after chunk c's second barrier (W S and Vn have
 *           read them), its kg and 2^gc_last after its own first barrier (chunk c's kg^T Vn and
 *           rescale have read them): half a chunk each.
 *   Two barriers per chunk. The host runs it only where a lane's state (MPW NB tiles) is at
 *   most 8 tiles (lk_kda_state_mma_ok).
 *
 *   FUSEOUT 1 (SBUF 2 only): the output too, so kda_out does not run and h_j and Vn never go to
 *   the scratch. O = qg h_j + Aqk Vn for the chunk rows of the warp and the BV columns of the
 *   work-group: qg S takes ss (already the B operand of W S) before the second barrier, Aqk Vn
 *   takes svn (the B operand of kg^T Vn) after it. Two more sets of copies a chunk ahead:
 *                  sq  [SBUF][CHUNK][DKP]  qg of the chunk (f16)
 *                  sa  [SBUF][CHUNK][CAP]  Aqk of the chunk (fp32 as the scratch holds it,
 *                                          rounded to f16 pairs when the A fragments are built)
 */
#include "kda_common.h"
#include "mma_nv.h"

#ifndef SBUF
#define SBUF 2
#endif
#ifndef FUSEOUT
#define FUSEOUT 0
#endif
#if FUSEOUT && SBUF != 2
#error "FUSEOUT needs two sets of copies (SBUF 2)"
#endif
#define SW (CHUNK / 16)
#define SWG (SW * 32)
#define NVB ((DV + BV - 1) / BV)
#define MT ((DK + 15) / 16)
#define MPW ((MT + SW - 1) / SW)
#define NB (BV / 8)
#define DKP (MT * 16 + 8) /* halves per row of sw, skg (ldmatrix rows in distinct banks) */
#define BVP (BV == 8 ? 24 : BV + 8) /* halves per row of su, ss, svn: 8 ldmatrix rows in distinct banks */
#define CP_H (DK % 8 == 0 && DV % 8 == 0 ? 8 : DK % 4 == 0 && DV % 4 == 0 ? 4 : 2)
/* the dynamic array, in halves: one set of sw or skg, of su, of sgl; where each begins */
#define KSET (CHUNK * DKP)
#define USET (CHUNK * BVP)
#define GSET (MT * 16 * 2)
#define SW_AT(b) ((b) * KSET)
#define SKG_AT(b) ((SBUF + (b)) * KSET)
#define SU_AT(b) (2 * SBUF * KSET + (b) * USET)
#define SGL_AT(b) (SBUF * (2 * KSET + USET) + (b) * GSET)
#define SS_AT (SBUF * (2 * KSET + USET + GSET))
#define SVN_AT (SS_AT + MT * 16 * BVP)
#define CAP (CHUNK + 8) /* floats per row of sa: a half-warp's 8-byte reads in distinct banks */
#define SQ_AT(b) (SVN_AT + CHUNK * BVP + (b) * KSET)
#define SA_AT(b) (SQ_AT(SBUF) + (b) * CHUNK * CAP * 2)
#if FUSEOUT
#define SMEM_HALVES SA_AT(SBUF)
#else
#define SMEM_HALVES (SVN_AT + CHUNK * BVP)
#endif

LK_INLINE void smma_cp(uint smem_addr, ulong global_addr, int src_bytes)
{
#if CP_H == 8
    lk_cp_async16(smem_addr, global_addr, src_bytes);
#elif CP_H == 4
    lk_cp_async8(smem_addr, global_addr, src_bytes);
#else
    lk_cp_async4(smem_addr, global_addr, src_bytes);
#endif
}

/* Rows 0 .. CHUNK - 1, columns 0 .. cols - 1 of dst [CHUNK][dpitch] from src (row pitch `pitch`
 * elements): rows past len and columns at or past lim zero-filled (read nothing). */
LK_INLINE void smma_copy_rows(LK_LOCAL_PTR ushort *dst, int dpitch, const LK_GLOBAL scr_t *src, long pitch, int cols,
                              int lim, int len, int tid)
{
    const int per_row = cols / CP_H;
#pragma unroll
    for (int e = tid; e < CHUNK * per_row; e += SWG) {
        const int i = e / per_row, c = e % per_row * CP_H, ok = i < len && c < lim;
        smma_cp(LK_SMEM_ADDR(dst + i * dpitch + c), LK_GLOBAL_ADDR(src + (ok ? i * pitch + c : 0)), ok ? 2 * CP_H : 0);
    }
}

/* W and this work-group's columns of U of the chunk at s (len rows) into set b. */
LK_INLINE void smma_copy_w_u(LK_LOCAL_PTR ushort *smem, int b, const LK_GLOBAL scr_t *scl, kda_scratch s, int len,
                             int cb, int tid)
{
    smma_copy_rows(smem + SW_AT(b), DKP, scl + s.w, DK, MT * 16, DK, len, tid);
    smma_copy_rows(smem + SU_AT(b), BVP, scl + s.u + cb, DV, BV, DV - cb, len, tid);
}

/* kg and 2^gc_last of the chunk at s into set b. */
LK_INLINE void smma_copy_kg_gl(LK_LOCAL_PTR ushort *smem, int b, const LK_GLOBAL scr_t *scl, const LK_GLOBAL float *scr,
                               kda_scratch s, int len, int tid)
{
    smma_copy_rows(smem + SKG_AT(b), DKP, scl + s.kg, DK, MT * 16, DK, len, tid);
    for (int d = tid; d < MT * 16; d += SWG)
        lk_cp_async4(LK_SMEM_ADDR(smem + SGL_AT(b) + 2 * d), LK_GLOBAL_ADDR(scr + s.gl + (d < DK ? d : 0)),
                     d < DK ? 4 : 0);
}

#if FUSEOUT
/* qg and Aqk of the chunk at s (len rows) into set b: Aqk's rows and columns past len zeros. */
LK_INLINE void smma_copy_out(LK_LOCAL_PTR ushort *smem, int b, const LK_GLOBAL scr_t *scl, const LK_GLOBAL float *scr,
                             kda_scratch s, int len, int tid)
{
    smma_copy_rows(smem + SQ_AT(b), DKP, scl + s.qg, DK, MT * 16, DK, len, tid);
#pragma unroll
    for (int e = tid; e < CHUNK * (CHUNK / 4); e += SWG) {
        const int i = e / (CHUNK / 4), c = e % (CHUNK / 4) * 4, ok = i < len && c < len;
        lk_cp_async16(LK_SMEM_ADDR(smem + SA_AT(b) + 2 * (i * CAP + c)), LK_GLOBAL_ADDR(scr + s.a + (ok ? i * CHUNK + c : 0)),
                      ok ? 4 * (len - c < 4 ? len - c : 4) : 0);
    }
}
#endif

/* acc[nt] += a B for the NB n8 tiles of k tile kc of B [16 MT or CHUNK][BVP] (f16, row-major):
 * B fragments by ldmatrix.trans, two n8 tiles a load and the last one alone when NB is odd. */
LK_INLINE void smma_times_b(float (*acc)[4], const uint *a, LK_LOCAL_PTR const ushort *hb, int kc, int mi, int r8)
{
    LK_LOCAL_PTR const ushort *row = hb + (kc * 16 + (mi & 1) * 8 + r8) * BVP;
#pragma unroll
    for (int np = 0; np < NB / 2; np++) {
        uint b[4];
        lk_ldmatrix_x4_trans(b, LK_SMEM_ADDR(row + np * 16 + (mi >> 1) * 8));
        lk_mma16816(acc[2 * np], a, b[0], b[1]);
        lk_mma16816(acc[2 * np + 1], a, b[2], b[3]);
    }
#if NB % 2
    uint b[2];
    lk_ldmatrix_x2_trans(b, LK_SMEM_ADDR(row + (NB - 1) * 8));
    lk_mma16816(acc[NB - 1], a, b[0], b[1]);
#endif
}

LK_KERNEL LK_WG_SIZE(SWG) void kda_state_mma(
    LK_GLOBAL float *scr,
    LK_GLOBAL lk_t *o, long o_off, long osb, long ost, long osh, long osd, /* FUSEOUT only */
    const LK_GLOBAL float *h0, long h0_off, long h0sn, long h0sh, long h0sk, long h0sv,
    LK_GLOBAL float *ht, long ht_off, long htsn, long htsh, long htsk, long htsv,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_DYN_SHARED(ushort, smem, SMEM_HALVES);
    LK_LOCAL_PTR ushort *ss = smem + SS_AT, *svn = smem + SVN_AT;

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t4 = lane % 4, mi = lane / 8, r8 = lane % 8;
    const int hv = get_group_id(0) / NVB, vblk = get_group_id(0) % NVB;
    const int n = get_group_id(1);
    const int cb = vblk * BV;
    int bos, eos, bt;
    kda_sequence(cu_seqlens, cu_off, cu_s, n, T, &bos, &eos, &bt);
    LK_GLOBAL scr_t *scl = (LK_GLOBAL scr_t *)(scr + kda_scratch_base(HV, BT, NCH));

    /* the state: tile (j, nt) is rows 16 (warp + SW j) .., columns cb + 8 nt ..; element r of a
     * tile is row + g + 8 (r / 2), column + 2 t4 + r % 2 */
#define STATE_ROW(j, r) ((warp + SW * (j)) * 16 + g + 8 * ((r) / 2))
#define STATE_COL(nt, r) (cb + (nt) * 8 + 2 * t4 + (r) % 2)
    float S[MPW][NB][4];
#pragma unroll
    for (int j = 0; j < MPW; j++) {
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                float x = 0.0f;
#if HAS_H0
                const int d = STATE_ROW(j, r), col = STATE_COL(nt, r);
                if (d < DK && col < DV)
                    x = h0[h0_off + n * h0sn + hv * h0sh + d * h0sk + col * h0sv];
#endif
                S[j][nt][r] = x;
            }
        }
    }

    if (bos < eos) { /* the first chunk's copies (SBUF 1: its kg and 2^gc_last after the first barrier) */
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + bos, n);
        const int len = eos - bos < CHUNK ? eos - bos : CHUNK;
        smma_copy_w_u(smem, 0, scl, s, len, cb, tid);
#if SBUF == 2
        smma_copy_kg_gl(smem, 0, scl, scr, s, len, tid);
#endif
#if FUSEOUT
        smma_copy_out(smem, 0, scl, scr, s, len, tid);
#endif
        lk_cp_async_commit();
    }

    for (int t0 = bos, b = 0; t0 < eos; t0 += CHUNK, b ^= SBUF - 1) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;
        const int nlen = eos - t0 - CHUNK < CHUNK ? eos - t0 - CHUNK : CHUNK; /* next chunk's rows */
        const long r0 = (long)bt * T + t0;
        const kda_scratch sn = kda_scratch_at(HV, BT, NCH, hv, r0 + CHUNK, n);
#if !FUSEOUT
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, r0, n);
#endif
        LK_LOCAL_PTR const ushort *hw = smem + SW_AT(b), *hkg = smem + SKG_AT(b), *hu = smem + SU_AT(b);
        LK_LOCAL_PTR const float *sgl = (LK_LOCAL_PTR const float *)(smem + SGL_AT(b));

        /* h_j = S to ss (f16) and, unless FUSEOUT, to the scratch */
#pragma unroll
        for (int j = 0; j < MPW; j++) {
#pragma unroll
            for (int nt = 0; nt < NB; nt++) {
#pragma unroll
                for (int h2 = 0; h2 < 2; h2++) {
                    int d = (warp + SW * j) * 16 + g + 8 * h2, cl = nt * 8 + 2 * t4;
                    if (warp + SW * j < MT) {
                        const uint bits = lk_pack_half2(S[j][nt][2 * h2], S[j][nt][2 * h2 + 1]);
                        ((LK_LOCAL_PTR uint *)ss)[d * (BVP / 2) + cl / 2] = bits;
#if !FUSEOUT
                        if (d < DK)
                            kda_store_half2_bits(scl + s.h + (long)d * DV, cb + cl, DV, bits);
#endif
                    }
                }
            }
        }
        lk_cp_async_wait(0);
        lk_barrier(); /* this chunk's copies (SBUF 1: W and U) have landed, ss is written */
#if SBUF == 2
        if (nlen > 0) {
            smma_copy_w_u(smem, b ^ 1, scl, sn, nlen, cb, tid);
            smma_copy_kg_gl(smem, b ^ 1, scl, scr, sn, nlen, tid);
#if FUSEOUT
            smma_copy_out(smem, b ^ 1, scl, scr, sn, nlen, tid);
#endif
            lk_cp_async_commit();
        }
#else
        smma_copy_kg_gl(smem, 0, scl, scr, s, len, tid);
        lk_cp_async_commit();
#endif

        /* W S for chunk rows 16 warp .. (FUSEOUT: and qg S) */
        float acc[NB][4];
#pragma unroll
        for (int nt = 0; nt < NB; nt++)
            acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
#if FUSEOUT
        float oacc[NB][4];
#pragma unroll
        for (int nt = 0; nt < NB; nt++)
            oacc[nt][0] = oacc[nt][1] = oacc[nt][2] = oacc[nt][3] = 0.0f;
        LK_LOCAL_PTR const ushort *hq = smem + SQ_AT(b);
#endif
#pragma unroll
        for (int kc = 0; kc < MT; kc++) {
            const int at = (warp * 16 + (mi & 1) * 8 + r8) * DKP + kc * 16 + (mi >> 1) * 8;
            uint a[4];
            lk_ldmatrix_x4(a, LK_SMEM_ADDR(hw + at));
            smma_times_b(acc, a, ss, kc, mi, r8);
#if FUSEOUT
            lk_ldmatrix_x4(a, LK_SMEM_ADDR(hq + at));
            smma_times_b(oacc, a, ss, kc, mi, r8);
#endif
        }
        /* Vn = U - W S (rows past len: U and W are zeros) to svn and, unless FUSEOUT, over U in the scratch */
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int h2 = 0; h2 < 2; h2++) {
                int i = warp * 16 + g + 8 * h2, cl = nt * 8 + 2 * t4;
                float u0, u1;
                lk_unpack_half2(((LK_LOCAL_PTR const uint *)hu)[i * (BVP / 2) + cl / 2], &u0, &u1);
                const uint bits = lk_pack_half2(u0 - acc[nt][2 * h2], u1 - acc[nt][2 * h2 + 1]);
                ((LK_LOCAL_PTR uint *)svn)[i * (BVP / 2) + cl / 2] = bits;
#if !FUSEOUT
                if (i < len)
                    kda_store_half2_bits(scl + s.u + (long)i * DV, cb + cl, DV, bits);
#endif
            }
        }
#if SBUF == 1
        lk_cp_async_wait(0);
#endif
        lk_barrier(); /* svn is written (SBUF 1: kg and 2^gc_last have landed); sw, su and ss are read */
#if SBUF == 1
        if (nlen > 0) {
            smma_copy_w_u(smem, 0, scl, sn, nlen, cb, tid);
            lk_cp_async_commit();
        }
#endif

        /* S = Diag(2^gc_last) S + kg^T Vn */
#pragma unroll
        for (int j = 0; j < MPW; j++) {
            const int d = (warp + SW * j) * 16 + g;
            const float gl0 = warp + SW * j < MT ? sgl[d] : 0.0f, gl1 = warp + SW * j < MT ? sgl[d + 8] : 0.0f;
#pragma unroll
            for (int nt = 0; nt < NB; nt++) {
                S[j][nt][0] *= gl0;
                S[j][nt][1] *= gl0;
                S[j][nt][2] *= gl1;
                S[j][nt][3] *= gl1;
            }
        }
#pragma unroll
        for (int kc = 0; kc < SW; kc++) {
#pragma unroll
            for (int j = 0; j < MPW; j++) {
                const int mt = warp + SW * j;
                if (mt < MT) {
                    uint a[4];
                    lk_ldmatrix_x4_trans(a, LK_SMEM_ADDR(hkg + (kc * 16 + (mi >> 1) * 8 + r8) * DKP + mt * 16 + (mi & 1) * 8));
                    smma_times_b(S[j], a, svn, kc, mi, r8);
                }
            }
        }
#if FUSEOUT
        /* O += Aqk Vn: A fragments from the fp32 rows 16 warp + g (+ 8), columns 16 kc + 2 t4 (+ 8) */
        LK_LOCAL_PTR const float *sa = (LK_LOCAL_PTR const float *)(smem + SA_AT(b)) + (warp * 16 + g) * CAP + 2 * t4;
#pragma unroll
        for (int kc = 0; kc < SW; kc++) {
            LK_LOCAL_PTR const float *p = sa + kc * 16;
            uint a[4];
            a[0] = lk_pack_half2(p[0], p[1]);
            a[1] = lk_pack_half2(p[8 * CAP], p[8 * CAP + 1]);
            a[2] = lk_pack_half2(p[8], p[9]);
            a[3] = lk_pack_half2(p[8 * CAP + 8], p[8 * CAP + 9]);
            smma_times_b(oacc, a, svn, kc, mi, r8);
        }
        const long ob = o_off + bt * osb + hv * osh;
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int i = warp * 16 + g + 8 * (r / 2), col = cb + nt * 8 + 2 * t4 + r % 2;
                if (i < len && col < DV)
                    lk_st(o, ob + (long)(t0 + i) * ost + col * osd, oacc[nt][r]);
            }
        }
#endif
    }

#if HAS_HT
#pragma unroll
    for (int j = 0; j < MPW; j++) {
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                int d = STATE_ROW(j, r), col = STATE_COL(nt, r);
                if (warp + SW * j < MT && d < DK && col < DV)
                    ht[ht_off + n * htsn + hv * htsh + d * htsk + col * htsv] = S[j][nt][r];
            }
        }
    }
#endif
}
