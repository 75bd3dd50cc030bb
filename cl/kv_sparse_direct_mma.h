/* kv_sparse_direct_mma.h: kv_sparse_decode.cl's DIRECT = 2 variant for plain caches (KVH 1, no
 * rotation, no RoPE): the sparse decode on tensor cores (decode_mma.h; NVIDIA cc 8+, f16 q,
 * QG <= 8, BLOCK_N a multiple of 16, WG a multiple of 32). Layout: kv_sparse_format.h.
 *
 * The pair readers rank an element's bit in its tile's bitmap and read its code from the block's
 * stream (fp16 survivors as they are, quantized ones with the tile's scale and minimum); a
 * cleared bit is 0. Sinks and window tokens come from the dense store.
 *   keys    (k[n][c], k[n+8][c]): key tile c (rows of the block): bm[c], pre[c] in local memory
 *           (lk_sp_block_prefix, once per block); codes pre[c] + rank(r), pre[c] + rank(r + 8)
 *   values  (v[n][c], v[n][c+8]): value tile (row n, 64-channel tile c / 64): its bitmap and
 *           first code staged per tile in vrow_bm / vrow_first [BLOCK_N][D / 64]; c and c + 8 lie in the
 *           same 64-channel tile (c % 16 < 8)
 */
#ifndef LK_KV_SPARSE_DIRECT_MMA_H
#define LK_KV_SPARSE_DIRECT_MMA_H

#include "mma_nv.h"

#define SP_MMA_LOCALS                                                   \
    LK_SHARED ulong vrow_bm[BLOCK_N * (D / 64)];                            \
    LK_SHARED int vrow_first[BLOCK_N * (D / 64)]

/* The cache as the mma phases read it for tile tl of head h (block i, first row r0). */
typedef struct sp_mma_src {
    const LK_LOCAL_PTR ulong *bm, *vbm;
    const LK_LOCAL_PTR int *pre, *vfirst;
    lk_sp_stream ks, vs;
    lk_sp_geom g;
    lk_sp_tile tl;
    long h, kwbase, vwbase;
    int i, r0;
} sp_mma_src;

LK_INLINE sp_mma_src sp_mma_source(const LK_LOCAL_PTR ulong *bm, const LK_LOCAL_PTR int *pre,
                                   const LK_LOCAL_PTR ulong *vbm, const LK_LOCAL_PTR int *vfirst, lk_sp_stream ks,
                                   lk_sp_stream vs, lk_sp_geom g, int b, int hk, lk_sp_tile tl)
{
    sp_mma_src s = {bm, vbm, pre, vfirst, ks, vs, g, tl, (long)b * g.Hkv + hk, 0, 0, 0, 0};
    s.i = (int)((tl.p0 - lk_sp_sinks(g)) / LK_SP_BLOCK);
    s.r0 = (int)((tl.p0 - lk_sp_sinks(g)) % LK_SP_BLOCK);
    if (tl.sparse) {
        s.kwbase = lk_sp_block_words(ks, g, s.h, s.i);
        s.vwbase = lk_sp_block_words(vs, g, s.h, s.i);
    }
    return s;
}

/* The value tiles' bitmaps and first codes of a compressed tile's rows (ends with a barrier). */
LK_INLINE void sp_mma_stage_values(const sp_mma_src *s, LK_LOCAL_PTR ulong *vbm, LK_LOCAL_PTR int *vfirst)
{
    for (int n0 = 0; n0 < BLOCK_N; n0 += WG) {
        int n = n0 + LK_DEC_TID;
        if (n >= s->tl.ntok)
            continue;
        long tiles = (s->h * s->g.nb_cap + s->i) * D + (long)(s->r0 + n) * (D / 64);
        int first = (s->r0 + n) * s->g.keep;
        for (int u = 0; u < D / 64; u++) {
            ulong m = s->vs.bitmap[tiles + u];
            vbm[n * (D / 64) + u] = m;
            vfirst[n * (D / 64) + u] = first;
            first += lk_popcount64(m);
        }
    }
    lk_barrier();
}

/* Elements e and e2 of a tile (bits of m, codes first + rank; 0 for a cleared bit), dequantized
 * with the tile's parameters (ptile), as an f16x2. */
LK_INLINE uint sp_mma_pair(ulong m, int e, int e2, int first, const LK_GLOBAL uint *words, long wbase,
                           const LK_GLOBAL half *params, long ptile, int bits)
{
    float scale, min;
    lk_sp_tile_params(params, ptile, bits, &scale, &min);
    float a = (m >> e) & 1 ? lk_sp_code(words, wbase, first + lk_sp_rank(m, e), bits, scale, min) : 0.0f;
    float b = (m >> e2) & 1 ? lk_sp_code(words, wbase, first + lk_sp_rank(m, e2), bits, scale, min) : 0.0f;
    return lk_pack_half2(a, b);
}

/* Dense element c of tile row n (0 past the tile's tokens). */
LK_INLINE float sp_mma_dense(const sp_mma_src *s, const LK_GLOBAL half *dense, int n, int c)
{
    if (n >= s->tl.ntok)
        return 0.0f;
    long slot = lk_sp_dense_slot(s->tl.p0 + n, s->g.sinks, s->g.ring);
    return lk_half_to_float(dense, (s->h * (s->g.sinks + s->g.ring) + slot) * D + c);
}

/* (k[n][c], k[n + 8][c]). */
LK_INLINE uint dec_mma_key(const sp_mma_src *s, int n, int c)
{
    if (!s->tl.sparse)
        return lk_pack_half2(sp_mma_dense(s, s->ks.dense, n, c), sp_mma_dense(s, s->ks.dense, n + 8, c));
    return sp_mma_pair(s->bm[c], s->r0 + n, s->r0 + n + 8, s->pre[c], s->ks.words, s->kwbase, s->ks.params,
                       (s->h * s->g.nb_cap + s->i) * D + c, KBITS);
}

/* (v[n][c], v[n][c + 8]). */
LK_INLINE uint dec_mma_value(const sp_mma_src *s, int n, int c)
{
    if (!s->tl.sparse)
        return lk_pack_half2(sp_mma_dense(s, s->vs.dense, n, c), sp_mma_dense(s, s->vs.dense, n, c + 8));
    const int t = n * (D / 64) + c / 64;
    return sp_mma_pair(s->vbm[t], c % 64, c % 64 + 8, s->vfirst[t], s->vs.words, s->vwbase, s->vs.params,
                       (s->h * s->g.nb_cap + s->i) * D + (long)(s->r0 + n) * (D / 64) + c / 64, VBITS);
}

#define DEC_MMA_SRC sp_mma_src
#include "decode_mma.h"

#endif
