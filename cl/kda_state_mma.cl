/* kda_state_mma.cl: kda_state.cl on tensor cores (NVIDIA compute capability 8+, f16 tensors; the
 * host picks it with the tuned SMMA = 1 when CHUNK >= 16, BV a multiple of 8 and DK <= 128, and
 * falls back to kda_state.cl elsewhere). Same recurrence per chunk:
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
 *     local (f16)  sw  [CHUNK][DKP]   W of the chunk (columns past DK and rows past len zeros)
 *                  skg [CHUNK][DKP]   kg of the chunk
 *                  ss  [MT 16][BVP]   S rounded to f16 (B operand of W S)
 *                  svn [CHUNK][BVP]   Vn rounded to f16 (B operand of kg^T Vn)
 *
 *   Loads: the f16 scratch rows go through registers (NPF half2 per work-item and array) into
 *   local memory, each about one chunk ahead: the next chunk's W (stw) is loaded as a chunk
 *   starts and stored into sw after its kg^T Vn, the next chunk's kg (stk) right after this
 *   chunk's kg is stored into skg (before the second barrier), so each load has a whole chunk's
 *   products and barriers to land. U and 2^gc_last are issued before the first barrier. Two
 *   barriers per chunk. The host runs it only where a lane's state (MPW NB tiles) is at most 8
 *   tiles: beside the 2 NPF staged words more spill (lk_kda_state_mma_ok).
 */
#include "kda_common.h"
#include "mma_nv.h"

#define SW (CHUNK / 16)
#define SWG (SW * 32)
#define NVB ((DV + BV - 1) / BV)
#define MT ((DK + 15) / 16)
#define MPW ((MT + SW - 1) / SW)
#define NB (BV / 8)
#define DKP (MT * 16 + 8) /* halves per row of sw, skg (ldmatrix rows in distinct banks) */
#define BVP (BV == 8 ? 24 : BV + 8) /* halves per row of ss, svn: 8 ldmatrix rows in distinct banks */
#define NPAIR (CHUNK * MT * 8)
#define NPF ((NPAIR + SWG - 1) / SWG)

/* Rows 0 .. len - 1 of the chunk at src (row stride DK, f16) as half2 bits into registers; pair
 * e = m SWG + tid is (row e / (MT 8), columns 2 (e % (MT 8)) + 0, 1); past len or DK zeros. Written
 * so that the row and column of pair m are the work-item's own plus constants (one base address,
 * immediate offsets) when SWG and MT 8 divide one another. */
#define RW (MT * 8) /* pairs per row */
LK_INLINE void smma_load(uint *stage, const LK_GLOBAL scr_t *scl, long src, int len, int tid)
{
#pragma unroll
    for (int m = 0; m < NPF; m++) {
#if SWG % RW == 0
        const int i = m * (SWG / RW) + tid / RW, d = 2 * (tid % RW), ok = 1;
#elif RW % SWG == 0
        const int i = m / (RW / SWG), d = 2 * ((m % (RW / SWG)) * SWG + tid), ok = 1;
#else
        const int e = m * SWG + tid, i = e / RW, d = 2 * (e % RW), ok = NPAIR % SWG == 0 || e < NPAIR;
#endif
        stage[m] = ok && i < len ? kda_half2_bits(scl + src + (long)i * DK, d, DK) : 0u;
    }
}

LK_INLINE void smma_store(const uint *stage, LK_LOCAL_PTR uint *dst, int tid)
{
#pragma unroll
    for (int m = 0; m < NPF; m++) {
        int e = m * SWG + tid;
        if (NPAIR % SWG == 0 || e < NPAIR)
            dst[(e / (MT * 8)) * (DKP / 2) + e % (MT * 8)] = stage[m];
    }
}

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
    const LK_GLOBAL float *h0, long h0_off, long h0sn, long h0sh, long h0sk, long h0sv,
    LK_GLOBAL float *ht, long ht_off, long htsn, long htsh, long htsk, long htsv,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_SHARED uint sw[CHUNK * DKP / 2] __attribute__((aligned(16)));
    LK_SHARED uint skg[CHUNK * DKP / 2] __attribute__((aligned(16)));
    LK_SHARED uint ss[MT * 16 * BVP / 2] __attribute__((aligned(16)));
    LK_SHARED uint svn[CHUNK * BVP / 2] __attribute__((aligned(16)));

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

    /* the next chunk's W and kg in registers, each loaded about one chunk ahead of its use */
    uint stw[NPF], stk[NPF];
    if (bos < eos) {
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + bos, n);
        const int len = eos - bos < CHUNK ? eos - bos : CHUNK;
        smma_load(stw, scl, s.w, len, tid);
        smma_store(stw, sw, tid);
        smma_load(stk, scl, s.kg, len, tid);
    }

    LK_LOCAL_PTR const ushort *hw = (LK_LOCAL_PTR const ushort *)sw, *hkg = (LK_LOCAL_PTR const ushort *)skg;
    LK_LOCAL_PTR const ushort *hs = (LK_LOCAL_PTR const ushort *)ss, *hvn = (LK_LOCAL_PTR const ushort *)svn;

    for (int t0 = bos; t0 < eos; t0 += CHUNK) {
        const int len = eos - t0 < CHUNK ? eos - t0 : CHUNK;
        const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);
        const int nlen = eos - t0 - CHUNK < CHUNK ? eos - t0 - CHUNK : CHUNK; /* next chunk's rows */
        if (nlen > 0) /* W of the next chunk: stored into sw at the end of this one */
            smma_load(stw, scl, s.w + (long)CHUNK * DK, nlen, tid);

        /* h_j = S to the scratch and to ss (f16) */
#pragma unroll
        for (int j = 0; j < MPW; j++) {
#pragma unroll
            for (int nt = 0; nt < NB; nt++) {
#pragma unroll
                for (int h2 = 0; h2 < 2; h2++) {
                    int d = (warp + SW * j) * 16 + g + 8 * h2, cl = nt * 8 + 2 * t4, col = cb + cl;
                    if (warp + SW * j < MT) {
                        const uint bits = lk_pack_half2(S[j][nt][2 * h2], S[j][nt][2 * h2 + 1]);
                        ss[d * (BVP / 2) + cl / 2] = bits;
                        if (d < DK)
                            kda_store_half2_bits(scl + s.h + (long)d * DV, col, DV, bits);
                    }
                }
            }
        }
        /* U of this warp's Vn rows and 2^gc_last of its state rows: their latency overlaps the
         * barrier and W S */
        float u[NB][4], gl[MPW][2];
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                int i = warp * 16 + g + 8 * (r / 2), col = cb + nt * 8 + 2 * t4 + r % 2;
                u[nt][r] = i < len && col < DV ? scr_ld(scl, s.u + (long)i * DV + col) : 0.0f;
            }
        }
#pragma unroll
        for (int j = 0; j < MPW; j++) {
#pragma unroll
            for (int h2 = 0; h2 < 2; h2++) {
                int d = (warp + SW * j) * 16 + g + 8 * h2;
                gl[j][h2] = d < DK ? scr[s.gl + d] : 0.0f;
            }
        }
        lk_barrier(); /* sw (previous iteration or prologue) and ss are written */

        /* W S for chunk rows 16 warp .. */
        float acc[NB][4];
#pragma unroll
        for (int nt = 0; nt < NB; nt++)
            acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < MT; kc++) {
            uint a[4];
            lk_ldmatrix_x4(a, LK_SMEM_ADDR(hw + (warp * 16 + (mi & 1) * 8 + r8) * DKP + kc * 16 + (mi >> 1) * 8));
            smma_times_b(acc, a, hs, kc, mi, r8);
        }
        /* Vn = U - W S (rows past len: U and W are zeros), over U in the scratch and to svn */
#pragma unroll
        for (int nt = 0; nt < NB; nt++) {
#pragma unroll
            for (int h2 = 0; h2 < 2; h2++) {
                int i = warp * 16 + g + 8 * h2, cl = nt * 8 + 2 * t4, col = cb + cl;
                const uint bits = lk_pack_half2(u[nt][2 * h2] - acc[nt][2 * h2], u[nt][2 * h2 + 1] - acc[nt][2 * h2 + 1]);
                svn[i * (BVP / 2) + cl / 2] = bits;
                if (i < len)
                    kda_store_half2_bits(scl + s.u + (long)i * DV, col, DV, bits);
            }
        }
        smma_store(stk, skg, tid); /* skg is free: the first barrier follows the last kg^T Vn */
        if (nlen > 0) /* kg of the next chunk */
            smma_load(stk, scl, s.kg + (long)CHUNK * DK, nlen, tid);
        lk_barrier(); /* skg and svn are written; sw and ss are read */

        /* S = Diag(2^gc_last) S + kg^T Vn */
#pragma unroll
        for (int j = 0; j < MPW; j++) {
#pragma unroll
            for (int nt = 0; nt < NB; nt++) {
                S[j][nt][0] *= gl[j][0];
                S[j][nt][1] *= gl[j][0];
                S[j][nt][2] *= gl[j][1];
                S[j][nt][3] *= gl[j][1];
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
                    smma_times_b(S[j], a, hvn, kc, mi, r8);
                }
            }
        }
        /* sw is free since the barrier above; the next iteration's first barrier publishes it */
        if (nlen > 0)
            smma_store(stw, sw, tid);
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
