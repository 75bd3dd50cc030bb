/* attention_fwd_wgmma.cl: FlashAttention-2 forward on Hopper warpgroup MMA (wgmma.mma_async,
 * sm_90a; the CUDA build on compute capability 9.0 only, tuned MMA = 2), with the arguments,
 * masking, GQA, lse and RoPE options of attention_fwd_mma.cl, whose per-lane softmax, copies and
 * rotation it shares (attention_fwd_tile.h).
 *
 *   work-group = WARPS / 4 warpgroups, BLOCK_M = 16 WARPS query rows; warpgroup w owns rows
 *   64 w .. 64 w + 63, warp i of the work-group rows 16 i .. 16 i + 15 (MT = 1 m16 tile a warp).
 *   Per key tile, per warpgroup (the accumulators are mma.m16n8k16 C fragments per warp, so the
 *   softmax is attention_fwd_mma.cl's):
 *     S  = Q K^T    KC products m64n{BLOCK_N}k16, A = Q tile, B = K tile, both from shared memory
 *     softmax in registers (P in place of S)
 *     O += P V      BLOCK_N / 16 products m64n{D}k16, A = P from registers (the C fragment of S is
 *                   the A fragment of P V), B = V tile from shared memory, MN-major
 *   each group of products committed and waited for before its result is read. OVERLAP 1 (FA3's
 *   intra-warpgroup pipelining) issues the last tile's P V together with this tile's S and runs
 *   this tile's softmax while that P V computes (the accumulator is rescaled after it lands), so
 *   a tile's V is read one iteration after its K: the ring then runs STAGES - 2 tiles ahead, or
 *   with STAGES 2 K one tile ahead of V (attention_fwd_tile.h's RING_STAGGER).
 *
 *        shared memory (f16, dynamic: up to the device's opt-in limit), tiles of core matrices
 *        (8 rows x 8 columns, 128 contiguous bytes; wgmma's layout without swizzle, wgmma_nv.h):
 *          ks[STAGES][BLOCK_N x D], vs[STAGES][BLOCK_N x D], qs[BLOCK_M x D]
 *          element (n, d) of a tile at halves (n / 8) 8 D + (d / 8) 64 + (n % 8) 8 + d % 8
 *          K and Q as K-major operands (LBO 128 bytes: the next 8 d; SBO 16 D: the next 8 rows),
 *          V as the MN-major B of P V (LBO 16 D: the next 8 keys; SBO 128: the next 8 d).
 *        cp.async ring of STAGES K/V tiles as in attention_fwd_mma.cl (attention_fwd_tile.h: one
 *        work-group barrier a tile; the next tile's copies are issued after this tile's S, so
 *        they overlap its products). Each 8 consecutive work-items (a phase of a 16-byte copy)
 *        read 4 rows x one 32-byte sector, so each sector is requested whole; their stores meet
 *        4 rows of a core matrix, 2 to a bank group. (Tiles padded so that both sides are whole
 *        and conflict-free measured no faster: perf-notes 28.)
 *        Q rows are loaded (rotated with ROPE_Q) into registers and stored once into qs.
 *
 *   ROPE_K rotates each K tile in shared memory after it lands (the fully fused variant). Rows
 *   beyond Sq are computed on zeros and not stored; keys beyond Sk and causally hidden keys are
 *   -inf on the tiles that need it.
 *
 *   PRODUCER 1 (warp specialization, as FlashAttention-3's but with cp.async for TMA): one more
 *   warpgroup only copies the K/V tiles (and rotates K with ROPE_K); the WARPS computing warps
 *   never meet at a work-group barrier, so one warpgroup's softmax can run beside another's
 *   products. Hand-over by named barriers, per ring slot s:
 *     FULL s   the producer arrives when tile t (t % STAGES = s) has landed (and is rotated); the
 *              computing warps wait for it before their products read the slot;
 *     EMPTY s  the computing warps arrive when their last product reading tile t has finished;
 *              the producer waits for it before it copies tile t + STAGES into the slot.
 *   The producer publishes each tile RING_AHEAD tiles behind the newest it copies (one fewer with
 *   OVERLAP, where a slot is released an iteration later).
 */
#include "portable.h"
#include "rope_math.h"
#include "mma_nv.h"
#include "wgmma_nv.h"

#ifndef D
#define D 128
#endif
#ifndef WARPS
#define WARPS 8
#endif
#ifndef BLOCK_N
#define BLOCK_N 128
#endif
#ifndef STAGES
#define STAGES 2
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
#ifndef OVERLAP
#define OVERLAP 0
#endif
#ifndef PRODUCER
#define PRODUCER 0
#endif
#if OVERLAP && STAGES < 2
#error "attention_fwd_wgmma: OVERLAP needs STAGES >= 2 (the last tile's V stays while the next tile loads)"
#endif
#if PRODUCER && WARPS > 8
#error "attention_fwd_wgmma: PRODUCER with WARPS 4 or 8 (a block of 16 warps leaves 128 registers a thread)"
#endif
#ifdef BLOCK_M
#if BLOCK_M != 16 * WARPS
#error "attention_fwd_wgmma: BLOCK_M must be 16 * WARPS (one m16 tile a warp, 64 rows a warpgroup)"
#endif
#else
#define BLOCK_M (16 * WARPS)
#endif
#if WARPS % 4 || (BLOCK_N != 64 && BLOCK_N != 128) || (D != 64 && D != 128)
#error "attention_fwd_wgmma: WARPS a multiple of 4, BLOCK_N 64 or 128, D 64 or 128"
#endif

#define CONSUMERS (WARPS * 32) /* the work-items that compute: BLOCK_M rows */
#define THREADS (CONSUMERS + PRODUCER * 128)
#if PRODUCER
#define COPY_THREADS 128
/* named barriers: FULL and EMPTY per ring slot, Q's rows per computing warpgroup, the producer's own */
#define BAR_FULL 1
#define BAR_EMPTY (BAR_FULL + STAGES)
#define BAR_Q (BAR_EMPTY + STAGES)
#define BAR_PRODUCER (BAR_Q + WARPS / 4)
#endif
#define MT 1               /* m16 tiles per warp */
#define NT (BLOCK_N / 8)   /* n8 tiles of keys in S */
#define DT (D / 8)         /* n8 tiles of d in O */
#define KC (D / 16)        /* k16 chunks of d in Q K^T */
#define PC (BLOCK_N / 16)  /* k16 chunks of keys in P V */
#define HALF (D / 2)
#define NEG_INF (-INFINITY)
#define TILE_HALVES (BLOCK_N * D) /* a K or V tile */

/* copy c of a tile: rows of 8-row group c / D; in it, half (c / (D / 2)) % 2 (4 rows), row
 * (c / 2) % 4 of the half, sector (c / 8) % (D / 16) of the row, its 16-byte part c % 2 */
#define TILE_ROW(c) (((c) / D) * 8 + 4 * (((c) / (D / 2)) % 2) + ((c) / 2) % 4)
#define TILE_COL8(c) ((2 * (((c) / 8) % (D / 16)) + (c) % 2) * 8)
#define TILE_OFF(n, d) ((n) / 8 * 8 * D + (d) / 8 * 64 + (n) % 8 * 8 + (d) % 8)
#define RING_PUBLISH() lk_fence_proxy_async() /* copies and stores, before the products read them */
#include "attention_fwd_tile.h"

#if BLOCK_N == 64
#define WGMMA_S lk_wgmma_ss_n64
#else
#define WGMMA_S lk_wgmma_ss_n128
#endif
#if D == 64
#define WGMMA_O lk_wgmma_rs_n64
#else
#define WGMMA_O lk_wgmma_rs_n128
#endif

/* S = Q K^T for this warpgroup's 64 rows (issued, not committed): chunk kc of d is core-matrix
 * column 2 kc, 256 bytes into Q's rows (q_addr) and the K tile's (k_tile). */
LK_INLINE void issue_scores(float sc[MT][NT][4], uint q_addr, uint k_tile)
{
    #pragma unroll
    for (int kc = 0; kc < KC; kc++)
        WGMMA_S(&sc[0][0][0], lk_wgmma_desc(q_addr + kc * 256, 128, 16 * D), lk_wgmma_desc(k_tile + kc * 256, 128, 16 * D),
                kc > 0);
}

/* O += P V with the V tile at v_tile (issued, not committed): keys 16 pc .. are its core-matrix
 * rows 2 pc, 2 pc + 1, 32 D bytes apart. */
LK_INLINE void issue_pv(float acc[MT][DT][4], uint pa[PC][MT][4], uint v_tile)
{
    #pragma unroll
    for (int pc = 0; pc < PC; pc++)
        WGMMA_O(&acc[0][0][0], pa[pc][0], lk_wgmma_desc(v_tile + pc * 32 * D, 16 * D, 128), 1);
}

#if PRODUCER
/* Tile u handed to the computing warps: landed (this work-item's copies; with ROPE_K every
 * producer's, then rotated in place) and visible to the products. */
LK_INLINE void publish_tile(LK_LOCAL_PTR lk_t *ks, int u, int Sk, int b, lk_rope_rows kr, int ptid)
{
#if ROPE_K
    lk_bar_sync(BAR_PRODUCER, COPY_THREADS);
    rotate_tile(ks + (u % STAGES) * TILE_HALVES, u * BLOCK_N, Sk, b, kr, ptid);
#endif
    lk_fence_proxy_async();
    lk_bar_arrive(BAR_FULL + u % STAGES, THREADS);
}

/* The producer warpgroup (ptid 0 .. 127): each key tile into its slot once the computing warps
 * have released the slot's previous tile, published RING_AHEAD tiles behind the newest copied. */
LK_INLINE void produce(LK_LOCAL_PTR lk_t *ks, LK_LOCAL_PTR lk_t *vs, kv_source src, int ntiles, int b, lk_rope_rows kr,
                       int ptid)
{
    for (int t = 0; t < ntiles; t++) {
        if (t >= STAGES)
            lk_bar_sync(BAR_EMPTY + t % STAGES, THREADS);
        copy_kv_tile(ks, vs, src, t, ptid);
        lk_cp_async_commit();
        if (t >= RING_AHEAD) {
            WAIT_FOR_TILE();
            publish_tile(ks, t - RING_AHEAD, src.Sk, b, kr, ptid);
        }
    }
    lk_cp_async_wait(0);
    for (int u = ntiles > RING_AHEAD ? ntiles - RING_AHEAD : 0; u < ntiles; u++)
        publish_tile(ks, u, src.Sk, b, kr, ptid);
}
#endif

/* A computing warp is done with tile u (its last product reading it has finished): with PRODUCER
 * the slot may be refilled, if a tile is left for it. */
LK_INLINE void release_tile(int u, int ntiles)
{
#if PRODUCER
    if (u + STAGES < ntiles)
        lk_bar_arrive(BAR_EMPTY + u % STAGES, THREADS);
#endif
}

LK_KERNEL LK_WG_SIZE(THREADS) void attention_fwd_wgmma(
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
    /* the host passes the size (lk_attention_fwd_local_bytes) */
    LK_DYN_SHARED(ushort, smem, (2 * STAGES * BLOCK_N + BLOCK_M) * D);
    LK_LOCAL_PTR lk_t *ks = (LK_LOCAL_PTR lk_t *)smem;
    LK_LOCAL_PTR lk_t *vs = ks + STAGES * TILE_HALVES;
    LK_LOCAL_PTR lk_t *qs = vs + STAGES * TILE_HALVES;

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
    const int row0 = get_group_id(0) * BLOCK_M, wrow0 = row0 + warp * 16;
    const int bh = get_group_id(1), b = bh / Hq, hq = bh % Hq, hk = hq / (Hq / Hkv);
    const int shift = Sk - Sq; /* causal: row r sees keys j <= r + shift */
    int ntiles, first_masked;
    key_tiles(row0, Sq, Sk, causal, &ntiles, &first_masked);
    const kv_source src = {k, v, k_off + b * ksb + hk * ksh, kss, v_off + b * vsb + hk * vsh, vss, Sk};
#if ROPE_K || PRODUCER
    const lk_rope_rows kr = {freq, table, k_ids, ki_off, ki_sb, ki_ss, k_pos_offset, layout};
#endif
#if PRODUCER
    if (warp >= WARPS) {
        produce(ks, vs, src, ntiles, b, kr, tid - CONSUMERS);
        return;
    }
#endif

    /* Q: each warp its 16 rows (rotated) into qs; published by the first tile's fence and barrier,
     * with PRODUCER by the warpgroup's own */
    const long q_base = q_off + b * qsb + hq * qsh;
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        int row = wrow0 + g + 8 * h;
        float x[KC][4];
        load_q_row(x, q, q_base + (long)(row < Sq ? row : 0) * qss, row, Sq, t4, b, freq, layout, q_ids, qi_off,
                   qi_sb, qi_ss, q_pos_offset);
        #pragma unroll
        for (int kc = 0; kc < KC; kc++)
            #pragma unroll
            for (int e = 0; e < 4; e += 2)
                *(LK_LOCAL_PTR uint *)(qs + TILE_OFF(row - row0, frag_col(kc, t4, e))) =
                    lk_pack_half2(x[kc][e], x[kc][e + 1]);
    }
#if PRODUCER
    lk_fence_proxy_async();
    lk_bar_sync(BAR_Q + warp / 4, 128);
#endif
    /* this warpgroup's 64 rows of qs as A, and where the k16 chunks of the operands start */
    const uint q_addr = LK_SMEM_ADDR(qs + (warp / 4) * 64 * D);
    const uint k_addr = LK_SMEM_ADDR(ks), v_addr = LK_SMEM_ADDR(vs);

    float acc[MT][DT][4], m[MT][2], l[MT][2];
    #pragma unroll
    for (int dt = 0; dt < DT; dt++)
        #pragma unroll
        for (int e = 0; e < 4; e++)
            acc[0][dt][e] = 0.0f;
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        m[0][h] = NEG_INF;
        l[0][h] = 0.0f;
    }

#if !PRODUCER
    ring_start(ks, vs, src, ntiles, tid);
#endif
    uint pa[PC][MT][4]; /* the tile's P as A fragments (OVERLAP: multiplied by its V during the next S) */
    for (int t = 0; t < ntiles; t++) {
        const int slot = t % STAGES;
#if PRODUCER
        lk_bar_sync(BAR_FULL + slot, THREADS);
#else
        ring_wait(); /* the tile's copies (and, first, the Q stores) visible to the products */
#endif
#if ROPE_K && !PRODUCER
        rotate_tile(ks + slot * TILE_HALVES, t * BLOCK_N, Sk, b, kr, tid);
        lk_fence_proxy_async();
        lk_barrier();
#endif
        float sc[MT][NT][4];
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
        lk_wgmma_fence(); /* sc (read by the last softmax) and, with OVERLAP, acc and pa were written here */
        issue_scores(sc, q_addr, k_addr + slot * TILE_HALVES * 2);
        lk_wgmma_commit();
#if OVERLAP
        if (t > 0) { /* the last tile's P V runs beside this S and its softmax */
            issue_pv(acc, pa, v_addr + ((t - 1) % STAGES) * TILE_HALVES * 2);
            lk_wgmma_commit();
        }
#endif
#if !PRODUCER /* the next tile's copies issued while the products run (perf-notes 28) */
        ring_refill(ks, vs, src, t, ntiles, tid);
#endif
#if OVERLAP
        if (t > 0)
            lk_wgmma_wait1();
        else
            lk_wgmma_wait0();
#else
        lk_wgmma_wait0();
#endif
        lk_wgmma_hold(&sc[0][0][0], NT * 4);

        float alpha[MT][2];
        int moved[MT][2];
        #pragma unroll
        for (int h = 0; h < 2; h++)
            moved[0][h] = softmax_row(sc, m, l, 0, h, &alpha[0][h], wrow0, g, t4, t * BLOCK_N, t >= first_masked,
                                      causal, shift, Sk, scale_log2);
#if OVERLAP
        lk_wgmma_wait0(); /* the last tile's P V, before acc is rescaled */
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
        if (t > 0)
            release_tile(t - 1, ntiles);
#endif
        #pragma unroll
        for (int h = 0; h < 2; h++)
            if (moved[0][h])
                rescale_row(acc, 0, h, alpha[0][h]);
        #pragma unroll
        for (int pc = 0; pc < PC; pc++)
            p_fragments(pa[pc], sc, pc);
#if !PRODUCER
        ring_mid(ks, src, t, ntiles, tid);
#endif
#if !OVERLAP
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
        lk_wgmma_fence(); /* acc was rescaled and the P fragments written by this thread */
        issue_pv(acc, pa, v_addr + slot * TILE_HALVES * 2);
        lk_wgmma_commit();
        lk_wgmma_wait0();
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
        release_tile(t, ntiles);
#endif
    }
#if OVERLAP
#if !PRODUCER
    ring_finish();
#endif
    if (ntiles > 0) { /* the last tile's P V */
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
        lk_wgmma_fence();
        issue_pv(acc, pa, v_addr + ((ntiles - 1) % STAGES) * TILE_HALVES * 2);
        lk_wgmma_commit();
        lk_wgmma_wait0();
        lk_wgmma_hold(&acc[0][0][0], DT * 4);
    }
#endif

    store_rows(o, o_off + b * osb + hq * osh, oss, lse, l_off + b * lsb + hq * lsh, lss, acc, m, l, wrow0, g, t4, Sq);
}
