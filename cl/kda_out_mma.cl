/* kda_out_mma.cl: kda_out.cl on tensor cores (NVIDIA compute capability 8+, f16 tensors; the host
 * picks it with the tuned MMA = 1 and falls back to kda_out.cl elsewhere). Same product
 *
 *   O = [qg | Aqk] [h_j ; Vn]
 *
 * with the operands in f16 (qg, h_j and Vn are f16 in the scratch, Aqk is rounded as it is staged
 * in local memory; fla's output kernel multiplies the same operands in the input dtype) and fp32
 * accumulation in mma.m16n8k16.
 *
 *   grid as kda_out.cl; work-group: CHUNK / 16 warps (CHUNK 16, 32 or 64); warp w owns chunk
 *   rows 16 w .. 16 w + 15 and all OBV columns of the block (OBV a multiple of 16): OBV / 8
 *   accumulator tiles. Reduction tiles of RT = 32 rows:
 *
 *     local (f16)  sa [CHUNK][RT + 8]   qg or Aqk, rows = chunk rows          -> ldmatrix (A)
 *                  sb [RT][OBV + 8]     h_j or Vn, rows = reduction rows      -> ldmatrix.trans (B)
 */
#include "kda_common.h"
#include "mma_nv.h"

#define NW (CHUNK / 16)
#define OWG (NW * 32)
#define NVO ((DV + OBV - 1) / OBV)
#define RT 32
#define RTP (RT + 8)   /* halves per row of sa (80 bytes: ldmatrix rows in distinct banks) */
#define OBP (OBV + 8)  /* halves per row of sb */
#define NT (OBV / 8)
#define NSA (CHUNK * RT / 2 / OWG) /* pairs of sa a work-item fills per step (8) */
#define NSB (RT * OBV / 2 / OWG)   /* pairs of sb (8 OBV / CHUNK, at least 2) */
#define FILL 4                     /* pairs loaded together (8: NVRTC 151 registers, 4: 72) */

LK_KERNEL LK_WG_SIZE(OWG) void kda_out(
    const LK_GLOBAL float *scr,
    LK_GLOBAL lk_t *o, long o_off, long osb, long ost, long osh, long osd,
    const LK_GLOBAL int *cu_seqlens, long cu_off, long cu_s,
    int T, int HV, long BT, long NCH)
{
    LK_SHARED uint sa[CHUNK * RTP / 2] __attribute__((aligned(16)));
    LK_SHARED uint sb[RT * OBP / 2] __attribute__((aligned(16)));

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t4 = lane % 4, mi = lane / 8, r8 = lane % 8;
    const int hv = get_group_id(0) % HV, rest = get_group_id(0) / HV;
    const int vo = rest % NVO, j0 = (rest / NVO) * CHUNK;
    const int n = get_group_id(1);
    int t0, len, bt;
    if (!kda_chunk_span(cu_seqlens, cu_off, cu_s, n, T, j0, &t0, &len, &bt))
        return;
    const kda_scratch s = kda_scratch_at(HV, BT, NCH, hv, (long)bt * T + t0, n);
    const LK_GLOBAL scr_t *scl = (const LK_GLOBAL scr_t *)(scr + kda_scratch_base(HV, BT, NCH));
    const int cb = vo * OBV;

    float acc[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
        acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;

    const int nk = (DK + RT - 1) / RT, nj = (len + RT - 1) / RT;
    for (int t = 0; t < nk + nj; t++) {
        const int qpart = t < nk, r0 = qpart ? t * RT : (t - nk) * RT;
        const int lim = qpart ? DK : len; /* reduction rows past lim are zeros */
        /* a work-item's pairs FILL at a time: their loads issued together, then stored */
        for (int m0 = 0; m0 < NSA; m0 += FILL) {
            uint pair[FILL];
            float lo[FILL], hi[FILL];
#pragma unroll
            for (int b = 0; b < FILL; b++) {
                const int e = (m0 + b) * OWG + tid, i = e / (RT / 2), x = r0 + (e % (RT / 2)) * 2;
                pair[b] = 0u;
                lo[b] = hi[b] = 0.0f;
                if (m0 + b < NSA && i < len && qpart) {
                    pair[b] = kda_half2_bits(scl + s.qg + (long)i * DK, x, lim);
                } else if (m0 + b < NSA && i < len) {
                    const LK_GLOBAL float *row = scr + s.a + (long)i * CHUNK;
                    lo[b] = x < lim ? row[x] : 0.0f;
                    hi[b] = x + 1 < lim ? row[x + 1] : 0.0f;
                }
            }
#pragma unroll
            for (int b = 0; b < FILL; b++) {
                const int e = (m0 + b) * OWG + tid;
                if (m0 + b < NSA)
                    sa[e / (RT / 2) * (RTP / 2) + e % (RT / 2)] = qpart ? pair[b] : lk_pack_half2(lo[b], hi[b]);
            }
        }
        for (int m0 = 0; m0 < NSB; m0 += FILL) {
            uint pair[FILL];
#pragma unroll
            for (int b = 0; b < FILL; b++) {
                const int e = (m0 + b) * OWG + tid, x = r0 + e / (OBV / 2), vc = cb + (e % (OBV / 2)) * 2;
                pair[b] = m0 + b < NSB && x < lim ? kda_half2_bits(scl + (qpart ? s.h : s.u) + (long)x * DV, vc, DV) : 0u;
            }
#pragma unroll
            for (int b = 0; b < FILL; b++) {
                const int e = (m0 + b) * OWG + tid;
                if (m0 + b < NSB)
                    sb[e / (OBV / 2) * (OBP / 2) + e % (OBV / 2)] = pair[b];
            }
        }
        lk_barrier();
        LK_LOCAL_PTR const ushort *ha = (LK_LOCAL_PTR const ushort *)sa, *hb = (LK_LOCAL_PTR const ushort *)sb;
#pragma unroll
        for (int kc = 0; kc < RT / 16; kc++) {
            uint a[4];
            lk_ldmatrix_x4(a, LK_SMEM_ADDR(ha + (warp * 16 + (mi & 1) * 8 + r8) * RTP + kc * 16 + (mi >> 1) * 8));
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint b[4];
                lk_ldmatrix_x4_trans(b, LK_SMEM_ADDR(hb + (kc * 16 + (mi & 1) * 8 + r8) * OBP + np * 16 + (mi >> 1) * 8));
                lk_mma16816(acc[2 * np], a, b[0], b[1]);
                lk_mma16816(acc[2 * np + 1], a, b[2], b[3]);
            }
        }
        lk_barrier();
    }

    const long ob = o_off + bt * osb + hv * osh;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int h2 = 0; h2 < 2; h2++) {
            int i = warp * 16 + g + h2 * 8;
#pragma unroll
            for (int b = 0; b < 2; b++) {
                int col = cb + nt * 8 + 2 * t4 + b;
                if (i < len && col < DV)
                    lk_st(o, ob + (long)(t0 + i) * ost + col * osd, acc[nt][h2 * 2 + b]);
            }
        }
    }
}
