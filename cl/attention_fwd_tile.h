/* attention_fwd_tile.h: what the two tensor-core attention forwards share, per lane of a warp that
 * owns MT m16 tiles of query rows (rows wrow0 + 16 mt + g + 8 h, lane = 4 g + t4, as mma.m16n8k16
 * C fragments): the K/V tile copies and the in-place rotation of a K tile, the Q rows as A
 * fragment columns, the online softmax of one key tile and the final store.
 * attention_fwd_mma.cl (mma.sync) and attention_fwd_wgmma.cl (Hopper wgmma) include it after
 * defining D, BLOCK_M, BLOCK_N, STAGES, THREADS, MT, NT (n8 key tiles), DT (n8 d tiles), KC (k16
 * d chunks), HALF, NEG_INF, the RoPE switches, and their tile layout in shared memory:
 *   TILE_HALVES                one K or V slot of the ring, in halves
 * and optionally OVERLAP (0: the ring reads each tile within its own iteration).
 *   TILE_ROW(c), TILE_COL8(c)  the row and first column of 16-byte copy c of a tile (its order
 *                              of copies: consecutive work-items fill what they write next to)
 *   TILE_OFF(n, d)             the element (row n, column d) of a tile, in halves
 * and optionally COPY_THREADS, the work-items that copy (and rotate) the tiles (default THREADS;
 * the wgmma kernel's producer warpgroup: 128), tid then counting from the first of them. */
#ifndef LK_ATTENTION_FWD_TILE_H
#define LK_ATTENTION_FWD_TILE_H

#ifndef OVERLAP
#define OVERLAP 0
#endif
/* Tiles in flight beyond the one being waited for: STAGES - 1, or one fewer where a tile's V is
 * still read while the next tile's S runs (OVERLAP, attention_fwd_wgmma.cl). */
#define RING_AHEAD (STAGES - 1 - OVERLAP)
#define WAIT_FOR_TILE() lk_cp_async_wait_ahead(RING_AHEAD)
#ifndef COPY_THREADS
#define COPY_THREADS THREADS
#endif

/* Issue the copies of BLOCK_N rows from row j0 of a [S, D] matrix (row stride ss) into dst. A
 * loop, not unrolled (as rotate_tile's): unrolled, its addresses stay live in registers across
 * the tile's math (ptxas sm_90, hd128, BLOCK_M 128, WARPS 4, BLOCK_N 64, QSMEM 1: 52 bytes of
 * spills plain and with ROPE_Q, 88 with ROPE_K; as loops 12, 24 and 40). */
LK_INLINE void copy_tile(LK_LOCAL_PTR lk_t *dst, const LK_GLOBAL lk_t *src, long base, long ss, int j0, int S,
                         int tid)
{
    #pragma unroll 1
    for (int c = tid; c < BLOCK_N * (D / 8); c += COPY_THREADS) {
        int n = TILE_ROW(c), d8 = TILE_COL8(c), j = j0 + n;
        const LK_GLOBAL lk_t *p = src + base + (long)(j < S ? j : 0) * ss + d8;
        lk_cp_async16(LK_SMEM_ADDR(dst + TILE_OFF(n, d8)), LK_GLOBAL_ADDR(p), j < S ? 16 : 0);
    }
}

/* Where the K and V rows of a work-group's (batch, kv head) come from. */
typedef struct kv_source {
    const LK_GLOBAL lk_t *k, *v;
    long k_base, kss, v_base, vss;
    int Sk;
} kv_source;

/* Issue the copies of key tile t's K (V) rows into its ring slot, t % STAGES (not committed). */
LK_INLINE void copy_k_tile(LK_LOCAL_PTR lk_t *ks, kv_source src, int t, int tid)
{
    copy_tile(ks + (t % STAGES) * TILE_HALVES, src.k, src.k_base, src.kss, t * BLOCK_N, src.Sk, tid);
}

LK_INLINE void copy_v_tile(LK_LOCAL_PTR lk_t *vs, kv_source src, int t, int tid)
{
    copy_tile(vs + (t % STAGES) * TILE_HALVES, src.v, src.v_base, src.vss, t * BLOCK_N, src.Sk, tid);
}

LK_INLINE void copy_kv_tile(LK_LOCAL_PTR lk_t *ks, LK_LOCAL_PTR lk_t *vs, kv_source src, int t, int tid)
{
    copy_k_tile(ks, src, t, tid);
    copy_v_tile(vs, src, t, tid);
}

/* The ring of STAGES K/V slots (tile t in slot t % STAGES). Per iteration t, every work-item:
 *   ring_wait(t)      its copies of tile t have landed, then RING_PUBLISH and a barrier: tile t
 *                     complete for all; every work-item is past iteration t - 1, so the slot of
 *                     tile t - 1 - OVERLAP is no longer read
 *   ring_refill(t)    tile t + RING_AHEAD into that slot: best placed after asynchronous products
 *                     are issued, so the copies' issue overlaps them
 *   S, softmax, ring_mid(t), P V
 * One barrier an iteration. Where no whole tile can run ahead (RING_AHEAD 0), K and V go in turn:
 *
 * RING_SPLIT (STAGES 1): one K slot and one V slot, refilled as FlashAttention-2 does: ring_wait
 * waits for K(t), ring_refill issues V(t) (its slot was last read by P V(t - 1), before the
 * barrier), and ring_mid waits for V(t), publishes it with a barrier (after which S(t) no longer
 * reads the K slot) and issues K(t + 1). So V(t) lands beside S(t) and K(t + 1) beside P V(t),
 * in the shared memory of one stage; two barriers an iteration.
 *
 * RING_STAGGER (OVERLAP with STAGES 2, where P V(t - 1) runs in iteration t): K runs one tile
 * ahead of V. ring_wait waits for K(t) and V(t - 1), both issued in iteration t - 1; after the
 * barrier ring_refill issues K(t + 1) into the slot S(t - 1) read and V(t) into the slot
 * P V(t - 2) read, all copies overlapping this iteration's products; ring_finish publishes the
 * last V before the last P V.
 *
 * The kernel defines RING_PUBLISH() for what must follow its shared-memory writes before a barrier
 * (the wgmma kernel's proxy fence). */
#define RING_SPLIT (STAGES == 1)
#define RING_STAGGER (OVERLAP && STAGES == 2)
#ifndef RING_PUBLISH
#define RING_PUBLISH()
#endif

/* The ring's first RING_AHEAD tiles (RING_AHEAD 0: tile 0's K), one commit group each (empty ones
 * past ntiles). */
LK_INLINE void ring_start(LK_LOCAL_PTR lk_t *ks, LK_LOCAL_PTR lk_t *vs, kv_source src, int ntiles, int tid)
{
#if RING_AHEAD == 0
    if (ntiles > 0)
        copy_k_tile(ks, src, 0, tid);
    lk_cp_async_commit();
#else
    #pragma unroll
    for (int s = 0; s < RING_AHEAD; s++) {
        if (s < ntiles)
            copy_kv_tile(ks, vs, src, s, tid);
        lk_cp_async_commit();
    }
#endif
}

/* This work-item's copies but the newest `ahead` commit groups landed, published (RING_PUBLISH),
 * then a barrier: every work-item's are visible to all. */
LK_INLINE void ring_land(int ahead)
{
    lk_cp_async_wait_ahead(ahead);
    RING_PUBLISH();
    lk_barrier();
}

/* Before tile t: its copies landed for the whole work-group (RING_SPLIT: its K; RING_STAGGER: its
 * K and the last tile's V). Tiles up to t + RING_AHEAD - 1 are committed by now, so RING_AHEAD - 1
 * groups may stay in flight. */
LK_INLINE void ring_wait(void)
{
    ring_land(RING_AHEAD - 1);
}

/* After tile t's barrier: issue tile t + RING_AHEAD (RING_SPLIT: tile t's V; RING_STAGGER: tile
 * t + 1's K and tile t's V) and commit it (an empty group past ntiles keeps the count). */
LK_INLINE void ring_refill(LK_LOCAL_PTR lk_t *ks, LK_LOCAL_PTR lk_t *vs, kv_source src, int t, int ntiles, int tid)
{
#if RING_STAGGER
    if (t + 1 < ntiles)
        copy_k_tile(ks, src, t + 1, tid);
#endif
#if RING_AHEAD == 0
    copy_v_tile(vs, src, t, tid);
#else
    if (t + RING_AHEAD < ntiles)
        copy_kv_tile(ks, vs, src, t + RING_AHEAD, tid);
#endif
    lk_cp_async_commit();
}

/* Between tile t's S and its P V (RING_SPLIT): V(t) landed and published, K(t + 1) issued. */
LK_INLINE void ring_mid(LK_LOCAL_PTR lk_t *ks, kv_source src, int t, int ntiles, int tid)
{
#if RING_SPLIT
    ring_land(0);
    if (t + 1 < ntiles)
        copy_k_tile(ks, src, t + 1, tid);
    lk_cp_async_commit();
#endif
}

/* After the last iteration (RING_STAGGER): the last tile's V landed and published. */
LK_INLINE void ring_finish(void)
{
#if RING_STAGGER
    ring_land(0);
#endif
}

/* The key tiles that rows row0 .. row0 + BLOCK_M - 1 (those below Sq) see: *ntiles tiles of
 * BLOCK_N keys, those from *first_masked on reaching past Sk or past the first row's causal
 * limit (row r sees keys j <= r + Sk - Sq). */
LK_INLINE void key_tiles(int row0, int Sq, int Sk, int causal, int *ntiles, int *first_masked)
{
    const int shift = Sk - Sq, last_row = (row0 + BLOCK_M < Sq ? row0 + BLOCK_M : Sq) - 1;
    int kv_end = causal ? last_row + shift + 1 : Sk;
    kv_end = kv_end < Sk ? kv_end : Sk;
    *ntiles = kv_end > 0 ? (kv_end + BLOCK_N - 1) / BLOCK_N : 0;
    int clear_end = causal ? row0 + shift + 1 : Sk;
    clear_end = clear_end < Sk ? clear_end : Sk;
    *first_masked = clear_end > 0 ? clear_end / BLOCK_N : 0;
}

#if ROPE_K
/* Rotate the K tile in shared memory in place (positions j0 ..). */
LK_INLINE void rotate_tile(LK_LOCAL_PTR lk_t *kt, int j0, int Sk, int b, lk_rope_rows kr, int tid)
{
    #pragma unroll 1
    for (int idx = tid; idx < BLOCK_N * HALF; idx += COPY_THREADS) {
        int n = idx / HALF, i = idx % HALF, j = j0 + n;
        if (j >= Sk)
            continue;
        int d1 = lk_rope_first(kr.layout, i, D), d2 = lk_rope_second(kr.layout, i, D);
        float c, s;
#if ROPE_TABLE
        lk_rope_rows_table(kr, j, i, HALF, &c, &s);
#else
        lk_sincos_approx(lk_rope_rows_angle(kr, b, j, i), &s, &c);
#endif
        float x1 = lk_ld(kt, TILE_OFF(n, d1)), x2 = lk_ld(kt, TILE_OFF(n, d2));
        lk_rope_rotate(&x1, &x2, c, s);
        lk_st(kt, TILE_OFF(n, d1), x1);
        lk_st(kt, TILE_OFF(n, d2), x2);
    }
}
#endif

/* Column of element e (0..3) of chunk kc held by lane quad index t in an A fragment row. */
LK_INLINE int frag_col(int kc, int t, int e)
{
    return kc * 16 + (e >> 1) * 8 + 2 * t + (e & 1);
}

/* Load query row `row` (zeros beyond Sq) as this lane's A-fragment columns, rotated when ROPE_Q:
 * x[kc][e] = q[row][frag_col(kc, t, e)]. */
LK_INLINE void load_q_row(float x[KC][4], const LK_GLOBAL lk_t *q, long base, int row, int Sq, int t, int b,
                          const LK_GLOBAL float *freq, int layout, const LK_GLOBAL int *ids, long ids_off,
                          long ids_sb, long ids_ss, long offset)
{
    #pragma unroll
    for (int kc = 0; kc < KC; kc++)
        #pragma unroll
        for (int e = 0; e < 4; e++)
            x[kc][e] = row < Sq ? lk_ld(q, base + frag_col(kc, t, e)) : 0.0f;
#if ROPE_Q
    int pos = lk_rope_position(ids, ids_off, ids_sb, ids_ss, b, row < Sq ? row : 0, offset);
    float c, s;
    if (layout) { /* interleaved: pair i = (2i, 2i+1), the two halves of one register */
        #pragma unroll
        for (int kc = 0; kc < KC; kc++)
            #pragma unroll
            for (int e = 0; e < 4; e += 2) {
                int i = frag_col(kc, t, e) / 2;
                lk_sincos_approx(lk_rope_angle(pos, freq[2 * i], freq[2 * i + 1]), &s, &c);
                lk_rope_rotate(&x[kc][e], &x[kc][e + 1], c, s);
            }
    } else { /* half-split: pair i = (i, i + D/2), chunk kc pairs with chunk kc + KC/2 */
        #pragma unroll
        for (int kc = 0; kc < KC / 2; kc++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int i = frag_col(kc, t, e);
                lk_sincos_approx(lk_rope_angle(pos, freq[2 * i], freq[2 * i + 1]), &s, &c);
                lk_rope_rotate(&x[kc][e], &x[kc + KC / 2][e], c, s);
            }
    }
#endif
}

/* Online softmax of row (mt, h) of the lane (row wrow0 + 16 mt + g + 8 h) over the key tile from
 * j0: its raw scores in sc become P in place, its m and l move on. Returns 1 when the row's max
 * moved, with *alpha the factor its accumulator row must be scaled by. masked: the tile reaches
 * past Sk or past the first row's causal limit. Scores are scaled by scale_log2 (exp2 domain). */
LK_INLINE int softmax_row(float sc[MT][NT][4], float m[MT][2], float l[MT][2], int mt, int h, float *alpha, int wrow0,
                          int g, int t4, int j0, int masked, int causal, int shift, int Sk, float scale_log2)
{
    int row = wrow0 + mt * 16 + g + 8 * h;
    int row_end = causal ? row + shift + 1 : Sk;
    row_end = row_end < Sk ? row_end : Sk;
    /* the max of the raw scores (scale_log2 > 0 keeps the order); m is in the scaled domain */
    float raw = NEG_INF;
    #pragma unroll
    for (int nt = 0; nt < NT; nt++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
            if (masked && j0 + nt * 8 + 2 * t4 + e >= row_end)
                sc[mt][nt][2 * h + e] = NEG_INF;
            raw = lk_fmax(raw, sc[mt][nt][2 * h + e]);
        }
    raw = lk_fmax(raw, lk_shfl_xor(raw, 1));
    raw = lk_fmax(raw, lk_shfl_xor(raw, 2));
    float mx = lk_fmax(m[mt][h], raw * scale_log2);
    float base = mx == NEG_INF ? 0.0f : mx; /* a row with nothing visible yet stays at zero */
    float sum = 0.0f;
    #pragma unroll
    for (int nt = 0; nt < NT; nt++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
            float p = lk_exp2_approx(lk_fma(sc[mt][nt][2 * h + e], scale_log2, -base));
            sc[mt][nt][2 * h + e] = p;
            sum += p;
        }
    int moved = mx != m[mt][h]; /* rarely, after the first tiles */
    *alpha = 1.0f;
    if (moved) {
        *alpha = lk_exp2_approx(m[mt][h] - base);
        l[mt][h] *= *alpha;
        m[mt][h] = mx;
    }
    l[mt][h] += sum;
    return moved;
}

/* Row (mt, h) of the lane's accumulator times alpha. */
LK_INLINE void rescale_row(float acc[MT][DT][4], int mt, int h, float alpha)
{
    #pragma unroll
    for (int dt = 0; dt < DT; dt++) {
        acc[mt][dt][2 * h] *= alpha;
        acc[mt][dt][2 * h + 1] *= alpha;
    }
}

/* The online softmax of the key tile, each row's accumulator rescaled where its max moved. */
LK_INLINE void softmax_tile(float sc[MT][NT][4], float acc[MT][DT][4], float m[MT][2], float l[MT][2], int wrow0,
                            int g, int t4, int j0, int masked, int causal, int shift, int Sk, float scale_log2)
{
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float alpha;
            if (softmax_row(sc, m, l, mt, h, &alpha, wrow0, g, t4, j0, masked, causal, shift, Sk, scale_log2))
                rescale_row(acc, mt, h, alpha);
        }
}

/* P of k16 chunk pc of the key tile (sc after softmax_tile) as the A fragments pa[mt]. */
LK_INLINE void p_fragments(uint pa[MT][4], float sc[MT][NT][4], int pc)
{
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            pa[mt][h] = lk_pack_half2(sc[mt][2 * pc][2 * h], sc[mt][2 * pc][2 * h + 1]);
            pa[mt][2 + h] = lk_pack_half2(sc[mt][2 * pc + 1][2 * h], sc[mt][2 * pc + 1][2 * h + 1]);
        }
}

/* o = acc / l for the lane's rows below Sq, and (lse given) lse = (m + log2 l) ln 2. */
LK_INLINE void store_rows(LK_GLOBAL lk_t *o, long o_base, long oss, LK_GLOBAL float *lse, long l_base, long lss,
                          float acc[MT][DT][4], float m[MT][2], float l[MT][2], int wrow0, int g, int t4, int Sq)
{
    #pragma unroll
    for (int mt = 0; mt < MT; mt++)
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int row = wrow0 + mt * 16 + g + 8 * h;
            float sum = l[mt][h];
            sum += lk_shfl_xor(sum, 1);
            sum += lk_shfl_xor(sum, 2);
            if (row >= Sq)
                continue;
            float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            #pragma unroll
            for (int dt = 0; dt < DT; dt++)
                #pragma unroll
                for (int e = 0; e < 2; e++)
                    lk_st(o, o_base + (long)row * oss + dt * 8 + 2 * t4 + e, acc[mt][dt][2 * h + e] * inv);
            if (lse && t4 == 0)
                lse[l_base + (long)row * lss] = sum > 0.0f ? (m[mt][h] + lk_log2(sum)) * 0.69314718055994531f : NEG_INF;
        }
}

#endif
