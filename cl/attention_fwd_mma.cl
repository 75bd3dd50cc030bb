/* attention_fwd_mma.cl: FlashAttention-2 forward on NVIDIA tensor cores (mma.sync m16n8k16, f16
 * in, f32 accumulate), with the same arguments, masking, GQA, lse and RoPE options as the generic
 * kernel (attention_fwd.cl); the host picks it on NVIDIA GPUs of compute capability 8+ for f16
 * with D 64 or 128 and unit last-dimension strides (rows 16-byte aligned). Its per-lane softmax,
 * tile copies and K rotation are in attention_fwd_tile.h, which attention_fwd_wgmma.cl shares.
 *
 *   work-group = WARPS warps, BLOCK_M query rows; warp w owns rows [w*16*MT, (w+1)*16*MT) as MT
 *   m16 tiles. Q fragments live in registers for the whole loop (rotated once with ROPE_Q);
 *   S = Q K^T and O += P V run as mma tiles; P never leaves registers (the C fragment of S is the
 *   A fragment of P V); softmax state m, l per row pair (g, g+8), reduced across the 4-lane quad.
 *
 *        K/V ring in shared memory (f16), STAGES slots, rows padded to ROW = D + 8 halves so that
 *        ldmatrix rows fall in distinct banks; one array ring[2][STAGES][BLOCK_N][ROW] (LK_DYN_SHARED:
 *        dynamic shared memory in the CUDA build, up to the device's opt-in limit, e.g. 227 KB on
 *        sm_90; a static __local array in OpenCL, at most 48 KB on NVIDIA):
 *          ks[slot][n][ROW]  key n of the tile, d contiguous      -> ldmatrix      (B of Q K^T)
 *          vs[slot][n][ROW]  value n of the tile, d contiguous    -> ldmatrix.trans (B of P V)
 *        tile t is copied by cp.async into slot t % STAGES, STAGES - 1 tiles ahead of the compute,
 *        issued after the tile's one work-group barrier (attention_fwd_tile.h's ring); with
 *        STAGES 1 the K and V slots are refilled in turn (V(t) beside S(t), K(t + 1) beside
 *        P V(t), FlashAttention-2's order), which is how 48 KB of NVIDIA OpenCL fits BLOCK_N 64
 *        with its copies overlapped.
 *        QSMEM 1 appends the work-group's Q tile qs[BLOCK_M][ROW] (rotated, f16): each warp writes its
 *        own rows once and reloads its A fragments by ldmatrix in every tile, as FlashAttention-2
 *        does, instead of holding them in 16 * MT * D / 8 registers per lane.
 *
 *   ROPE_K rotates each K tile in shared memory after it lands (the fully fused variant), with
 *   cos/sin computed from freq (ROPE_TABLE 0) or read from table[j][i] (ROPE_TABLE 1).
 *   Scores are scaled by scale*log2(e) in fp32 (exp2 domain); rows beyond Sq are computed on zeros
 *   and not stored; keys beyond Sk and causally hidden keys are set to -inf on tiles that need it.
 */
#include "portable.h"
#include "rope_math.h"
#include "mma_nv.h"

#ifndef D
#define D 128
#endif
#ifndef BLOCK_M
#define BLOCK_M 64
#endif
#ifndef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef STAGES
#define STAGES 2
#endif
#ifndef WARPS
#define WARPS 4
#endif
#ifndef ROPE_Q
#define ROPE_Q 0
#endif
#ifndef ROPE_K
#define ROPE_K 0
#endif
#ifndef ROPE_TABLE
#define ROPE_TABLE 0
#endif
#ifndef QSMEM
#define QSMEM 0
#endif

#define THREADS (WARPS * 32)
#define MT (BLOCK_M / (16 * WARPS)) /* m16 tiles per warp */
#define NT (BLOCK_N / 8)            /* n8 tiles of keys in S */
#define DT (D / 8)                  /* n8 tiles of d in O */
#define KC (D / 16)                 /* k16 chunks of d in Q K^T */
#define PC (BLOCK_N / 16)           /* k16 chunks of keys in P V */
#define ROW (D + 8)                 /* padded shared row, in halves */
#define HALF (D / 2)
#define NEG_INF (-INFINITY)

/* the tile layout of attention_fwd_tile.h: rows of ROW halves, copy c takes 8 columns of row
 * c / (D / 8) */
#define TILE_ROW(c) ((c) / (D / 8))
#define TILE_COL8(c) (((c) % (D / 8)) * 8)
#define TILE_OFF(n, d) ((n) * ROW + (d))
#define TILE_HALVES (BLOCK_N * ROW)
#include "attention_fwd_tile.h"

LK_KERNEL LK_WG_SIZE(THREADS) void attention_fwd_mma(
    const LK_GLOBAL lk_t *q, long q_off, long qsb, long qsh, long qss, long qsd,
    const LK_GLOBAL lk_t *k, long k_off, long ksb, long ksh, long kss, long ksd,
    const LK_GLOBAL lk_t *v, long v_off, long vsb, long vsh, long vss, long vsd,
    LK_GLOBAL lk_t *o, long o_off, long osb, long osh, long oss, long osd,
    LK_GLOBAL float *lse, long l_off, long lsb, long lsh, long lss,
    int Hq, int Hkv, int Sq, int Sk, float scale_log2, int causal,
    const LK_GLOBAL float *freq, const LK_GLOBAL float *table, int layout,
    const LK_GLOBAL int *q_ids, long qi_off, long qi_sb, long qi_ss, long q_pos_offset,
    const LK_GLOBAL int *k_ids, long ki_off, long ki_sb, long ki_ss, long k_pos_offset)
{
    /* ushort storage: OpenCL C allows no half variables, only half pointers; the host passes the
     * size (lk_attention_fwd_local_bytes) */
    LK_DYN_SHARED(ushort, ring, (2 * STAGES * BLOCK_N + QSMEM * BLOCK_M) * ROW);
    LK_LOCAL_PTR lk_t *ks = (LK_LOCAL_PTR lk_t *)ring;
    LK_LOCAL_PTR lk_t *vs = ks + STAGES * BLOCK_N * ROW;

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
    const int row0 = get_group_id(0) * BLOCK_M, wrow0 = row0 + warp * 16 * MT;
    const int bh = get_group_id(1), b = bh / Hq, hq = bh % Hq, hk = hq / (Hq / Hkv);
    const int shift = Sk - Sq; /* causal: row r sees keys j <= r + shift */

    /* Q as A fragments: qa[mt][kc] in registers, or (QSMEM) the warp's rows of qs */
#if QSMEM
    LK_LOCAL_PTR uint *qs = (LK_LOCAL_PTR uint *)(vs + STAGES * BLOCK_N * ROW); /* [BLOCK_M][ROW / 2] */
#else
    uint qa[MT][KC][4];
#endif
    const long q_base = q_off + b * qsb + hq * qsh;
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int row = wrow0 + mt * 16 + g + 8 * h;
            float x[KC][4];
            load_q_row(x, q, q_base + (long)(row < Sq ? row : 0) * qss, row, Sq, t4, b, freq, layout, q_ids,
                       qi_off, qi_sb, qi_ss, q_pos_offset);
            #pragma unroll
            for (int kc = 0; kc < KC; kc++) {
#if QSMEM
                LK_LOCAL_PTR uint *dst = qs + (row - row0) * (ROW / 2) + kc * 8 + t4;
                dst[0] = lk_pack_half2(x[kc][0], x[kc][1]);
                dst[4] = lk_pack_half2(x[kc][2], x[kc][3]);
#else
                qa[mt][kc][h] = lk_pack_half2(x[kc][0], x[kc][1]);
                qa[mt][kc][2 + h] = lk_pack_half2(x[kc][2], x[kc][3]);
#endif
            }
        }

    float acc[MT][DT][4], m[MT][2], l[MT][2];
    #pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        #pragma unroll
        for (int dt = 0; dt < DT; dt++)
            #pragma unroll
            for (int e = 0; e < 4; e++)
                acc[mt][dt][e] = 0.0f;
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            m[mt][h] = NEG_INF;
            l[mt][h] = 0.0f;
        }
    }

    int ntiles, first_masked;
    key_tiles(row0, Sq, Sk, causal, &ntiles, &first_masked);

    const kv_source src = {k, v, k_off + b * ksb + hk * ksh, kss, v_off + b * vsb + hk * vsh, vss, Sk};
#if ROPE_K
    const lk_rope_rows kr = {freq, table, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, layout};
#endif
    ring_start(ks, vs, src, ntiles, tid);
    for (int t = 0; t < ntiles; t++) {
        ring_wait();
        LK_LOCAL_PTR lk_t *kt = ks + (t % STAGES) * BLOCK_N * ROW;
        const LK_LOCAL_PTR lk_t *vt = vs + (t % STAGES) * BLOCK_N * ROW;
        ring_refill(ks, vs, src, t, ntiles, tid);
#if ROPE_K
        rotate_tile(kt, t * BLOCK_N, Sk, b, kr, tid);
        lk_barrier();
#endif
        const int mi = lane >> 3, r8 = lane & 7;

        /* S = Q K^T */
        float sc[MT][NT][4];
        #pragma unroll
        for (int mt = 0; mt < MT; mt++)
            #pragma unroll
            for (int nt = 0; nt < NT; nt++)
                #pragma unroll
                for (int e = 0; e < 4; e++)
                    sc[mt][nt][e] = 0.0f;
        #pragma unroll
        for (int kc = 0; kc < KC; kc++) {
#if QSMEM
            uint qa_kc[MT][4]; /* the warp's own rows: written by it, so no barrier before the first read */
            #pragma unroll
            for (int mt = 0; mt < MT; mt++)
                lk_ldmatrix_x4(qa_kc[mt], LK_SMEM_ADDR(qs + (warp * 16 * MT + mt * 16 + (mi & 1) * 8 + r8) * (ROW / 2) +
                                                        kc * 8 + (mi >> 1) * 4));
#define QA(mt) qa_kc[mt]
#else
#define QA(mt) qa[mt][kc]
#endif
            #pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint kb[4]; /* b0 b1 of key tile 2np, then of 2np + 1 */
                lk_ldmatrix_x4(kb, LK_SMEM_ADDR(kt + (np * 16 + (mi >> 1) * 8 + r8) * ROW + kc * 16 + (mi & 1) * 8));
                #pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    lk_mma16816(sc[mt][2 * np], QA(mt), kb[0], kb[1]);
                    lk_mma16816(sc[mt][2 * np + 1], QA(mt), kb[2], kb[3]);
                }
            }
#undef QA
        }

        /* online softmax: P in place of S */
        softmax_tile(sc, acc, m, l, wrow0, g, t4, t * BLOCK_N, t >= first_masked, causal, shift, Sk, scale_log2);
        ring_mid(ks, src, t, ntiles, tid);

        /* O += P V, P packed chunk by chunk as A fragments (short-lived registers) */
        #pragma unroll
        for (int pc = 0; pc < PC; pc++) {
            uint pa[MT][4];
            p_fragments(pa, sc, pc);
            #pragma unroll
            for (int dp = 0; dp < DT / 2; dp++) {
                uint vb[4]; /* b0 b1 of d tile 2dp, then of 2dp + 1 */
                lk_ldmatrix_x4_trans(vb, LK_SMEM_ADDR(vt + (pc * 16 + (mi & 1) * 8 + r8) * ROW + dp * 16 + (mi >> 1) * 8));
                #pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    lk_mma16816(acc[mt][2 * dp], pa[mt], vb[0], vb[1]);
                    lk_mma16816(acc[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
                }
            }
        }
    }

    store_rows(o, o_off + b * osb + hq * osh, oss, lse, l_off + b * lsb + hq * lsh, lss, acc, m, l, wrow0, g, t4, Sq);
}
